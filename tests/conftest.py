"""Fixtures: a real Postgres database, the real app served over real HTTP, and API keys.

One database per test session (the machine's Postgres at 127.0.0.1:5432 when it answers, else
an embedded PostgreSQL), migrated from `sql/`. Data tables are truncated before each test; keys,
migrations and prompts stay. Tests isolate vectors by using fresh client ids.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from werkzeug.serving import make_server

from steward.app import create_app
from steward.core.config import Settings
from support import Api, Keys, LiveServer, _machine_postgres, drop_database, make_settings, migrated_database

KEEP_TABLES = {"schema_migrations", "prompt_templates", "api_keys"}


@pytest.fixture(scope="session")
def admin_pg_url(tmp_path_factory) -> str:
    """A URL to a Postgres server where tests may create databases."""
    url = _machine_postgres()
    if url:
        return url
    from steward.core.embedded_pg import embedded_database_url

    return embedded_database_url(tmp_path_factory.mktemp("embedded"))


@pytest.fixture(scope="session")
def database_url(admin_pg_url) -> Iterator[str]:
    url = migrated_database(admin_pg_url)
    yield url
    drop_database(admin_pg_url, url)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("steward-data")


@pytest.fixture(scope="session")
def settings(database_url, data_dir) -> Settings:
    return make_settings(database_url, data_dir)


@pytest.fixture(scope="session")
def app(settings):
    application = create_app(settings)
    yield application
    application.extensions["steward"].close()


@pytest.fixture(scope="session")
def keys(database_url) -> Keys:
    return Keys.create(database_url)


@pytest.fixture(scope="session")
def live_server(app, keys) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", keys=keys)
    server.shutdown()


@pytest.fixture
def api(live_server) -> Api:
    """A client with a read+write key."""
    return live_server.api("write")


@pytest.fixture
def db(database_url) -> Iterator[psycopg.Connection]:
    """A direct connection for assertions on what the API wrote (autocommit, dict rows)."""
    with psycopg.connect(database_url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


@pytest.fixture(autouse=True)
def _clean_tables(request) -> None:
    """Empty the data tables before each test that uses the database."""
    if not {"database_url", "app", "live_server", "api", "db"} & set(request.fixturenames):
        return
    database_url = request.getfixturevalue("database_url")
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            if r[0] not in KEEP_TABLES
        ]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


@pytest.fixture
def client_id() -> str:
    """A fresh client id, so vector data from other tests can never match."""
    return f"client-{uuid.uuid4().hex[:12]}"
