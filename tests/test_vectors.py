"""One behavioural suite run against both vector backends: Qdrant Edge on disk and the Qdrant server
adapter over qdrant-client's in-memory mode (no Qdrant server binary can run here). Edge also gets
persistence, crash-durability, folder-lock and thread tests, since it lives inside our process."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from steward.core.vectors import CollectionMismatch, VectorFilter, VectorPoint, VectorStore, VectorStoreError
from steward.core.vectors.edge import QdrantEdgeStore
from steward.core.vectors.server import QdrantServerStore

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")

DIM = 8
MODEL = "test-model"


def unit(*weights: float) -> list[float]:
    """A normalised DIM-d vector from its first few components."""
    v = list(weights) + [0.0] * (DIM - len(weights))
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def point(client: str, vector: list[float], **payload) -> VectorPoint:
    return VectorPoint(id=str(uuid.uuid4()), vector=vector, payload={"client_id": client, **payload})


class Backend:
    """Opens stores of one kind over the same storage, so a test can reopen with another model."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind, self.path = kind, tmp_path / "qdrant"
        self.client = QdrantClient(":memory:") if kind == "server" else None
        self.opened: list[VectorStore] = []

    def open(self, model: str = MODEL, dimension: int = DIM) -> VectorStore:
        store: VectorStore
        if self.kind == "edge":
            store = QdrantEdgeStore(model, dimension, path=self.path)
        else:
            store = QdrantServerStore(model, dimension, url="memory", client=self.client)
        self.opened.append(store)
        return store


@pytest.fixture(params=["edge", "server"])
def backend(request, tmp_path):
    b = Backend(request.param, tmp_path)
    yield b
    for store in b.opened:
        store.close()


@pytest.fixture
def store(backend) -> VectorStore:
    s = backend.open()
    s.ensure_collection("events")
    return s


def test_search_orders_best_first_with_cosine_scores(store):
    same, near, orthogonal = point("a", unit(1)), point("a", unit(1, 1)), point("a", unit(0, 1))
    store.upsert("events", [orthogonal, same, near])
    hits = store.search("events", unit(1), limit=10, where=VectorFilter(client_id="a"))
    assert [h.id for h in hits] == [same.id, near.id, orthogonal.id]
    assert [h.score for h in hits] == pytest.approx([1.0, math.sqrt(0.5), 0.0], abs=1e-5)
    assert all(h.score <= 1.0 for h in hits)
    assert hits[0].payload == {"client_id": "a"}
    assert len(store.search("events", unit(1), limit=2, where=VectorFilter(client_id="a"))) == 2


def test_a_search_never_returns_another_clients_points(store):
    mine = [point("a", unit(1, i)) for i in range(3)]
    theirs = [point("b", unit(1)) for _ in range(20)]  # closer to the query than any of mine
    store.upsert("events", mine + theirs)
    hits = store.search("events", unit(1), limit=50, where=VectorFilter(client_id="a"))
    assert {h.id for h in hits} == {p.id for p in mine}
    assert store.search("events", unit(1), limit=5, where=VectorFilter(client_id="nobody")) == []
    assert store.count("events", VectorFilter(client_id="a")) == 3
    assert store.count("events", VectorFilter(client_id="b")) == 20
    assert store.count("events") == 23


def test_kind_and_time_range_filters(store):
    note = point("a", unit(1), kind="note", occurred_ts=100.0)
    fact = point("a", unit(1, 0.1), kind="fact", occurred_ts=200)  # an int timestamp matches too
    task = point("a", unit(1, 0.2), kind="task", occurred_ts=300.0)
    store.upsert("events", [note, fact, task])

    def ids(**where) -> set[str]:
        return {h.id for h in store.search("events", unit(1), 10, VectorFilter(client_id="a", **where))}

    assert ids(match_any={"kind": ["note", "fact"]}) == {note.id, fact.id}
    assert ids(range={"occurred_ts": (150.0, 300.0)}) == {fact.id, task.id}
    assert ids(range={"occurred_ts": (None, 200.0)}) == {note.id, fact.id}
    assert ids(range={"occurred_ts": (250.0, None)}) == {task.id}
    assert ids(match_any={"kind": ["task"]}, range={"occurred_ts": (None, 250.0)}) == set()
    assert store.count("events", VectorFilter(client_id="a", match_any={"kind": ["note"]})) == 1


