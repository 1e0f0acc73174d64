"""Shared parts of scripts/bench_load.py and scripts/bench_soak.py: the server shapes, the seed
data, the mixed workload, an open-loop request generator and /proc sampling.

Why a small generator of our own rather than wrk or locust: wrk (Debian's) and locust users are
closed loops, each connection waiting for its answer before sending the next, so a slow server
is sent less and its queueing never shows (coordinated omission). Here request i is due at
t0 + i/rate (or at Poisson arrivals) whatever is still outstanding, and its latency runs from
that due time to the last byte of the answer, so time spent queued anywhere (in the generator,
the connection pool, the kernel backlog, gunicorn) counts. `lag` is how late the generator
itself sent a request; if its p99 grows, the generator (sharing the machine's CPUs) was the limit.

Shapes (`--shape`):
    embedded    `steward serve` (gunicorn, 1 worker x 8 threads) on a scratch data dir: embedded
                Postgres (pgserver), Qdrant Edge, in-process cache, local MiniLM, as ./scripts/run
    production  gunicorn -c python:steward.ops.gunicorn_conf --preload steward.wsgi:app (as compose)
                on the machine's Postgres (database steward_load, recreated), Redis (a db of its
                own, flushed), Qdrant server if --qdrant-url, else Qdrant Edge (then 1 worker)
    --url URL --key KEY   a Steward already running (the key needs admin for the chat links)
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

BIN = Path(sys.executable).parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"  # a db of its own (the tests use 11, 13-15)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
# Per-chat limits would turn the chat share into 429s; a server we start gets this instead.
LOAD_CHAT_RATE_LIMIT = "1000000/minute"

# ---- the server under test ------------------------------------------------------------------


@dataclass
class Target:
    url: str
    key: str
    shape: str
    describe: str
    pid: int | None = None  # root of the Steward process tree, for RSS, CPU and fds
    database_url: str | None = None  # for pg_stat_activity
    db_pids: Callable[[], list[int]] = field(default=lambda: [])
    stop: Callable[[], None] = field(default=lambda: None)
    alive: Callable[[], bool] = field(default=lambda: True)
    log: Path | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    prefixes = ("STEWARD_", "DATABASE_", "REDIS_", "QDRANT_", "EMBEDDINGS_", "LLM_", "CHAT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(STEWARD_FIRST_RUN_KEY="false", CHAT_RATE_LIMIT=LOAD_CHAT_RATE_LIMIT, **extra)
    return env


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run([str(BIN / "steward"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"steward {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _create_key(env: dict[str, str], cwd: Path) -> str:
    out = _cli(env, cwd, "keys", "create", "--name", "load", "--scopes", "read,write,admin")
    return out.strip().splitlines()[-1]


def _launch(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as handle:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stopper(proc: subprocess.Popen, after: Callable[[], None] = lambda: None) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        after()

    return stop


def wait_ready(target: Target, proc: subprocess.Popen | None = None, timeout: float = 180) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {target.log}")
        try:
            if httpx.get(target.url + "/health/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{target.url} did not become ready in {timeout:.0f} s; see {target.log}")


def _postmaster_tree(pgdata: Path) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        try:
            return tree(int((pgdata / "postmaster.pid").read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            return []

    return pids


def _backends_of(dbname: str) -> Callable[[], list[int]]:
    """Postgres backends serving `dbname` (title `postgres: [cluster:] user db host(port) state`)."""

    def pids() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                parts = title.replace("\0", " ").split()
                if parts[:1] == ["postgres:"] and dbname in parts[2:4]:
                    found.append(int(entry))
        return found

    return pids


def start_embedded(threads: int, data_dir: str | None) -> Target:
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="steward-load-"))
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = _clean_env(STEWARD_DATA_DIR=str(data.resolve()), STEWARD_PORT=str(port))
    _cli(env, data, "migrate")
    key = _create_key(env, data)
    log = data / "serve.log"
    proc = _launch([str(BIN / "steward"), "serve", "--threads", str(threads)], env, data, log)
    pgdata = (data / "pg").resolve()
    target = Target(
        url=f"http://127.0.0.1:{port}",
        key=key,
        shape="embedded",
        describe=f"steward serve: 1 worker x {threads} threads, embedded Postgres, Qdrant Edge, "
        "in-process cache, local MiniLM",
        pid=proc.pid,
        db_pids=_postmaster_tree(pgdata),
        stop=_stopper(proc, lambda: None if data_dir else shutil.rmtree(data, ignore_errors=True)),
        alive=lambda: proc.poll() is None,
        log=log,
    )
    wait_ready(target, proc)
    info = (pgdata / "postmaster.pid").read_text().splitlines()
    target.database_url = f"postgresql://postgres@/steward?host={info[4] or pgdata}"
    return target


def _redis_usable(url: str) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.flushdb()  # a db of the load run's own: cache entries from an earlier run would be hits
        return True
    except Exception:
        return False


def start_production(
    workers: int,
    threads: int,
    admin_url: str,
    database: str,
    redis_url: str,
    qdrant_url: str | None,
    pool_size: int | None,
    data_dir: str | None,
) -> Target:
    if workers > 1 and not qdrant_url:
        raise SystemExit(
            "--workers > 1 needs --qdrant-url: Qdrant Edge is opened by one process only (no Qdrant server here). "
            "Run --workers 1 (threads scale instead), or point --qdrant-url at a Qdrant server."
        )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        busy = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()
        if busy and busy[0]:
            raise SystemExit(f"database {database} is in use (another load or soak run?); pass --database NAME")
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
    db_url = psycopg.conninfo.make_conninfo(admin_url, dbname=database)
    data = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="steward-load-"))
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    extra = {"DATABASE_URL": db_url, "STEWARD_DATA_DIR": str(data.resolve())}
    redis_note = "in-process cache (Redis unreachable)"
    if _redis_usable(redis_url):
        extra["REDIS_URL"] = redis_url
        redis_note = f"Redis {redis_url.rsplit('@', 1)[-1]}"
    if qdrant_url:
        extra["QDRANT_URL"] = qdrant_url
    if pool_size:
        extra["DATABASE_POOL_SIZE"] = str(pool_size)
    env = _clean_env(**extra)
    _cli(env, data, "migrate")
    key = _create_key(env, data)
    log = data / "gunicorn.log"
    cmd = [
        str(BIN / "gunicorn"),
        "-c",
        "python:steward.ops.gunicorn_conf",
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "steward.wsgi:app",
    ]
    proc = _launch(cmd, env, data, log)

    def drop() -> None:
        if not data_dir:
            shutil.rmtree(data, ignore_errors=True)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    vectors = f"Qdrant server {qdrant_url}" if qdrant_url else "Qdrant Edge (no Qdrant server reachable)"
    target = Target(
        url=f"http://127.0.0.1:{port}",
        key=key,
        shape="production",
        describe=f"gunicorn --preload: {workers} worker(s) x {threads} threads, Postgres {database} on "
        f"{psycopg.conninfo.conninfo_to_dict(admin_url).get('host', 'local')}, pool "
        f"{pool_size or 'default'}, {redis_note}, {vectors}, local MiniLM",
        pid=proc.pid,
        database_url=db_url,
        db_pids=_backends_of(database),
        stop=_stopper(proc, drop),
        alive=lambda: proc.poll() is None,
        log=log,
    )
    wait_ready(target, proc)
    return target


def attach(url: str, key: str, pid: int | None, database_url: str | None) -> Target:
    target = Target(
        url=url.rstrip("/"),
        key=key,
        shape="url",
        describe=f"running Steward at {url}",
        pid=pid,
        database_url=database_url,
    )
    if database_url:
        target.db_pids = _backends_of(psycopg.conninfo.conninfo_to_dict(database_url)["dbname"])
    wait_ready(target, timeout=30)
    return target


def add_target_arguments(parser: Any) -> None:
    group = parser.add_argument_group("server under test")
    group.add_argument("--shape", choices=("embedded", "production"), default="embedded")
    group.add_argument("--url", help="a running Steward instead of starting one (with --key)")
    group.add_argument("--key", help="API key for --url; needs admin scope for the chat links")
    group.add_argument("--pid", type=int, help="with --url: the server's root pid, for RSS/CPU/fds")
    group.add_argument("--database-url", help="with --url: its database, for connection counts")
    group.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    group.add_argument("--workers", type=int, default=1, help="production: gunicorn workers (>1 needs --qdrant-url)")
    group.add_argument("--pool-size", type=int, help="production: DATABASE_POOL_SIZE (default: Steward's, 10)")
    group.add_argument("--admin-url", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL)
    group.add_argument("--database", default="steward_load", help="production: database to (re)create")
    group.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="production: Redis db to use (flushed)")
    group.add_argument("--qdrant-url", help="production: a Qdrant server (default: Qdrant Edge, one process)")
    group.add_argument("--data-dir", help="keep the server's data dir here (default: a temp dir, removed)")


def stop_on_sigterm() -> None:
    """`kill PID` stops a run cleanly (server stopped, scratch database dropped), as Ctrl-C does.
    Needed because a run started with `&` from a script ignores SIGINT."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def open_target(args: Any) -> Target:
    if args.url:
        if not args.key:
            raise SystemExit("--url needs --key")
        return attach(args.url, args.key, args.pid, args.database_url)
    if args.shape == "embedded":
        return start_embedded(args.threads, args.data_dir)
    return start_production(
        args.workers,
        args.threads,
        args.admin_url,
        args.database,
        args.redis_url,
        args.qdrant_url,
        args.pool_size,
        args.data_dir,
    )


