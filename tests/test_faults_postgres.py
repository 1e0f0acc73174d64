"""Postgres restarts under a running Steward: writes in flight fail cleanly (503 with Retry-After,
never a 500), requests while it is down fail fast the same way, the next requests after it returns
succeed without restarting Steward, and every write that was acknowledged is in the database.

The cluster is private to this module (initdb + pg_ctl on a free port), so stopping it touches
nothing else; `pg_ctl stop -m fast` ends every session at once, as a restart or failover does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
import requests
from fault_helpers import PrivatePostgres, serve

from fakes.openai_server import FakeOpenAI
from steward.app import create_app
from steward.core import auth, migrations
from support import Api, make_settings

pytestmark = pytest.mark.skipif(not PrivatePostgres.available(), reason="no PostgreSQL binaries to run a private one")

SLOW_TRIGGER = """
CREATE FUNCTION slow_marked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.event_type = 'slow' THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$;
CREATE TRIGGER slow_marked BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION slow_marked();
"""


@pytest.fixture(scope="module")
def pg():
    with PrivatePostgres() as server:
        yield server


@pytest.fixture(scope="module")
def embeddings():
    with FakeOpenAI(dimension=384) as fake:  # no model to load: the first writes are as fast as the rest
        yield fake


@pytest.fixture
def stack(pg, tmp_path, embeddings):
    url = pg.create_database(f"steward_{uuid.uuid4().hex[:8]}")
    migrations.migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        key = auth.create_key(conn, "faults", ["read", "write"])[1]
        conn.execute(SLOW_TRIGGER)
    settings = make_settings(
        url,
        tmp_path / "data",
        steward_services="events",
        database_pool_timeout_seconds=2,
        embeddings_base_url=embeddings.url,
        embeddings_model="fake-384",
        embeddings_dimension=384,
    )
    with serve(create_app(settings)) as base:
        yield url, Api(base, key)


def _event(client_id: str, n: int, event_type: str = "fault_test") -> dict:
    return {"event_type": event_type, "event_source": "n8n", "client_id": client_id, "payload": {"n": n}}


def _assert_clean_503(resp: requests.Response) -> None:
    assert resp.status_code == 503, (resp.status_code, resp.text[:300])
    assert resp.json()["error"]["code"] == "database_unavailable"
    assert int(resp.headers["Retry-After"]) > 0


class Writers:
    """Threads posting events without pause, each write once (no retry), recording every answer."""

    def __init__(self, api: Api, client_id: str, count: int = 3) -> None:
        self.api, self.client_id = api, client_id
        self.acked: dict[int, str] = {}  # payload n -> event id in the 201
        self.answers: list[tuple[float, int]] = []  # (monotonic time, status)
        self.bad: list[tuple[int, str]] = []  # anything but a 201 or a clean 503
        self._lock, self._stop, self._next = threading.Lock(), threading.Event(), iter(range(10**9))
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        session = Api(self.api.base_url, self.api.session.headers["X-API-Key"])
        while not self._stop.is_set():
            with self._lock:
                n = next(self._next)
            try:
                resp = session.post("/api/v1/events", json=_event(self.client_id, n), timeout=15)
            except requests.RequestException as exc:
                with self._lock:
                    self.bad.append((n, type(exc).__name__))
                continue
            with self._lock:
                self.answers.append((time.monotonic(), resp.status_code))
                if resp.status_code == 201:
                    self.acked[n] = resp.json()["id"]
                elif resp.status_code != 503 or not resp.headers.get("Retry-After", "").isdigit():
                    self.bad.append((n, f"{resp.status_code} {resp.text[:200]}"))
                elif resp.json()["error"]["code"] != "database_unavailable":
                    self.bad.append((n, resp.text[:200]))


def test_a_postgres_restart_fails_writes_cleanly_and_steward_recovers_by_itself(pg, stack, client_id):
    url, api = stack
    warm = api.post("/api/v1/events", json=_event(client_id, -4))  # opens the vector store and the embedder
    assert warm.status_code == 201, warm.text
    writers = Writers(api, client_id)
    writers.acked[-4] = warm.json()["id"]
    in_flight: dict[str, requests.Response] = {}
    slow = threading.Thread(
        target=lambda: in_flight.setdefault("resp", api.post("/api/v1/events", json=_event(client_id, -1, "slow"))),
        daemon=True,
    )
    try:
        writers.start()
        slow.start()
        time.sleep(1.0)  # writes are flowing and the slow one is inside its transaction
        before_stop = len(writers.acked)
        pg.stop("fast")
        down_at = time.monotonic()
        slow.join(timeout=15)
        _assert_clean_503(in_flight["resp"])  # the write in flight when Postgres went away
        started = time.monotonic()
        _assert_clean_503(api.post("/api/v1/events", json=_event(client_id, -2)))
        assert time.monotonic() - started < 3, "a request while Postgres is down must fail fast, not hang"
        # Long enough that psycopg_pool's own reconnect backoff (1, 2, 4, 8 s...) would leave a gap.
        time.sleep(max(0.0, 8 - (time.monotonic() - down_at)))
    finally:
        pg.start()
    up_at = time.monotonic()
    time.sleep(3.0)  # the writers carry on against the restarted server
    writers.stop()

    assert not writers.bad, f"answers other than 201 or a clean 503: {writers.bad[:5]}"
    statuses = Counter(status for _, status in writers.answers)
    assert statuses[503] > 0 and before_stop > 1, dict(statuses)
    recovered = min((at for at, status in writers.answers if status == 201 and at > up_at), default=None)
    assert recovered is not None and recovered - up_at < 2.5, "writes did not resume within 2.5 s of the restart"
    after = api.post("/api/v1/events", json=_event(client_id, -3))
    assert after.status_code == 201, after.text  # and no Steward restart was needed
    writers.acked[-3] = after.json()["id"]

    with psycopg.connect(url) as conn:
        stored = dict(
            conn.execute(
                "SELECT (payload->>'n')::int, id::text FROM events WHERE client_id = %s", (client_id,)
            ).fetchall()
        )
    missing = {n for n in writers.acked if n not in stored}
    assert not missing, f"acknowledged but not in the database: {sorted(missing)[:10]}"
    assert all(stored[n] == event_id for n, event_id in writers.acked.items())
    assert -1 not in stored and -2 not in stored  # the 503s wrote nothing


def test_health_says_the_database_is_down_and_then_back(pg, stack):
    _, api = stack
    assert api.get("/health/ready").status_code == 200
    pg.stop("immediate")  # a crash this time
    try:
        resp = api.get("/health/ready")
        assert resp.status_code == 503 and resp.json()["dependencies"]["database"]["status"] == "down"
        _assert_clean_503(api.get("/api/v1/events", params={"client_id": "c"}))
    finally:
        pg.start()
    assert api.get("/health/ready").status_code == 200
    assert api.get("/api/v1/events", params={"client_id": "c"}).status_code == 200