def test_upsert_of_the_same_id_replaces(store):
    first = point("a", unit(1), kind="note")
    store.upsert("events", [first])
    store.upsert("events", [VectorPoint(id=first.id, vector=unit(0, 1), payload={"client_id": "a", "kind": "fact"})])
    assert store.count("events") == 1
    [hit] = store.search("events", unit(0, 1), 10, VectorFilter(client_id="a"))
    assert hit.id == first.id and hit.score == pytest.approx(1.0, abs=1e-5)
    assert hit.payload["kind"] == "fact"


def test_delete_removes_points(store):
    keep, gone = point("a", unit(1)), point("a", unit(1, 1))
    store.upsert("events", [keep, gone])
    store.delete("events", [gone.id])
    store.delete("events", [])
    store.delete("events", [str(uuid.uuid4())])  # an unknown id is not an error
    assert [h.id for h in store.search("events", unit(1), 10, VectorFilter(client_id="a"))] == [keep.id]
    assert store.count("events") == 1


def test_drop_collection_deletes_data_and_tolerates_missing(store):
    store.upsert("events", [point("a", unit(1))])
    store.drop_collection("events")
    store.drop_collection("events")
    store.drop_collection("daily_threads")  # never created
    store.ensure_collection("events")
    assert store.count("events") == 0


def test_ensure_collection_is_idempotent(store):
    store.upsert("events", [point("a", unit(1))])
    store.ensure_collection("events")
    store.ensure_collection("events")
    assert store.count("events") == 1


@pytest.mark.parametrize("model, dimension", [("other-model", DIM), (MODEL, DIM * 2)])
def test_another_model_or_dimension_is_refused(backend, model, dimension):
    first = backend.open()
    first.ensure_collection("events")
    first.close()
    other = backend.open(model, dimension)
    with pytest.raises(CollectionMismatch, match="steward reindex") as err:
        other.ensure_collection("events")
    assert isinstance(err.value, VectorStoreError)
    other.drop_collection("events")  # what `steward reindex` does next
    other.ensure_collection("events")
    assert other.count("events") == 0


def test_failures_are_vector_store_errors(store):
    with pytest.raises(VectorStoreError, match="events"):
        store.upsert("events", [point("a", [1.0, 0.0])])  # wrong dimension
    with pytest.raises(VectorStoreError):
        store.search("agent_memories", unit(1), 5, VectorFilter(client_id="a"))  # never ensured
    with pytest.raises(VectorStoreError):
        store.upsert("events", [VectorPoint(id="not-a-uuid", vector=unit(1), payload={"client_id": "a"})])
    with pytest.raises(ValueError, match="client_id"):
        store.upsert("events", [VectorPoint(id=str(uuid.uuid4()), vector=unit(1), payload={})])
    store.ping()


# ---- Qdrant Edge only ------------------------------------------------------------------------


@pytest.fixture
def edge_path(tmp_path) -> Path:
    return tmp_path / "qdrant"


def test_edge_data_persists_after_close_and_reopen(edge_path):
    store = QdrantEdgeStore(MODEL, DIM, edge_path)
    store.ensure_collection("events")
    kept = point("a", unit(1), kind="note", occurred_ts=1.0)
    store.upsert("events", [kept, point("b", unit(1))])
    store.close()
    with pytest.raises(VectorStoreError, match="closed"):
        store.count("events")

    again = QdrantEdgeStore(MODEL, DIM, edge_path)
    try:
        again.ensure_collection("events")
        [hit] = again.search("events", unit(1), 10, VectorFilter(client_id="a", match_any={"kind": ["note"]}))
        assert (hit.id, hit.payload) == (kept.id, kept.payload)
        assert again.count("events") == 2
    finally:
        again.close()


