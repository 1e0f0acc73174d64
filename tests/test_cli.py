"""The `steward` command as a user runs it, in a subprocess with its own environment."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from support import create_database, drop_database

STEWARD = [sys.executable, "-m", "steward.cli"]
REPO = Path(__file__).resolve().parents[1]


def run(args, env_extra, cwd, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_", "QDRANT_", "REDIS_"))}
    env.update(env_extra)
    return subprocess.run([*STEWARD, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_keys_create_prints_the_key_alone_on_the_last_line(database_url, tmp_path, live_server):
    result = run(
        ["keys", "create", "--name", "n8n", "--scopes", "read,write"], {"DATABASE_URL": database_url}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"stw_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", key)
    assert live_server.api(key).get("/api/v1/events").status_code == 200
    listed = run(["keys", "list"], {"DATABASE_URL": database_url}, tmp_path).stdout
    assert "n8n" in listed and key not in listed
    prefix = key.split("_")[1]
    assert run(["keys", "revoke", prefix], {"DATABASE_URL": database_url}, tmp_path).returncode == 0
    assert live_server.api(key).get("/api/v1/events").status_code == 401


def test_keys_create_refuses_an_unknown_scope(database_url, tmp_path):
    result = run(["keys", "create", "--scopes", "root"], {"DATABASE_URL": database_url}, tmp_path)
    assert result.returncode != 0 and "unknown scope" in result.stderr


def test_serve_refuses_an_out_of_date_schema(admin_pg_url, tmp_path):
    url = create_database(admin_pg_url)
    try:
        result = run(["serve"], {"DATABASE_URL": url}, tmp_path, timeout=60)
        assert result.returncode != 0
        assert "version 0" in result.stderr and "steward migrate" in result.stderr
    finally:
        drop_database(admin_pg_url, url)


def test_a_bad_setting_stops_startup_with_the_variable_named(tmp_path):
    result = run(["migrate"], {"STEWARD_PORT": "not-a-port"}, tmp_path)
    assert result.returncode != 0 and "STEWARD_PORT" in result.stderr and "example" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_embedded_defaults_serve_the_api_with_a_first_run_key(tmp_path):
    """The README's first command, minus the install: embedded Postgres, Qdrant Edge, no keys."""
    env = {"STEWARD_DATA_DIR": str(tmp_path / "var"), "STEWARD_PORT": str(_free_port())}
    migrated = run(["migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert run(["migrate"], env, tmp_path).stdout.startswith("applied 0 migration(s)")
    out = (tmp_path / "serve.log").open("w+")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_"))}
    server = subprocess.Popen(
        [*STEWARD, "serve"], env={**full_env, **env}, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{env['STEWARD_PORT']}"
    try:
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline and ready is None:
            try:
                resp = requests.get(base + "/health/ready", timeout=5)
                ready = resp if resp.status_code == 200 else None
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        out.seek(0)
        log = out.read()
        assert ready is not None, f"/health/ready never answered 200 within 90 s:\n{log}"
        match = re.search(r"STEWARD_API_KEY=(stw_\S+)", log)
        assert match, log
        headers = {"X-API-Key": match.group(1)}
        body = {"event_type": "hello", "event_source": "readme", "client_id": "me"}
        # The first event loads the local embedding model (10-20 s on a busy 2-core machine).
        assert requests.post(base + "/api/v1/events", json=body, headers=headers, timeout=90).status_code == 201
        events = requests.get(base + "/api/v1/events", headers=headers, timeout=10).json()["items"]
        assert [e["event_type"] for e in events] == ["hello"]
        # The CLI attaches to the same embedded database while the server runs.
        created = run(["keys", "create", "--scopes", "read"], env, tmp_path)
        assert created.returncode == 0, created.stderr
        assert match.group(1) not in log.split("STEWARD_API_KEY=", 1)[0]  # printed once, where announced
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "STEWARD_API_KEY" not in run(["keys", "list"], env, tmp_path).stdout
