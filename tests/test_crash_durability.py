"""kill -9 under load: every acknowledged write survives, and no retried write lands twice.

A real `steward serve` (gunicorn master + worker, its own process group) runs on a fresh
database. Client threads write events continuously, each logical write with its own
Idempotency-Key, retrying the same key after any failure (refused connection, reset, 5xx, 409
in progress) until it is acknowledged. Meanwhile the whole server is SIGKILLed and restarted
several times, as a container OOM kill or `docker kill` would do. Afterwards, each logical write
is in the database exactly once, under the id its acknowledgement carried.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from fakes.openai_server import FakeOpenAI
from steward.core import auth, migrations
from support import create_database, drop_database

KILLS = 4
WRITERS = 4


@dataclass
class Ledger:
    acked: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> event id in the 201
    replays: int = 0
    retries: int = 0
    errors: Counter = field(default_factory=Counter)
    unexpected: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "steward.cli", "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health/live", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "server did not come up:\n" + self.log.read_text()[-3000:]
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole group (master and worker at once): nothing gets to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _writer(
    base: str, api_key: str, client_id: str, name: str, stop: threading.Event, abort: threading.Event, ledger: Ledger
) -> None:
    session = requests.Session()
    session.headers["X-API-Key"] = api_key
    n = 0
    while not stop.is_set():
        key = f"{name}-{n}"
        body = {
            "event_type": "durability",
            "event_source": "crash-test",
            "client_id": client_id,
            "payload": {"key": key},
        }
        while not abort.is_set():  # the same write, with the same key, until it is acknowledged
            try:
                response = session.post(
                    base + "/api/v1/events", json=body, headers={"Idempotency-Key": key}, timeout=10
                )
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            else:
                if response.status_code == 201:
                    with ledger.lock:
                        ledger.acked[key] = response.json()["id"]
                        ledger.replays += response.headers.get("Idempotent-Replayed") == "true"
                    break
                if response.status_code not in (409, 500, 502, 503):  # not a transient failure: stop and report
                    with ledger.lock:
                        ledger.unexpected.append((key, response.status_code, response.text[:300]))
                    return
                outcome = str(response.status_code)
            with ledger.lock:
                ledger.retries += 1
                ledger.errors[outcome] += 1
            time.sleep(0.05)
            session = requests.Session()  # a fresh connection after a failure
            session.headers["X-API-Key"] = api_key
        n += 1


def test_acknowledged_writes_survive_sigkill_and_none_is_applied_twice(admin_pg_url, tmp_path):
    url = create_database(admin_pg_url)
    migrations.migrate(url)
    with psycopg.connect(url) as conn:
        api_key = auth.create_key(conn, "durability", ["read", "write"])[1]
    port = _free_port()
    embeddings = FakeOpenAI(dimension=384).start()  # survives the server's deaths; no model to reload each time
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STEWARD_", "DATABASE_", "QDRANT_", "REDIS_", "EMBEDDINGS_", "LLM_"))
    }
    env.update(
        DATABASE_URL=url,
        STEWARD_PORT=str(port),
        STEWARD_DATA_DIR=str(tmp_path / "var"),
        STEWARD_FIRST_RUN_KEY="false",
        EMBEDDINGS_BASE_URL=embeddings.url,
        EMBEDDINGS_MODEL="fake-384",
        EMBEDDINGS_DIMENSION="384",
    )
    server = Server(env, port, tmp_path / "serve.log")
    ledger, stop, abort = Ledger(), threading.Event(), threading.Event()
    client_id = f"crash-{uuid.uuid4().hex[:8]}"
    threads = [
        threading.Thread(
            target=_writer,
            args=(f"http://127.0.0.1:{port}", api_key, client_id, f"w{i}", stop, abort, ledger),
            daemon=True,
        )
        for i in range(WRITERS)
    ]
    rng = random.Random(7)
    try:
        server.start()
        for thread in threads:
            thread.start()
        acked_before_kill = []
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 2.5))
            with ledger.lock:
                acked_before_kill.append(len(ledger.acked))
            server.kill()
            time.sleep(rng.uniform(0.0, 0.5))
            server.start()
        time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a writer never got its last write acknowledged"
        assert not ledger.unexpected, f"answers that are neither success nor a transient failure: {ledger.unexpected}"

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT payload->>'key', id::text FROM events WHERE client_id = %s", (client_id,)
            ).fetchall()
        stored = Counter(key for key, _ in rows)
        twice = {k: c for k, c in stored.items() if c > 1}
        assert not twice, f"applied more than once: {twice}"
        lost = set(ledger.acked) - set(stored)
        assert not lost, f"acknowledged but missing: {sorted(lost)[:10]}"
        assert set(stored) == set(ledger.acked), "every write in the database was acknowledged to its writer"
        assert dict(rows) == ledger.acked, "each acknowledgement (first or replayed) names the stored event"
        assert server.starts == KILLS + 1 and len(ledger.acked) > 30
        assert ledger.retries > 0, "the kills never hit a request in flight; the test proved nothing"
        print(
            f"\n{len(ledger.acked)} writes acknowledged across {KILLS} SIGKILLs; {ledger.retries} retries "
            f"({dict(ledger.errors)}), {ledger.replays} answered by Idempotency-Key replay"
        )
    finally:
        stop.set()
        abort.set()
        server.stop()
        embeddings.stop()
        drop_database(admin_pg_url, url)
