"""Benchmark the vector store as Steward uses it: filtered top-10 search, batched upserts, memory.

    .venv/bin/python scripts/bench_vectors.py --n 100000            # Qdrant Edge in a temp folder
    .venv/bin/python scripts/bench_vectors.py --url http://127.0.0.1:6333   # a Qdrant server

Random normalised 384-d vectors spread over ~20 clients and 4 kinds, written through the
`VectorStore` seam in batches of 256 (the list conversion is timed too: callers pay it), then
searched with a client filter and a client+kind filter once `optimize()` built Edge's indexes (in
production the store's background thread does that when writes pause).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))

from steward.core.vectors import VectorFilter, VectorPoint, VectorStore  # noqa: E402
from steward.core.vectors.edge import QdrantEdgeStore  # noqa: E402
from steward.core.vectors.server import QdrantServerStore  # noqa: E402

KINDS = ("note", "fact", "task", "event")
COLLECTION = "events"


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def search_latency(store: VectorStore, queries: np.ndarray, clients: int, kind: bool) -> str:
    """Wall-clock percentiles, and CPU time (all threads) per query: the part other load cannot inflate."""
    wall, cpu = [], []
    for i, q in enumerate(queries):
        where = VectorFilter(client_id=f"client-{i % clients}", match_any={"kind": ["note", "fact"]} if kind else {})
        vector = q.tolist()
        start, start_cpu = time.perf_counter(), time.process_time()
        hits = store.search(COLLECTION, vector, 10, where)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert len(hits) == 10
    return f"{percentiles(wall)} (CPU {percentiles(cpu)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="points to write")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--url", help="bench a Qdrant server instead of Qdrant Edge")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    kinds = rng.integers(len(KINDS), size=args.n)  # independent of the client
    baseline = rss_mb()

    workdir = tempfile.TemporaryDirectory(prefix="bench-vectors-")
    store: VectorStore
    if args.url:
        store, backend = QdrantServerStore("bench", args.dim, url=args.url), f"Qdrant server {args.url}"
    else:
        store, backend = QdrantEdgeStore("bench", args.dim, path=Path(workdir.name)), "Qdrant Edge"
    store.drop_collection(COLLECTION)
    store.ensure_collection(COLLECTION)

    rows: list[tuple[str, str]] = []
    batch_times = []
    start, start_cpu = time.perf_counter(), time.process_time()
    for lo in range(0, args.n, args.batch):
        t = time.perf_counter()
        block = vectors[lo : lo + args.batch].tolist()
        points = [
            VectorPoint(
                id=str(uuid.uuid4()),
                vector=v,
                payload={
                    "client_id": f"client-{(lo + i) % args.clients}",
                    "kind": KINDS[kinds[lo + i]],
                    "occurred_ts": 1.7e9 + lo + i,
                },
            )
            for i, v in enumerate(block)
        ]
        store.upsert(COLLECTION, points)
        batch_times.append(time.perf_counter() - t)
    total, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    rate = f"{args.n / total:,.0f} points/s, {args.n / cpu:,.0f} per CPU-second"
    rows.append((f"upsert, batches of {args.batch}", f"{rate} ({percentiles(batch_times)}/batch)"))
    assert store.count(COLLECTION) == args.n

    if isinstance(store, QdrantEdgeStore):  # index now rather than when the background thread gets to it
        t = time.perf_counter()
        store.optimize()
        rows.append(("optimize() (index build, blocking)", f"{time.perf_counter() - t:.1f} s"))
    rows.append(("top-10, client filter", search_latency(store, queries, args.clients, False)))
    rows.append(("top-10, client + kind filter", search_latency(store, queries, args.clients, True)))

    if isinstance(store, QdrantEdgeStore):  # what flushing on every write would have added
        shard, flushes = store._shards[COLLECTION], []
        for _ in range(10):
            store.upsert(COLLECTION, [VectorPoint(str(uuid.uuid4()), p.vector, p.payload) for p in points])
            t = time.perf_counter()
            shard.flush()
            flushes.append(time.perf_counter() - t)
        rows.append(("flush() after a batch (not done per write)", percentiles(flushes)))
    rows.append(("peak RSS", f"{rss_mb():,.0f} MB (vectors + queries in numpy: {baseline:,.0f} MB before the store)"))
    store.drop_collection(COLLECTION)
    store.close()
    workdir.cleanup()

    print(
        f"\n{backend}: {args.n:,} points x {args.dim}-d, {args.clients} clients, {len(KINDS)} kinds, "
        f"{args.queries} queries per row\n"
    )
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | result")
    print(f"|{'-' * (width + 2)}|{'-' * 60}")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value}")


if __name__ == "__main__":
    main()