# ---- /proc ----------------------------------------------------------------------------------


def tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def anon_mb(pids: list[int]) -> float:
    """The anonymous part of RSS (heap, stacks): what a leak grows. The rest is file-backed pages,
    such as the memory-mapped vector segments and WAL of Qdrant Edge, which grow with the data."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def open_fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def db_connections(database_url: str | None) -> int | None:
    if not database_url:
        return None
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            return int(row[0]) if row else None
    except psycopg.Error:
        return None


def autovacuum_off(database_url: str | None) -> bool:
    if not database_url:
        return False
    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute("SHOW autovacuum").fetchone()
            return bool(row and row[0] == "off")
    except psycopg.Error:
        return False


def analyze_like_autovacuum(target: Target, every: float = 60) -> asyncio.Task | None:
    """On a Postgres with autovacuum off (CI machines often turn it off), ANALYZE Steward's
    database every minute, as autovacuum would: without statistics, recall's full-text query loses
    the bound pg_stats gives its match set, and Postgres CPU per request grew 4-8x within minutes."""
    if not autovacuum_off(target.database_url):
        return None
    print(f"note: autovacuum is off on this Postgres; this run ANALYZEs Steward's database every {every:g} s")

    def analyze() -> None:
        with psycopg.connect(target.database_url or "", autocommit=True) as conn:
            conn.execute("ANALYZE")

    async def loop() -> None:
        while True:
            await asyncio.to_thread(analyze)
            await asyncio.sleep(every)

    return asyncio.get_running_loop().create_task(loop())


class Meter:
    """CPU of Steward, of its database backends, of this generator and of the machine between
    `start()` and `stop()`, and Steward's peak RSS sampled every second meanwhile."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.peak_rss = 0.0
        self._task: asyncio.Task | None = None

    def _steward(self) -> list[int]:
        return tree(self.target.pid) if self.target.pid else []

    def start(self) -> None:
        self._wall = time.monotonic()
        self._cpu = cpu_seconds(self._steward())
        self._db = cpu_seconds(self.target.db_pids())
        self._self = resource.getrusage(resource.RUSAGE_SELF)
        self._machine = machine_ticks()
        self.load1 = os.getloadavg()[0]
        self.peak_rss = rss_mb(self._steward())
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.peak_rss = max(self.peak_rss, rss_mb(self._steward()))

    def stop(self) -> dict[str, float | None]:
        if self._task:
            self._task.cancel()
        wall = max(time.monotonic() - self._wall, 1e-6)
        me = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_ticks()
        pids = self._steward()
        app_s = cpu_seconds(pids) - self._cpu if self.target.pid else None
        db_s = cpu_seconds(self.target.db_pids()) - self._db
        return {
            "steward_cpu": 100 * app_s / wall if app_s is not None else None,
            "steward_cpu_s": app_s,
            "db_cpu_s": db_s,
            "gen_cpu": 100 * (me.ru_utime + me.ru_stime - self._self.ru_utime - self._self.ru_stime) / wall,
            "machine": 100 * (os.cpu_count() or 1) * (busy - self._machine[0]) / max(total - self._machine[1], 1),
            "rss": max(self.peak_rss, rss_mb(pids)) if self.target.pid else None,
            "load1": self.load1,
        }


