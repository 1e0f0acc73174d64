"""Qdrant Edge backend: Qdrant's engine inside the Steward process, one shard folder per collection.

Why it is built this way (measured by tests/test_vectors.py and scripts/bench_vectors.py):
- One process per folder. Edge locks a shard's WAL while it is open, so a second process fails to
  open it; the error names the fix: one Steward process (threads, not gunicorn workers), stop it
  before `steward reindex`, or set QDRANT_URL to share a Qdrant server.
- Threads share each EdgeShard with no Python lock: Edge locks inside (6 threads reading and writing
  at once: no errors; searches go on while another thread optimizes). `_lock` only guards opening,
  dropping and closing.
- Durable on return: `update` appends to Edge's WAL before returning, so an acknowledged upsert
  survives os._exit and SIGKILL and is replayed on open. `flush()` is an fsync of the shard: 13-30 ms
  on an idle disk, 250+ ms on a busy one, against ~10-25 ms for upserting 256 points. So we do not
  flush per write; a background thread flushes written collections every FLUSH_INTERVAL_S, as
  Qdrant server does, bounding what an OS crash (not a process crash) can lose.
- Edge never optimizes by itself; the same thread runs `optimize()` once writes pause. HNSW is per
  client (m=0, payload_m=16 on the `is_tenant` client_id index): every search filters on one client.
  A client under full_scan_threshold (~6.6k 384-d vectors) is searched exactly, which is fastest.
- A lost folder is an error, never a silent empty collection. `steward_collections.json` in the root
  lists every collection ever created here; one whose folder is gone (deleted while Steward was
  stopped) is refused at open, one deleted under a running Steward fails its next call, and one
  dropped and not re-created fails `ping`. Each says to run `steward reindex`, which (dropping
  first) may create it again. Callers degrade meanwhile: recall answers from full-text and says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
CREATED_FILE = "steward_collections.json"  # in the root: every collection ever created here
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


@contextmanager
def _errors(what: str, hint: str = "") -> Iterator[None]:
    """Edge raises bare Exception/ValueError/TypeError; callers only need VectorStoreError."""
    try:
        yield
    except VectorStoreError:
        raise
    except Exception as exc:
        if "WouldBlock" in str(exc):
            raise VectorStoreError(
                f"{what}: the folder is locked by another process. Qdrant Edge lets one process open it; "
                "stop the other Steward process (or set QDRANT_URL to share a Qdrant server)"
            ) from exc
        raise VectorStoreError(f"{what}: Qdrant Edge failed{hint}: {exc}") from exc


class QdrantEdgeStore(VectorStore):
    """Collections as Edge shards under `path`; see the module docstring for the design."""

    def __init__(self, model: str, dimension: int, path: Path) -> None:
        super().__init__(model, dimension)
        self.path = Path(path)
        self._shards: dict[str, qe.EdgeShard] = {}
        self._dirty: set[str] = set()  # written since the last flush
        self._unoptimized: dict[str, int] = {}  # points written since the last optimize
        self._dropped: set[str] = set()  # dropped by this store: ensure_collection may create them again
        self._lock = threading.Lock()  # the shard table: open, drop, close
        self._maintaining = threading.Lock()  # held while the background thread works on a shard
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._maintain, name="edge-maintenance", daemon=True)
        self._worker.start()

    def ensure_collection(self, name: str) -> None:
        folder = self._folder(name)
        with self._lock:
            if self._stop.is_set():
                raise VectorStoreError("the vector store is closed")
            if name not in self._shards:
                self._shards[name] = self._open(name, folder)

    def _open(self, name: str, folder: Path) -> qe.EdgeShard:
        built = (folder / "edge_config.json").exists()
        if not built and name in self._created() and name not in self._dropped:
            raise VectorStoreError(
                f"collection {name!r} is missing: {folder} was created before but is gone from disk. Run "
                "`steward reindex` (with Steward stopped) to rebuild it from Postgres"
            )
        self._check_model(name, folder, built)
        with _errors(f"opening {folder}", " (a damaged folder? stop Steward and run `steward reindex`)"):
            shard = (
                qe.EdgeShard.load(str(folder)) if built else qe.EdgeShard.create(str(folder), _config(self.dimension))
            )
            try:
                info = shard.info()
                for field, params in _indexes().items():
                    if field not in info.payload_schema:
                        shard.update(qe.UpdateOperation.create_field_index(field, params))
            except Exception:
                shard.close()
                raise
        # Points a previous process wrote but never indexed (e.g. `steward reindex` then exit).
        self._unoptimized[name] = info.points_count - info.indexed_vectors_count
        self._dropped.discard(name)
        self._record_created(name)
        return shard

    def _created(self) -> set[str]:
        try:
            return set(json.loads((self.path / CREATED_FILE).read_text()))
        except (OSError, ValueError):
            return set()

    def _record_created(self, name: str) -> None:
        created = self._created()
        if name not in created:
            (self.path / "created.tmp").write_text(json.dumps(sorted(created | {name})))
            os.replace(self.path / "created.tmp", self.path / CREATED_FILE)

    def _check_model(self, name: str, folder: Path, built: bool) -> None:
        """Compare with the model recorded in the folder, or record ours in a new one (before the shard)."""
        meta = folder / META_FILE
        if not meta.exists() and not built:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "meta.tmp").write_text(json.dumps({"model": self.model, "dimension": self.dimension}))
            os.replace(folder / "meta.tmp", meta)
            return
        try:
            found = json.loads(meta.read_text())
        except (OSError, ValueError):
            found = {"model": "an unrecorded model", "dimension": "?"}
        if (found.get("model"), found.get("dimension")) != (self.model, self.dimension):
            raise CollectionMismatch(
                f"collection {name!r} in {folder} was built with {found.get('model')} ({found.get('dimension')}-d) "
                f"but Steward now embeds with {self.model} ({self.dimension}-d); run `steward reindex` to rebuild it"
            )

    def drop_collection(self, name: str) -> None:
        folder = self._folder(name)
        with self._lock, self._maintaining:  # never delete files under a running optimize
            shard = self._shards.pop(name, None)
            self._dropped.add(name)
            self._dirty.discard(name)
            self._unoptimized.pop(name, None)
            if shard is not None:
                shard.close()
            shutil.rmtree(folder, ignore_errors=True)

    def upsert(self, collection: str, points: list[VectorPoint]) -> None:
        if not points:
            return
        for point in points:
            if not point.payload.get("client_id"):
                raise ValueError(f"point {point.id} has no client_id payload; every point belongs to a client")
        with _errors(f"writing {collection}"):
            self._shard(collection).update(
                qe.UpdateOperation.upsert_points([qe.Point(p.id, p.vector, p.payload) for p in points])
            )
        self._written(collection, len(points))

    def delete(self, collection: str, ids: list[str]) -> None:
        if ids:
            with _errors(f"deleting from {collection}"):
                self._shard(collection).update(qe.UpdateOperation.delete_points(list(ids)))
            self._written(collection, len(ids))

    def search(self, collection: str, vector: list[float], limit: int, where: VectorFilter) -> list[VectorHit]:
        query = qe.QueryRequest(
            limit=limit, query=qe.Query.Nearest(vector), filter=edge_filter(where), with_payload=True
        )
        with _errors(f"searching {collection}"):
            found = self._shard(collection).query(query)
        # min(): float rounding can give 1.0000001 for an identical vector; the invariant says <= 1.
        return [VectorHit(id=str(p.id), score=min(p.score, 1.0), payload=p.payload or {}) for p in found]

    def count(self, collection: str, where: VectorFilter | None = None) -> int:
        request = qe.CountRequest(exact=True, filter=edge_filter(where) if where else None)
        with _errors(f"counting {collection}"):
            return self._shard(collection).count(request)

    def ping(self) -> None:
        if self._stop.is_set():
            raise VectorStoreError("the vector store is closed")
        for name in sorted(set(self._shards) | self._dropped):
            self.count(name)

    def optimize(self) -> None:
        """Build indexes now, blocking; otherwise the background thread does it once writes pause."""
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

    def _folder(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"collection name {name!r} must match {_NAME.pattern}")
        return self.path / name

    def _shard(self, name: str) -> qe.EdgeShard:
        shard = self._shards.get(name)
        if shard is None:
            if self._stop.is_set():
                state = "the vector store is closed"
            elif name in self._dropped:
                state = "it was dropped; run `steward reindex` to rebuild it from Postgres"
            else:
                state = "call ensure_collection first"
            raise VectorStoreError(f"collection {name!r} is not open: {state}")
        if not (self.path / name / "edge_config.json").exists():  # one stat: cheap next to any Edge call
            raise VectorStoreError(
                f"collection {name!r}: its folder {self.path / name} was removed under the running process; "
                "writes would be lost. Stop Steward and run `steward reindex` to rebuild it from Postgres"
            )
        return shard

    def _written(self, collection: str, points: int) -> None:
        self._dirty.add(collection)
        self._unoptimized[collection] = self._unoptimized.get(collection, 0) + points  # a hint: races are harmless

    def _maintain(self) -> None:
        """Each FLUSH_INTERVAL_S: flush what was written; optimize a collection once writes to it pause
        (a bulk load is not slowed by index builds: 11.7k vs 3.6k points/s when optimizing during it)."""
        while not self._stop.wait(FLUSH_INTERVAL_S):
            with self._maintaining:
                written = [name for name in list(self._dirty) if name in self._shards]
                self._dirty.difference_update(written)  # a write during the flush marks it again
                for name in written:
                    self._tidy(name, optimize=False)
                for name, count in list(self._unoptimized.items()):
                    if count >= OPTIMIZE_AFTER and name not in written:
                        self._tidy(name, optimize=True)

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
