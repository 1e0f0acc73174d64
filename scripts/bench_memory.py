"""Benchmark the memory gateway as n8n uses it: recall and remember over HTTP, and the parts.

    .venv/bin/python scripts/bench_memory.py                  # 10k then 100k memories
    .venv/bin/python scripts/bench_memory.py --n 10000 --queries 300

A throwaway database on the machine's Postgres is seeded with synthetic conversation turns (one
client, speakers in metadata, two years of timestamps): rows go in by COPY, vectors are real
embeddings of the local model written in batches to Qdrant Edge. Then the server runs in a
subprocess (the gunicorn runner of `steward serve`: one worker, 8 threads) and is measured over
HTTP with distinct queries (cache misses, including the query embedding), repeated queries (cache
hits), single and batched remember, and its peak RSS. Afterwards the same queries are timed in
process for the parts: the query embedding, plain vector search, embedding + vector search, and
hybrid retrieval. The server's CPU time per recall is printed too: other load on the machine
inflates wall time, not CPU time.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import requests
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "extensions"))

from steward.core import auth, migrations  # noqa: E402
from steward.core.cache import MemoryCache  # noqa: E402
from steward.core.db import open_pool  # noqa: E402
from steward.core.embeddings import LocalEmbedder  # noqa: E402
from steward.core.vectors import VectorFilter, VectorPoint  # noqa: E402
from steward.core.vectors.edge import QdrantEdgeStore  # noqa: E402
from steward.memory import retrieval  # noqa: E402
from steward.memory.text import content_hash, index_text  # noqa: E402

CLIENT = "bench"
NAMES = (
    "Maya Tom Priya Lukas Sofia Omar Elena Jonas Aisha Mateo Chloe Ravi Hannah Diego Yuki Noah Leila "
    "Felix Amara Ivan Zoe Kenji Clara Malik Ines Theo Nadia Oscar Lena Samir"
).split()
PLACES = (
    "Lisbon Porto Berlin Manchester Leeds Kyoto Oslo Madrid Toronto Nairobi Lima Prague Vienna Dublin "
    "Seoul Austin Denver Bristol Lyon Munich Hamburg Krakow Athens Milan Zurich Bergen Quito Hanoi"
).split()
ACTIVITIES = [
    "hiking",
    "bouldering",
    "baking sourdough",
    "trail running",
    "sailing",
    "pottery class",
    "salsa dancing",
    "birdwatching",
    "a cooking course",
    "kayaking",
    "a chess tournament",
    "yoga",
    "cycling",
    "camping",
    "a pub quiz",
    "volunteering at the shelter",
    "painting",
    "a photography walk",
    "gardening",
    "surfing",
]
THINGS = [
    "running shoes",
    "a new laptop",
    "a cello",
    "a vintage camera",
    "concert tickets",
    "a sofa",
    "a bike helmet",
    "a tent",
    "noise-cancelling headphones",
    "a board game",
    "a winter coat",
    "houseplants",
    "a coffee grinder",
    "a standing desk",
    "a novel by Ishiguro",
    "a guitar",
    "hiking boots",
    "a projector",
    "a sewing machine",
]
FOODS = [
    "ramen",
    "tacos",
    "sushi",
    "lasagna",
    "pho",
    "falafel",
    "paella",
    "dumplings",
    "curry",
    "pancakes",
    "risotto",
    "shakshuka",
    "bibimbap",
    "pierogi",
    "empanadas",
]
WORK = [
    "the quarterly report",
    "the product launch",
    "the budget review",
    "the hiring plan",
    "the client demo",
    "the migration project",
    "the design sprint",
    "the onboarding guide",
    "the sales forecast",
    "the audit",
]
FEELINGS = ["amazing", "exhausting", "relaxing", "a bit stressful", "so much fun", "surprisingly hard", "peaceful"]
RELATIONS = ["sister", "brother", "cousin", "best friend", "manager", "neighbour", "partner", "mum", "dad"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TEMPLATES = [
    "I went {activity} near {place} with {name2} and it was {feeling}.",
    "My {relation} just moved to {place} for a new job.",
    "Can you remind me to buy {thing} before {day}?",
    "The meeting about {work} moved to {day} at {hour}.",
    "We had {food} at a tiny place in {place}, best meal in ages.",
    "I'm thinking about trying {activity} next month, {name2} recommended it.",
    "{name2} lent me {thing}, I need to give it back by {day}.",
    "Finished {work} today, it was {feeling}.",
    "My {relation} is visiting from {place} on {day}.",
    "I booked a trip to {place} in {month} with my {relation}.",
    "Started learning {activity} again, week {hour} of practice.",
    "I can't eat {food} anymore since the allergy test.",
    "Bought {thing} on sale, {feeling} deal.",
    "{name2} and I argued about {work}, we'll talk again on {day}.",
]
QUESTIONS = [
    "What did {name} say about {activity} in {place}?",
    "When is {name}'s {relation} visiting?",
    "Did {name} buy {thing}?",
    "What happened with {work} on {day}?",
    "Where did {name} eat {food}?",
    "Who recommended {activity} to {name}?",
    "What does {name} need to return to {name2}?",
    "Which trip did {name} book for {month}?",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


class Corpus:
    """Synthetic conversation turns and questions from a fixed seed (distinct texts only)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.seen: set[str] = set()
        self.start = datetime.now(UTC) - timedelta(days=730)

    def _fill(self, template: str) -> str:
        r = self.rng
        return template.format(
            name=r.choice(NAMES),
            name2=r.choice(NAMES),
            place=r.choice(PLACES),
            activity=r.choice(ACTIVITIES),
            thing=r.choice(THINGS),
            food=r.choice(FOODS),
            work=r.choice(WORK),
            feeling=r.choice(FEELINGS),
            relation=r.choice(RELATIONS),
            day=r.choice(DAYS),
            hour=f"{r.randint(8, 18)}:{r.choice(['00', '15', '30', '45'])}",
            month=r.choice(MONTHS),
        )

    def turns(self, count: int):
        made = 0
        while made < count:
            text = self._fill(self.rng.choice(TEMPLATES))
            speaker = self.rng.choice(NAMES)
            key = f"{speaker}\n{text}"
            if key in self.seen:
                text = f"{text} ({len(self.seen)})"
                key = f"{speaker}\n{text}"
            self.seen.add(key)
            made += 1
            yield speaker, text, self.start + timedelta(seconds=self.rng.randint(0, 730 * 86400))

    def questions(self, count: int) -> list[str]:
        out: set[str] = set()
        while len(out) < count:
            out.add(self._fill(self.rng.choice(QUESTIONS)))
        return sorted(out, key=lambda _: self.rng.random())