# ---- the workload ---------------------------------------------------------------------------

NAMES = "Maya Tom Priya Lukas Sofia Omar Elena Jonas Aisha Mateo Chloe Ravi Hannah Diego Yuki Noah".split()
PLACES = "Lisbon Porto Berlin Leeds Kyoto Oslo Madrid Toronto Nairobi Prague Vienna Dublin".split()
TOPICS = (
    "the quarterly report|the budget review|the hiring plan|the client demo|the migration project|"
    "the onboarding guide|the sales forecast|the audit|the product launch|the design sprint"
).split("|")
PROJECTS = "acme globex initech umbrella hooli stark".split()
DAY = "2026-06-01"
WEEK = {
    d: [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri")
}
DEFAULT_MIX = "recall=30,remember=10,event_post=15,event_get=15,schedule=10,daily_plan=10,chat=10"
ROUTES = ("recall", "remember", "event_post", "event_get", "schedule", "daily_plan", "chat")


@dataclass
class Call:
    route: str
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def memory_text(rng: random.Random, n: int) -> str:
    name, other, place, topic = rng.choice(NAMES), rng.choice(NAMES), rng.choice(PLACES), rng.choice(TOPICS)
    return f"{name} told {other} in {place} that {topic} needs another pass before Friday (note {n})."


def schedule_body(client: str, n: int) -> dict[str, Any]:
    return {
        "client_id": client,
        "timezone": "Europe/Berlin",
        "now": f"{DAY}T08:00:00+02:00",
        "horizon_days": 5,
        "working_hours": WEEK,
        "buffer_minutes": 10,
        "busy": [{"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T09:30:00+02:00", "title": "Standup"}],
        "tasks": [
            {"id": "T-1", "title": f"Write report {n}", "duration_minutes": 150, "priority": "p1"},
            {"id": "T-2", "title": "Review", "duration_minutes": 45, "depends_on": ["T-1"]},
            {"id": "T-3", "title": "Visa form", "duration_minutes": 30, "deadline": f"{DAY}T12:00:00+02:00"},
        ],
    }


class Mix:
    """Weighted random calls of the non-LLM routes n8n and Telegram drive, for one client."""

    def __init__(self, spec: str, client: str, chats: list[int], seed: int = 7) -> None:
        weights = {}
        for part in spec.split(","):
            name, _, weight = part.partition("=")
            if name.strip() not in ROUTES:
                raise SystemExit(f"--mix: unknown route {name!r}; choose from {', '.join(ROUTES)}")
            weights[name.strip()] = float(weight or 1)
        if not chats:
            weights.pop("chat", None)
        self.routes, self.weights = list(weights), list(weights.values())
        self.client, self.chats = client, itertools.cycle(chats)
        self.rng = random.Random(seed)
        self.counter = itertools.count(1)
        self.message_ids: dict[int, int] = {}

    def next(self) -> Call:
        route = self.rng.choices(self.routes, self.weights)[0]
        return getattr(self, route)(next(self.counter))

    def _idem(self) -> dict[str, str]:
        return {"Idempotency-Key": uuid.uuid4().hex}

    def recall(self, n: int) -> Call:
        q = f"{self.rng.choice(TOPICS)} with {self.rng.choice(NAMES)}"
        return Call("recall", "GET", "/api/v1/memory/recall", params={"client_id": self.client, "q": q, "k": 10})

    def remember(self, n: int) -> Call:
        body = {"client_id": self.client, "text": memory_text(self.rng, n), "kind": "note"}
        return Call("remember", "POST", "/api/v1/memory/remember", json=body, headers=self._idem())

    def event_post(self, n: int) -> Call:
        body = {
            "event_type": self.rng.choice(["task_created", "task_completed", "calendar_updated"]),
            "event_source": "load",
            "client_id": self.client,
            "payload": {"title": f"{self.rng.choice(TOPICS)} #{n}", "project": self.rng.choice(PROJECTS)},
        }
        return Call("event_post", "POST", "/api/v1/events", json=body, headers=self._idem())

    def event_get(self, n: int) -> Call:
        return Call("event_get", "GET", "/api/v1/events", params={"client_id": self.client, "limit": 20})

    def schedule(self, n: int) -> Call:
        body = schedule_body(self.client, n)
        return Call("schedule", "POST", "/api/v1/scheduler/schedule", json=body, headers=self._idem())

    def daily_plan(self, n: int) -> Call:
        params = {"client_id": self.client, "date": DAY}
        return Call("daily_plan", "GET", "/api/v1/scheduler/daily-plan", params=params)

    def chat(self, n: int) -> Call:
        chat_id = next(self.chats)
        self.message_ids[chat_id] = message_id = self.message_ids.get(chat_id, 1000) + 1
        name, project = self.rng.choice(NAMES), self.rng.choice(PROJECTS)
        text = self.rng.choice(
            [
                f"Call {name} tomorrow at 4pm #{project} p1 @phone 30m",
                f"Send {name} the invoice friday #{project} p2",
                f"Book train to {self.rng.choice(PLACES)} next monday 1h",
            ]
        )
        body = {"chat_id": chat_id, "user_id": chat_id + 7, "message_id": message_id, "text": text}
        return Call("chat", "POST", "/api/v1/chat/message", json=body)


def seed(target: Target, memories: int = 200, chats: int = 8) -> tuple[str, list[int]]:
    """A client with memories, as many events (at most 50), one schedule run and linked chats;
    returns (client, chat ids)."""
    client = f"load-{uuid.uuid4().hex[:8]}"
    rng = random.Random(1)
    headers = {"X-API-Key": target.key}
    with httpx.Client(base_url=target.url, headers=headers, timeout=300) as http:
        for start in range(0, memories, 100):
            items = [{"text": memory_text(rng, -n), "kind": "note"} for n in range(start, min(start + 100, memories))]
            http.post("/api/v1/memory/remember/batch", json={"client_id": client, "items": items}).raise_for_status()
        mix = Mix(DEFAULT_MIX, client, [])
        for n in range(min(memories, 50)):
            call = mix.event_post(n)
            http.post(call.path, json=call.json).raise_for_status()
        http.post("/api/v1/scheduler/schedule", json=schedule_body(client, 0)).raise_for_status()
        linked = []
        base = random.randint(10**9, 2 * 10**9)
        for n in range(chats):
            made = http.post("/api/v1/chat/links", json={"client_id": client, "timezone": "Europe/Berlin"})
            if made.status_code == 403:
                print("note: the key has no admin scope, so no chat could be linked: chat left out of the mix")
                break
            made.raise_for_status()
            body = {
                "chat_id": base + n,
                "user_id": base + n + 7,
                "message_id": 1,
                "text": f"/link {made.json()['code']}",
            }
            reply = http.post("/api/v1/chat/message", json=body)
            reply.raise_for_status()
            if reply.json()["meta"]["outcome"] != "linked":
                raise SystemExit(f"linking a chat failed: {reply.text}")
            linked.append(base + n)
    return client, linked


# ---- the open-loop generator ----------------------------------------------------------------


@dataclass
class Result:
    route: str
    latency_ms: float
    lag_ms: float
    ok: bool
    status: str
    done_at: float


def new_client(target: Target, connections: int, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=target.url,
        headers={"X-API-Key": target.key},
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def _fire(http: httpx.AsyncClient, slots: asyncio.Semaphore, call: Call, due: float, out: list[Result]) -> None:
    loop = asyncio.get_running_loop()
    lag = (loop.time() - due) * 1000
    try:
        async with slots:  # queue here, in O(1), not in httpcore's pool (quadratic in waiting requests)
            resp = await http.request(call.method, call.path, params=call.params, json=call.json, headers=call.headers)
        ok, status = resp.status_code < 400, str(resp.status_code)
    except httpx.HTTPError as exc:
        ok, status = False, type(exc).__name__
    now = loop.time()
    out.append(Result(call.route, (now - due) * 1000, lag, ok, status, now))


async def run_rate(
    http: httpx.AsyncClient,
    mix: Mix,
    rate: float,
    seconds: float,
    poisson: bool = False,
    stop: asyncio.Event | None = None,
    out: list[Result] | None = None,
    connections: int = 64,
) -> tuple[list[Result], float]:
    """Send at `rate` per second for `seconds` (or until `stop`), then wait for every answer.
    At most `connections` are in flight (the client's limit); the rest wait their turn, and that
    wait counts in their latency. Returns the results (also appended to `out` as they come) and
    the wall time from the first due time to the last answer."""
    loop = asyncio.get_running_loop()
    out = [] if out is None else out
    slots = asyncio.Semaphore(connections)
    pending: set[asyncio.Task] = set()
    start = due = loop.time() + 0.05
    rng = random.Random(11)
    for n in itertools.count(1):
        if due >= start + seconds or (stop and stop.is_set()):
            break
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(_fire(http, slots, mix.next(), due, out))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due = due + rng.expovariate(rate) if poisson else start + n / rate
    if pending:
        await asyncio.gather(*pending)
    end = max((r.done_at for r in out), default=loop.time())
    return out, max(end - start, 1e-6)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(results: list[Result], wall: float) -> dict[str, Any]:
    latencies = [r.latency_ms for r in results]
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[f"{r.route}:{r.status}"] = errors.get(f"{r.route}:{r.status}", 0) + 1
    return {
        "sent": len(results),
        "ok": sum(r.ok for r in results),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "achieved": sum(r.ok for r in results) / wall,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "lag_p99": percentile([r.lag_ms for r in results], 99),
    }


def by_route(results: list[Result]) -> dict[str, dict[str, Any]]:
    routes: dict[str, list[Result]] = {}
    for r in results:
        routes.setdefault(r.route, []).append(r)
    return {name: summary(rs, 1.0) for name, rs in sorted(routes.items())}


def route_table(results: list[Result]) -> list[str]:
    lines = [f"  {'route':<11} {'n':>6} {'err':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"]
    for name, s in by_route(results).items():
        lines.append(
            f"  {name:<11} {s['sent']:>6} {s['errors']:>4} {s['p50']:>7.1f} {s['p95']:>7.1f} {s['p99']:>7.1f} "
            f"{s['max']:>7.0f}"
        )
    return lines


def fmt(value: float | None, spec: str = ".0f") -> str:
    return "n/a" if value is None else format(value, spec)


def header(target: Target) -> str:
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"shape: {target.shape} ({target.describe})\nmachine: {os.cpu_count()} cores, load average {load}"