CRASH = textwrap.dedent(
    """
    import os, signal, sys, uuid
    from steward.core.vectors import VectorPoint
    from steward.core.vectors.edge import QdrantEdgeStore

    path, how = sys.argv[1], sys.argv[2]
    store = QdrantEdgeStore("test-model", 8, path)
    store.ensure_collection("events")
    for batch in range(4):
        points = [VectorPoint(str(uuid.uuid4()), [1.0] + [0.0] * 7, {"client_id": "a", "batch": batch})
                  for _ in range(250)]
        store.upsert("events", points)
    print("acknowledged", flush=True)
    if how == "exit":
        os._exit(0)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_edge_acknowledged_upserts_survive_a_hard_exit(edge_path, how):
    done = subprocess.run([sys.executable, "-c", CRASH, str(edge_path), how], capture_output=True, text=True)
    assert "acknowledged" in done.stdout, done.stderr
    assert done.returncode == (0 if how == "exit" else -signal.SIGKILL)
    store = QdrantEdgeStore(MODEL, DIM, edge_path)
    try:
        store.ensure_collection("events")
        assert store.count("events", VectorFilter(client_id="a")) == 1000
        assert len(store.search("events", unit(1), 5, VectorFilter(client_id="a"))) == 5
    finally:
        store.close()


def test_edge_folder_is_held_by_one_process(edge_path):
    store = QdrantEdgeStore(MODEL, DIM, edge_path)
    store.ensure_collection("events")
    try:
        probe = textwrap.dedent(
            f"""
            from steward.core.vectors.edge import QdrantEdgeStore
            from steward.core.vectors import VectorStoreError
            try:
                QdrantEdgeStore("{MODEL}", {DIM}, {str(edge_path)!r}).ensure_collection("events")
            except VectorStoreError as exc:
                print(exc)
            """
        )
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert "another process" in out.stdout, out.stderr
    finally:
        store.close()


def test_edge_serves_concurrent_threads(edge_path):
    store = QdrantEdgeStore(MODEL, DIM, edge_path)
    store.ensure_collection("events")
    store.upsert("events", [point("a", unit(1, i / 10)) for i in range(50)])
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                if n % 2:
                    store.upsert("events", [point("a", unit(1, i)) for _ in range(5)])
                assert len(store.search("events", unit(1), 10, VectorFilter(client_id="a"))) == 10
        except BaseException as exc:  # noqa: BLE001 - collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert store.count("events") == 50 + 3 * 40 * 5
        store.optimize()
        assert store.count("events", VectorFilter(client_id="a")) == 650
    finally:
        store.close()


def test_edge_refuses_a_shard_without_model_record(edge_path):
    store = QdrantEdgeStore(MODEL, DIM, edge_path)
    store.ensure_collection("events")
    store.close()
    (edge_path / "events" / "steward_collection.json").unlink()
    again = QdrantEdgeStore(MODEL, DIM, edge_path)
    try:
        with pytest.raises(CollectionMismatch, match="steward reindex"):
            again.ensure_collection("events")
    finally:
        again.close()


def test_edge_background_thread_flushes_and_indexes_once_writes_pause(edge_path, monkeypatch):
    from steward.core.vectors import edge

    monkeypatch.setattr(edge, "FLUSH_INTERVAL_S", 0.05)
    monkeypatch.setattr(edge, "OPTIMIZE_AFTER", 100)
    store = QdrantEdgeStore(MODEL, DIM, edge_path)
    try:
        store.ensure_collection("events")
        store.upsert("events", [point("a", unit(1, i / 300)) for i in range(300)])
        deadline = time.monotonic() + 30
        while store._unoptimized.get("events") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store._unoptimized["events"] == 0 and not store._dirty
        assert len(store.search("events", unit(1), 10, VectorFilter(client_id="a"))) == 10
    finally:
        store.close()
    again = QdrantEdgeStore(MODEL, DIM, edge_path)  # a backlog left by another process is picked up
    try:
        again.ensure_collection("events")
        assert again._unoptimized["events"] == 300  # 300 points are below Edge's indexing threshold
    finally:
        again.close()
