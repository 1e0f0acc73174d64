"""Qdrant Edge backend: Qdrant's engine inside the Steward process, one shard folder per collection.

Why it is built this way (numbers from `scripts/bench_vectors.py` and tests/test_vectors.py):
- One process only. Edge locks each shard folder (its WAL) while open, so a second process that
  opens `<path>/<collection>` fails; we say so and name the fix. Run one Steward process (threads,
  not gunicorn workers), stop it before `steward reindex`, or set QDRANT_URL to share a server.
- Threads share one EdgeShard: Edge locks internally (WAL mutex, segment RwLock) and releases the
  GIL, so reads and writes take no Python lock; `_lock` guards only opening, dropping and closing.
- Durable on return. `update` appends to Edge's WAL before it returns, so an acknowledged upsert
  survives os._exit/SIGKILL and is replayed on the next open. We do not `flush()` per write (about
  15-30 ms at 100k points, 2-4x the upsert itself); a background thread flushes written
  collections every FLUSH_INTERVAL_S, as Qdrant server does, bounding what an OS crash can lose.
  Postgres is the source of truth either way.
- Edge has no background optimizer, so the same thread runs `optimize()` once OPTIMIZE_AFTER
  points were written. HNSW is per client (m=0, payload_m=16 over the `is_tenant` client_id index):
  every search filters on one client, so a global graph would only cost build time. A client with
  fewer vectors than full_scan_threshold is searched exactly, which is also the fastest path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from steward.core.vectors.base import (
    CollectionMismatch,
    VectorFilter,
    VectorHit,
    VectorPoint,
    VectorStore,
    VectorStoreError,
)

log = logging.getLogger(__name__)

META_FILE = "steward_collection.json"
FLUSH_INTERVAL_S = 5.0
OPTIMIZE_AFTER = 2_000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _indexes() -> dict[str, Any]:
    return {
        "client_id": qe.KeywordIndexParams(is_tenant=True),
        "kind": qe.KeywordIndexParams(enable_hnsw=False),  # no extra graph per kind: builds stay fast
        "occurred_ts": qe.FloatIndexParams(enable_hnsw=False),
    }


def _config(dimension: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine),
        hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000, payload_m=16),
    )


def edge_filter(where: VectorFilter) -> qe.Filter:
    must: list[Any] = [qe.FieldCondition(key="client_id", match=qe.MatchValue(where.client_id))]
    for key, values in where.match_any.items():
        must.append(qe.FieldCondition(key=key, match=qe.MatchAny(list(values))))
    for key, (gte, lte) in where.range.items():
        must.append(qe.FieldCondition(key=key, range=qe.RangeFloat(gte=gte, lte=lte)))
    return qe.Filter(must=must)


def _edge_error(exc: Exception, what: str) -> VectorStoreError:
    if "WouldBlock" in str(exc):
        return VectorStoreError(
            f"{what}: the folder is locked by another process. Qdrant Edge lets one process open it; "
            "stop the other Steward process (or set QDRANT_URL to share a Qdrant server)"
        )
    return VectorStoreError(f"{what}: Qdrant Edge failed: {exc}")


class QdrantEdgeStore(VectorStore):
    """Collections as Edge shards under `path`; see the module docstring for the design."""

    def __init__(self, model: str, dimension: int, path: Path) -> None:
        super().__init__(model, dimension)
        self.path = Path(path)
        self._shards: dict[str, qe.EdgeShard] = {}
        self._dirty: set[str] = set()  # written since the last flush
        self._unoptimized: dict[str, int] = {}  # points written since the last optimize
        self._lock = threading.Lock()  # the shard table: open, drop, close
        self._maintaining = threading.Lock()  # held while the background thread works on a shard
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._maintain, name="edge-maintenance", daemon=True)
        self._worker.start()

    # ---- collections -------------------------------------------------------------------
    def ensure_collection(self, name: str) -> None:
        folder = self._folder(name)
        with self._lock:
            if self._stop.is_set():
                raise VectorStoreError("the vector store is closed")
            if name not in self._shards:
                self._shards[name] = self._open(name, folder)

    def _open(self, name: str, folder: Path) -> qe.EdgeShard:
        meta, built = folder / META_FILE, (folder / "edge_config.json").exists()
        if meta.exists() or built:
            try:
                found = json.loads(meta.read_text())
            except (OSError, ValueError):
                found = {"model": "an unknown model", "dimension": "?"}
            if (found.get("model"), found.get("dimension")) != (self.model, self.dimension):
                raise CollectionMismatch(
                    f"collection {name!r} in {folder} was built with {found.get('model')} "
                    f"({found.get('dimension')}-d) but Steward now embeds with {self.model} "
                    f"({self.dimension}-d); run `steward reindex` to rebuild it"
                )
        else:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = meta.with_suffix(".tmp")
            tmp.write_text(json.dumps({"model": self.model, "dimension": self.dimension}))
            os.replace(tmp, meta)
        try:
            shard = qe.EdgeShard.load(str(folder)) if built else qe.EdgeShard.create(str(folder), _config(self.dimension))
        except Exception as exc:
            raise _edge_error(exc, f"opening {folder}") from exc
        try:
            present = set(shard.info().payload_schema)
            for field, params in _indexes().items():
                if field not in present:
                    shard.update(qe.UpdateOperation.create_field_index(field, params))
        except Exception as exc:
            shard.close()
            raise _edge_error(exc, f"indexing {folder}") from exc
        return shard

    def drop_collection(self, name: str) -> None:
        folder = self._folder(name)
        with self._lock, self._maintaining:  # never delete files under a running optimize
            shard = self._shards.pop(name, None)
            self._dirty.discard(name)
            self._unoptimized.pop(name, None)
            if shard is not None:
                shard.close()
            shutil.rmtree(folder, ignore_errors=True)

    # ---- points ------------------------------------------------------------------------
    def upsert(self, collection: str, points: list[VectorPoint]) -> None:
        if not points:
            return
        for point in points:
            if not point.payload.get("client_id"):
                raise ValueError(f"point {point.id} has no client_id payload; every point belongs to a client")
        op = qe.UpdateOperation.upsert_points([qe.Point(p.id, p.vector, p.payload) for p in points])
        self._update(collection, op, len(points))

    def delete(self, collection: str, ids: list[str]) -> None:
        if ids:
            self._update(collection, qe.UpdateOperation.delete_points(list(ids)), len(ids))

    def search(self, collection: str, vector: list[float], limit: int, where: VectorFilter) -> list[VectorHit]:
        request = qe.QueryRequest(
            limit=limit, query=qe.Query.Nearest(vector), filter=edge_filter(where), with_payload=True
        )
        try:
            found = self._shard(collection).query(request)
        except Exception as exc:
            raise _edge_error(exc, f"searching {collection}") from exc
        # min(): float rounding can give 1.0000001 for an identical vector; the invariant says <= 1.
        return [VectorHit(id=str(p.id), score=min(p.score, 1.0), payload=p.payload or {}) for p in found]

    def count(self, collection: str, where: VectorFilter | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=edge_filter(where) if where else None)
        try:
            return self._shard(collection).count(request)
        except Exception as exc:
            raise _edge_error(exc, f"counting {collection}") from exc

    def ping(self) -> None:
        if self._stop.is_set():
            raise VectorStoreError("the vector store is closed")
        for name in list(self._shards):
            self.count(name)

    def optimize(self) -> None:
        """Build indexes now, blocking (reindex and the benchmark call it; otherwise it runs behind)."""
        with self._maintaining:
            for name in list(self._shards):
                self._tidy(name, optimize=True)

    def close(self) -> None:
        self._stop.set()
        self._worker.join()
        with self._lock, self._maintaining:
            for shard in self._shards.values():
                shard.close()  # flushes
            self._shards.clear()

    # ---- internals ---------------------------------------------------------------------
    def _folder(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"collection name {name!r} must match {_NAME.pattern}")
        return self.path / name

    def _shard(self, name: str) -> qe.EdgeShard:
        shard = self._shards.get(name)
        if shard is None:
            state = "the vector store is closed" if self._stop.is_set() else "call ensure_collection first"
            raise VectorStoreError(f"collection {name!r} is not open: {state}")
        return shard

    def _update(self, collection: str, op: qe.UpdateOperation, points: int) -> None:
        try:
            self._shard(collection).update(op)
        except Exception as exc:
            raise _edge_error(exc, f"writing {collection}") from exc
        self._dirty.add(collection)
        self._unoptimized[collection] = self._unoptimized.get(collection, 0) + points  # a hint: races are harmless

    def _maintain(self) -> None:
        """Every FLUSH_INTERVAL_S: flush written shards, optimize those with OPTIMIZE_AFTER new points."""
        while not self._stop.wait(FLUSH_INTERVAL_S):
            with self._maintaining:
                for name in list(self._dirty):
                    self._dirty.discard(name)  # a write during the flush marks it again
                    self._tidy(name, optimize=self._unoptimized.get(name, 0) >= OPTIMIZE_AFTER)

    def _tidy(self, name: str, optimize: bool) -> None:
        shard = self._shards.get(name)
        if shard is None:
            return
        try:
            if optimize:
                self._unoptimized[name] = 0
                shard.optimize()
            shard.flush()
        except Exception:
            log.exception("flush/optimize of vector collection %s failed; Edge's WAL still holds the writes", name)