def seed(url: str, store: QdrantEdgeStore, embedder: LocalEmbedder, corpus: Corpus, count: int) -> float:
    """Add `count` memories (COPY, then batched embedding); returns seconds taken."""
    started = time.perf_counter()
    rows = [(str(uuid.uuid4()), speaker, text, when) for speaker, text, when in corpus.turns(count)]
    with psycopg.connect(url) as conn:
        conn.execute("""CREATE TEMP TABLE staging (id uuid, client_id text, kind text, text text, content_hash text,
                        metadata jsonb, occurred_at timestamptz, indexed text) ON COMMIT DROP""")
        with conn.cursor().copy("COPY staging FROM STDIN") as copy:
            for mid, speaker, text, when in rows:
                meta = {"speaker": speaker}
                copy.write_row(
                    (
                        mid,
                        CLIENT,
                        "message",
                        text,
                        content_hash("message", f"{speaker}: {text}"),
                        Jsonb(meta),
                        when,
                        index_text(text, meta),
                    )
                )
        conn.execute("""INSERT INTO memories (id, client_id, kind, text, content_hash, metadata, occurred_at,
                                              valid_from, search_tsv, indexed_at)
                        SELECT id, client_id, kind, text, content_hash, metadata, occurred_at, occurred_at,
                               to_tsvector('english', indexed), now() FROM staging""")
    done = 0
    for start in range(0, len(rows), 512):
        batch = rows[start : start + 512]
        vectors = embedder.embed_documents([index_text(t, {"speaker": s}) for _, s, t, _ in batch])
        store.upsert(
            "agent_memories",
            [
                VectorPoint(mid, v.tolist(), {"client_id": CLIENT, "kind": "message", "occurred_ts": when.timestamp()})
                for (mid, _, _, when), v in zip(batch, vectors, strict=True)
            ],
        )
        done += len(batch)
        rate = done / (time.perf_counter() - started)
        print(f"\r  seeded {done}/{count} ({rate:.0f}/s)", end="", flush=True)
    print()
    store.optimize()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE memories")
    return time.perf_counter() - started


