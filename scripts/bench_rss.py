#!/usr/bin/env python3
"""Memory of Steward's processes: RSS and PSS at idle and under load, local vs remote embeddings.

Starts a real `steward serve` (gunicorn master + worker) on a scratch database for each embedding
mode, and reads /proc for the whole process tree after each phase:

    idle     after /health/ready (database and vector store open, embedder not loaded yet)
    events   after N event writes and paged reads
    memory   after remembering M items and K recalls (only if /api/v1/memory routes exist)

RSS counts shared pages once per process; PSS splits them, so the PSS sum is what the tree costs
the machine. "peak" is the sum of each process's high-water RSS. Remote embeddings talk to a local
OpenAI-compatible fake (tests/fakes), so no key or network is needed.

    .venv/bin/python scripts/bench_rss.py [--events 500] [--memories 200] [--recalls 100]
                                          [--modes local,remote] [--admin-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


@dataclass
class Sample:
    mode: str
    phase: str
    processes: int
    rss_mb: float
    pss_mb: float
    peak_mb: float
    seconds: float


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kb(path: str, field: str) -> int:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(root: int, mode: str, phase: str, seconds: float) -> Sample:
    pids = _tree(root)
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS") for p in pids)
    peak = sum(_kb(f"/proc/{p}/status", "VmHWM") for p in pids)
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)
    return Sample(mode, phase, len(pids), rss / 1024, pss / 1024, peak / 1024, seconds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin_url(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def _scratch_database(admin: str) -> str:
    from steward.core import auth, migrations, prompts  # noqa: F401 - auth used below

    name = f"steward_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(admin, dbname=name)
    migrations.migrate(url)
    prompts.seed(url)
    return url


def _drop(admin: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_mode(mode: str, args: argparse.Namespace) -> list[Sample]:
    from steward.core import auth

    admin = _admin_url(args.admin_url)
    url = _scratch_database(admin)
    with psycopg.connect(url) as conn:
        key = auth.create_key(conn, "bench", ["read", "write"])[1]
    fake = None
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_", "EMBEDDINGS_", "LLM_"))}
    data = tempfile.mkdtemp(prefix="steward-bench-")
    env.update(DATABASE_URL=url, STEWARD_PORT=str(port), STEWARD_DATA_DIR=data, STEWARD_FIRST_RUN_KEY="false")
    if mode == "remote":
        from fakes.openai_server import FakeOpenAI

        fake = FakeOpenAI(dimension=384).start()
        env.update(EMBEDDINGS_BASE_URL=fake.url, EMBEDDINGS_MODEL="fake-embedding-384", EMBEDDINGS_DIMENSION="384")
    log = open(Path(data) / "serve.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "steward.cli", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["X-API-Key"] = key
    samples: list[Sample] = []
    try:
        started = time.monotonic()
        while True:
            try:
                if session.get(base + "/health/ready", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() - started > 120:
                raise SystemExit(f"steward serve did not become ready; see {log.name}")
            time.sleep(0.3)
        time.sleep(1)
        samples.append(measure(server.pid, mode, "idle", time.monotonic() - started))

        mark = time.monotonic()
        client = f"bench-{uuid.uuid4().hex[:8]}"
        for i in range(args.events):
            body = {
                "event_type": "bench",
                "event_source": "bench",
                "client_id": client,
                "payload": {"i": i, "x": "y" * 200},
            }
            session.post(base + "/api/v1/events", json=body, timeout=30).raise_for_status()
        cursor = None
        while True:
            page = session.get(
                base + "/api/v1/events",
                params={"client_id": client, "limit": 100, **({"cursor": cursor} if cursor else {})},
                timeout=30,
            ).json()
            cursor = page.get("next_cursor")
            if not cursor:
                break
        samples.append(measure(server.pid, mode, f"events ({args.events} writes)", time.monotonic() - mark))

        paths = session.get(base + "/openapi.json", timeout=30).json().get("paths", {})
        if "/api/v1/memory/remember" in paths and "/api/v1/memory/recall" in paths:
            mark = time.monotonic()
            words = "plan review budget client invoice meeting travel report draft call".split()
            for i in range(args.memories):
                text = (
                    f"Note {i}: {words[i % 10]} with {words[(i * 3) % 10]} about {words[(i * 7) % 10]} on day {i % 31}"
                )
                session.post(
                    base + "/api/v1/memory/remember", json={"client_id": client, "text": text}, timeout=60
                ).raise_for_status()
            for i in range(args.recalls):
                session.get(
                    base + "/api/v1/memory/recall",
                    params={"client_id": client, "q": f"{words[i % 10]} {words[(i + 4) % 10]}"},
                    timeout=60,
                ).raise_for_status()
            samples.append(
                measure(
                    server.pid,
                    mode,
                    f"memory ({args.memories} remember, {args.recalls} recall)",
                    time.monotonic() - mark,
                )
            )
        else:
            print(f"[{mode}] no /api/v1/memory routes in this build: memory phase skipped", file=sys.stderr)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        if fake is not None:
            fake.stop()
        _drop(admin, url)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--memories", type=int, default=200)
    parser.add_argument("--recalls", type=int, default=100)
    parser.add_argument("--modes", default="local,remote")
    parser.add_argument("--admin-url", help="Postgres where a scratch database may be created")
    args = parser.parse_args(argv)
    samples = [s for mode in args.modes.split(",") for s in run_mode(mode.strip(), args)]
    print(f"{'embeddings':<10} {'phase':<34} {'procs':>5} {'RSS MB':>8} {'PSS MB':>8} {'peak MB':>8} {'secs':>6}")
    for s in samples:
        sizes = f"{s.rss_mb:>8.0f} {s.pss_mb:>8.0f} {s.peak_mb:>8.0f}"
        print(f"{s.mode:<10} {s.phase:<34} {s.processes:>5} {sizes} {s.seconds:>6.1f}")
    print("budget: 200 MB per service, 700 MB for all Steward services together (PSS is the fair sum)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
