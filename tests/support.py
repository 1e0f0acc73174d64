"""Test helpers shared by fixtures and test modules (plain code, not fixtures).

They live here rather than in conftest.py because `tests/e2e/conftest.py` also exists: two
modules named `conftest` cannot both be imported by name in one session.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

from steward.core import auth, migrations, prompts
from steward.core.config import Settings


def _machine_postgres() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return None


def _with_database(url: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def create_database(admin_url: str) -> str:
    name = f"steward_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_database(admin_url: str) -> str:
    """A new database with every migration applied and the prompts seeded, as the app expects."""
    url = create_database(admin_url)
    migrations.migrate(url)
    prompts.seed(url)
    return url


def make_settings(database_url: str, data_dir: Path, **overrides) -> Settings:
    values = dict(database_url=database_url, steward_data_dir=data_dir, steward_first_run_key=False)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Keys:
    read: str
    write: str
    admin: str

    @classmethod
    def create(cls, database_url: str, prefix: str = "test") -> Keys:
        """One key per scope level, stored in `database_url`."""
        levels = (("read", ["read"]), ("write", ["read", "write"]), ("admin", ["read", "write", "admin"]))
        with psycopg.connect(database_url) as conn:
            return cls(**{name: auth.create_key(conn, f"{prefix}-{name}", scopes)[1] for name, scopes in levels})


class Api:
    """A requests session bound to the live server, sending one API key by default."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if key:
            self.session.headers["X-API-Key"] = key

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@dataclass
class LiveServer:
    url: str
    keys: Keys

    def api(self, key: str | None = "write") -> Api:
        """An Api client using the named key ('read', 'write', 'admin'), a literal key, or None."""
        literal = getattr(self.keys, key, key) if key else None
        return Api(self.url, literal)