def pct(values: list[float]) -> tuple[float, float]:
    ms = np.array(values) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


class Server:
    """`steward serve` in a subprocess, on a free port, against the bench database."""

    def __init__(self, url: str, data_dir: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("STEWARD_", "QDRANT_", "REDIS_", "EMBEDDINGS_", "LLM_", "DATABASE_"))
        }
        env.update(
            DATABASE_URL=url,
            STEWARD_DATA_DIR=str(data_dir),
            STEWARD_PORT=str(self.port),
            STEWARD_HOST="127.0.0.1",
            STEWARD_SERVICES="memory,events",
            STEWARD_FIRST_RUN_KEY="false",
            STEWARD_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT / "extensions"),
        )
        self.log = open(data_dir / "server.log", "ab")  # noqa: SIM115
        serve = (
            "from steward.core.config import load_settings; from steward.server import run_gunicorn; "
            "run_gunicorn(load_settings(), workers=1, threads=8)"
        )  # what `steward serve` runs
        self.proc = subprocess.Popen(
            [sys.executable, "-c", serve], cwd=data_dir, env=env, stdout=self.log, stderr=self.log
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/health/live", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError(f"steward serve did not start; see {data_dir / 'server.log'}")

    def worker(self) -> int:
        """The gunicorn worker's pid (the master only forks it)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0]) if children else self.proc.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.worker()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.worker()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def http_bench(server: Server, key: str, questions: list[str], single: int, batches: int) -> dict[str, object]:
    session = requests.Session()
    session.headers["X-API-Key"] = key
    recall = f"{server.base}/api/v1/memory/recall"
    session.get(recall, params={"client_id": CLIENT, "q": "warm up the model please", "k": 10}).raise_for_status()
    wall, cpu_before = [], server.cpu_seconds()
    for q in questions:
        start = time.perf_counter()
        resp = session.get(recall, params={"client_id": CLIENT, "q": q, "k": 10})
        wall.append(time.perf_counter() - start)
        body = resp.json()
        assert resp.ok and not body["cached"] and not body["degraded"], resp.text[:300]
    cpu_ms = (server.cpu_seconds() - cpu_before) / len(questions) * 1000
    hits = []
    for q in questions[:100]:
        start = time.perf_counter()
        resp = session.get(recall, params={"client_id": CLIENT, "q": q, "k": 10})
        hits.append(time.perf_counter() - start)
        assert resp.json()["cached"], "expected a cache hit"
    remember = f"{server.base}/api/v1/memory/remember"
    corpus = Corpus(seed=int(time.time()))
    texts = [t for _, t, _ in corpus.turns(single + batches * 100)]
    start = time.perf_counter()
    for n in range(single):
        session.post(
            remember, json={"client_id": CLIENT, "text": f"{texts[n]} #{uuid.uuid4().hex[:6]}", "kind": "note"}
        ).raise_for_status()
    single_rate = single / (time.perf_counter() - start)
    start = time.perf_counter()
    for b in range(batches):
        items = [
            {"text": f"{t} #{uuid.uuid4().hex[:6]}", "kind": "message"}
            for t in texts[single + b * 100 : single + (b + 1) * 100]
        ]
        session.post(f"{remember}/batch", json={"client_id": CLIENT, "items": items}).raise_for_status()
    batch_rate = batches * 100 / (time.perf_counter() - start)
    return {
        "miss": pct(wall),
        "miss_cpu_ms": cpu_ms,
        "hit": pct(hits),
        "single": single_rate,
        "batched": batch_rate,
        "rss": server.peak_rss_mb(),
    }


def run_parts(url: str, data_dir: Path, embedder: LocalEmbedder, questions: list[str]) -> dict[str, tuple]:
    from steward.core.config import Settings
    from steward.core.runtime import Runtime

    settings = Settings(_env_file=None, database_url=url, steward_data_dir=data_dir)  # type: ignore[call-arg]
    store = QdrantEdgeStore(embedder.model, embedder.dimension, path=data_dir / "qdrant")
    store.ensure_collection("agent_memories")
    store.ensure_collection("daily_threads")
    pool = open_pool(url, 2)
    rt = Runtime(settings=settings, pool=pool, cache=MemoryCache(), _embedder=embedder, _vectors=store)
    where = VectorFilter(client_id=CLIENT)
    embed, search, both, hybrid = [], [], [], []
    variants = [f"{q} (again)" for q in questions]  # new texts: the embedder's memo must not answer
    try:
        for q, v in zip(questions, variants, strict=True):
            t0 = time.perf_counter()
            vector = embedder.embed_query(q).tolist()
            t1 = time.perf_counter()
            store.search("agent_memories", vector, 40, where)
            t2 = time.perf_counter()
            embed.append(t1 - t0)
            search.append(t2 - t1)
            both.append(t2 - t0)
            with pool.connection() as conn:
                t3 = time.perf_counter()
                retrieval.hybrid(conn, rt, retrieval.Recall(client_id=CLIENT, q=v, k=10))
                hybrid.append(time.perf_counter() - t3)
    finally:
        store.close()
        pool.close()
    return {"embed": pct(embed), "search": pct(search), "both": pct(both), "hybrid": pct(hybrid)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="10000,100000", help="comma-separated memory counts, ascending")
    parser.add_argument("--queries", type=int, default=300, help="distinct recall queries per size")
    parser.add_argument("--single", type=int, default=100, help="single remember requests per size")
    parser.add_argument("--batches", type=int, default=10, help="remember batches of 100 per size")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database and data folder")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.n.split(","))

    name = f"steward_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(args.admin_url, dbname=name)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    results = []
    try:
        migrations.migrate(url)
        with psycopg.connect(url) as conn:
            key = auth.create_key(conn, "bench", ["read", "write"])[1]
        embedder = LocalEmbedder()
        corpus = Corpus()
        seeded = 0
        for size in sizes:
            print(f"seeding to {size} memories...")
            store = QdrantEdgeStore(embedder.model, embedder.dimension, path=data_dir / "qdrant")
            for collection in ("agent_memories", "daily_threads", "doc_chunks", "events"):
                store.ensure_collection(collection)
            took = seed(url, store, embedder, corpus, size - seeded)
            store.close()
            print(f"  {size - seeded} memories in {took:.0f} s ({(size - seeded) / took:.0f}/s, COPY + embedding)")
            seeded = size
            questions = corpus.questions(args.queries)
            server = Server(url, data_dir)
            try:
                http = http_bench(server, key, questions, args.single, args.batches)
            finally:
                server.stop()
            seeded += args.single + args.batches * 100
            parts = run_parts(url, data_dir, embedder, questions)
            results.append((size, http, parts))
            load = os.getloadavg()[0]
            print(f"  done (load average {load:.1f})")
    finally:
        if not args.keep:
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept database {name} and {data_dir}")

    print(f"\nmemory gateway, {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f}")
    print(f"{'memories':>9} | {'measure':<44} | {'p50 ms':>7} | {'p95 ms':>7}")
    print("-" * 76)
    for size, http, parts in results:
        rows = [
            ("recall over HTTP, cache miss (incl. embedding)", http["miss"]),
            ("recall over HTTP, cache hit", http["hit"]),
            ("  in process: query embedding alone", parts["embed"]),
            ("  in process: vector search alone (top-40)", parts["search"]),
            ("  in process: embedding + vector search", parts["both"]),
            ("  in process: hybrid retrieval (vector+text+RRF)", parts["hybrid"]),
        ]
        for label, (p50, p95) in rows:
            print(f"{size:>9} | {label:<44} | {p50:>7.2f} | {p95:>7.2f}")
        print(f"{size:>9} | {'server CPU per recall miss (ms)':<44} | {http['miss_cpu_ms']:>7.2f} |")
        print(f"{size:>9} | {'remember single (memories/s)':<44} | {http['single']:>7.0f} |")
        print(f"{size:>9} | {'remember batched by 100 (memories/s)':<44} | {http['batched']:>7.0f} |")
        print(f"{size:>9} | {'peak RSS of the serving process (MB)':<44} | {http['rss']:>7.0f} |")
        print("-" * 76)


if __name__ == "__main__":
    main()
