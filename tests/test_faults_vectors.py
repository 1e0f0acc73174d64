"""The vector store unreachable or a collection missing: recall answers from full-text with
`degraded: true` and a reason, writes are kept (saved unindexed), /health/ready names the problem
and the fix, and `steward reindex` restores vector results.

Qdrant Edge: a collection dropped through the adapter, a folder deleted under the running process
or while it was stopped, a corrupted folder; the real `steward reindex` CLI runs while Steward is
stopped (Edge lets one process hold the folder). The server adapter: a collection deleted, and a
server that does not answer (a closed port). Embeddings come from the local fake provider, so the
CLI has no model to load.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fault_helpers import free_port, serve

from fakes.openai_server import FakeOpenAI
from steward.app import create_app
from steward.core import db as core_db
from steward.core.cache import open_cache
from steward.core.reindex import rebuild
from steward.core.runtime import Runtime
from steward.core.vectors import COLLECTIONS
from support import Api, make_settings

M = "/api/v1/memory"
QUESTION = "where is the spare key?"


@pytest.fixture(scope="module")
def embeddings():
    with FakeOpenAI(dimension=384) as fake:
        yield fake


@pytest.fixture
def edge(database_url, tmp_path, embeddings):
    """Settings for an app on its own Edge folder, and the environment for the CLI on the same."""
    data = tmp_path / "data"
    fake = {"embeddings_base_url": embeddings.url, "embeddings_model": "fake-384", "embeddings_dimension": 384}
    settings = make_settings(database_url, data, steward_services="memory,events", **fake)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEWARD_", "DATABASE_", "QDRANT_", "REDIS_"))}
    env.update(
        DATABASE_URL=database_url,
        STEWARD_DATA_DIR=str(data),
        STEWARD_FIRST_RUN_KEY="false",
        EMBEDDINGS_BASE_URL=embeddings.url,
        EMBEDDINGS_MODEL="fake-384",
        EMBEDDINGS_DIMENSION="384",
    )
    return settings, env


def reindex_cli(env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "steward.cli", "reindex"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def recall(api: Api, client_id: str) -> dict:
    resp = api.get(f"{M}/recall", params={"client_id": client_id, "q": QUESTION})
    assert resp.status_code == 200, resp.text
    return resp.json()


def assert_degraded(api: Api, client_id: str, ids: set[str], why: str) -> None:
    """Full-text answers, flagged; /health/ready names the broken collection and the fix."""
    body = recall(api, client_id)
    assert body["degraded"] is True and "full-text" in body["degraded_reason"]
    assert {h["id"] for h in body["hits"]} == ids and all(h["matched_by"] == ["text"] for h in body["hits"])
    ready = api.get("/health/ready")
    assert ready.status_code == 503, ready.text
    vectors = ready.json()["dependencies"]["vectors"]
    assert vectors["status"] == "down" and why in vectors["detail"] and "steward reindex" in vectors["detail"]


def assert_restored(api: Api, client_id: str, ids: set[str]) -> None:
    body = recall(api, client_id)
    assert body["degraded"] is False
    assert {h["id"] for h in body["hits"]} == ids and all("vector" in h["matched_by"] for h in body["hits"])
    assert api.get("/health/ready").status_code == 200


def remember(api: Api, client_id: str, text: str, indexed: bool) -> str:
    made = api.post(f"{M}/remember", json={"client_id": client_id, "text": text})
    assert made.status_code == 201 and made.json()["indexed"] is indexed, made.text
    return made.json()["id"]


@pytest.mark.parametrize("fault", ["dropped through the adapter", "folder deleted under the running process"])
def test_a_lost_edge_collection_degrades_recall_and_reindex_restores_it(fault, edge, keys, client_id, tmp_path):
    settings, env = edge
    app = create_app(settings)
    with serve(app) as url:
        api = Api(url, keys.write)
        first = remember(api, client_id, "The spare key is under the blue flower pot", indexed=True)
        assert_restored(api, client_id, {first})
        if fault == "dropped through the adapter":
            app.extensions["steward"].vectors.drop_collection("agent_memories")
            why = "dropped"
        else:
            shutil.rmtree(settings.steward_data_dir / "qdrant" / "agent_memories")
            why = "removed"
        second = remember(api, client_id, "A second spare key hangs in the garden shed", indexed=False)
        assert_degraded(api, client_id, {first, second}, why)

    with serve(create_app(settings)) as url:  # restarted without a reindex: still refused, never silently empty
        assert_degraded(Api(url, keys.write), client_id, {first, second}, "missing")

    assert "agent_memories=2" in reindex_cli(env, tmp_path)  # Steward stopped: the CLI may open the folder
    with serve(create_app(settings)) as url:
        assert_restored(Api(url, keys.write), client_id, {first, second})


def test_a_corrupted_edge_folder_degrades_recall_until_reindex(edge, keys, client_id, tmp_path):
    settings, env = edge
    with serve(create_app(settings)) as url:
        first = remember(Api(url, keys.write), client_id, "The spare key is under the blue flower pot", indexed=True)
    (settings.steward_data_dir / "qdrant" / "agent_memories" / "edge_config.json").write_text('{"vectors": {"si')
    with serve(create_app(settings)) as url:
        api = Api(url, keys.write)
        second = remember(api, client_id, "A second spare key hangs in the garden shed", indexed=False)
        assert_degraded(api, client_id, {first, second}, "damaged")
    assert "agent_memories=2" in reindex_cli(env, tmp_path)
    with serve(create_app(settings)) as url:
        assert_restored(Api(url, keys.write), client_id, {first, second})


def test_the_server_adapter_without_its_collection_or_its_server(database_url, tmp_path, keys, client_id, embeddings):
    from qdrant_client import QdrantClient

    from steward.core.vectors.server import QdrantServerStore

    fake = {"embeddings_base_url": embeddings.url, "embeddings_model": "fake-384", "embeddings_dimension": 384}
    settings = make_settings(database_url, tmp_path / "data", steward_services="memory,events", **fake)
    store = QdrantServerStore("fake-384", 384, url=":memory:", client=QdrantClient(":memory:"))
    for name in COLLECTIONS:
        store.ensure_collection(name)
    runtime = Runtime(
        settings=settings, pool=core_db.open_pool(database_url, 4), cache=open_cache(None), _vectors=store
    )
    with serve(create_app(settings, runtime=runtime)) as url:
        api = Api(url, keys.write)
        first = remember(api, client_id, "The spare key is under the blue flower pot", indexed=True)
        assert_restored(api, client_id, {first})
        store.drop_collection("agent_memories")  # deleted on the server, through the adapter
        second = remember(api, client_id, "A second spare key hangs in the garden shed", indexed=False)
        assert_degraded(api, client_id, {first, second}, "missing")
        assert rebuild(runtime)["agent_memories"] == 2  # what `steward reindex` runs
        assert_restored(api, client_id, {first, second})

    closed = make_settings(
        database_url,
        tmp_path / "closed",
        steward_services="memory",
        qdrant_url=f"http://127.0.0.1:{free_port()}",
        **fake,
    )
    with serve(create_app(closed)) as url:
        api = Api(url, keys.write)
        third = remember(api, client_id, "The spare key for the car is in the drawer", indexed=False)
        body = recall(api, client_id)
        assert body["degraded"] is True and third in {h["id"] for h in body["hits"]}
        vectors = api.get("/health/ready").json()["dependencies"]["vectors"]
        assert vectors["status"] == "down" and vectors["backend"] == "qdrant-server"
