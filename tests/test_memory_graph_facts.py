"""The knowledge graph (the brief's pattern hierarchy) and facts that supersede with history."""

from __future__ import annotations

M = "/api/v1/memory"


def node(api, client_id, node_id, node_type, name, **properties):
    resp = api.post(
        f"{M}/graph/nodes",
        json={"client_id": client_id, "id": node_id, "node_type": node_type, "name": name, "properties": properties},
    )
    assert resp.status_code in (200, 201), resp.text
    return resp


def edge(api, client_id, source, target, edge_type, weight=1.0):
    resp = api.post(
        f"{M}/graph/edges",
        json={
            "client_id": client_id,
            "source_id": source,
            "target_id": target,
            "edge_type": edge_type,
            "weight": weight,
        },
    )
    assert resp.status_code in (200, 201), resp.text
    return resp


def build_hierarchy(api, client_id) -> dict[str, str]:
    """blueprint -> workflow -> template -> execution_run (twice), plus a second workflow."""
    ids = {name: f"{name}-{client_id}" for name in ("bp", "wf", "wf2", "tpl", "run1", "run2")}
    node(api, client_id, ids["bp"], "blueprint", "Client onboarding")
    node(api, client_id, ids["wf"], "workflow", "Kick-off", owner="ops")
    node(api, client_id, ids["wf2"], "workflow", "Offboarding")
    node(api, client_id, ids["tpl"], "process_template", "Kick-off call template")
    node(api, client_id, ids["run1"], "execution_run", "Kick-off for ACME")
    node(api, client_id, ids["run2"], "execution_run", "Kick-off for Globex")
    edge(api, client_id, ids["bp"], ids["wf"], "has_workflow")
    edge(api, client_id, ids["bp"], ids["wf2"], "has_workflow")
    edge(api, client_id, ids["wf"], ids["tpl"], "uses_template")
    edge(api, client_id, ids["tpl"], ids["run1"], "executed_as")
    edge(api, client_id, ids["tpl"], ids["run2"], "executed_as")
    return ids


def test_pattern_hierarchy_neighbors_and_path(api, client_id):
    ids = build_hierarchy(api, client_id)
    one = api.get(f"{M}/graph/neighbors", params={"client_id": client_id, "entity_id": ids["wf"]}).json()
    assert {(n["id"], n["direction"], n["edge_type"]) for n in one["neighbors"]} == {
        (ids["bp"], "in", "has_workflow"),
        (ids["tpl"], "out", "uses_template"),
    }
    down = api.get(
        f"{M}/graph/neighbors", params={"client_id": client_id, "entity_id": ids["bp"], "depth": 3, "direction": "out"}
    ).json()["neighbors"]
    assert {n["id"]: n["depth"] for n in down} == {
        ids["wf"]: 1,
        ids["wf2"]: 1,
        ids["tpl"]: 2,
        ids["run1"]: 3,
        ids["run2"]: 3,
    }
    assert next(n for n in down if n["id"] == ids["run1"])["via"] == ids["tpl"]
    runs = api.get(
        f"{M}/graph/neighbors", params={"client_id": client_id, "entity_id": ids["tpl"], "edge_types": "executed_as"}
    ).json()["neighbors"]
    assert {n["node_type"] for n in runs} == {"execution_run"} and len(runs) == 2

    why = api.get(f"{M}/graph/path", params={"client_id": client_id, "from": ids["run1"], "to": ids["bp"]}).json()
    assert why["found"] is True and why["length"] == 3
    assert [n["node_type"] for n in why["nodes"]] == ["execution_run", "process_template", "workflow", "blueprint"]
    assert why["edges"][0] == {
        "source_id": ids["tpl"],
        "target_id": ids["run1"],
        "edge_type": "executed_as",
        "direction": "in",
    }
    none = api.get(
        f"{M}/graph/path", params={"client_id": client_id, "from": ids["run1"], "to": ids["wf2"], "max_depth": 2}
    ).json()
    assert none == {"found": False, "length": None, "nodes": [], "edges": []}


def test_nodes_and_edges_upsert(api, client_id, db):
    ids = build_hierarchy(api, client_id)
    again = node(api, client_id, ids["wf"], "workflow", "Kick-off v2", owner="sales")
    assert again.status_code == 200 and again.json()["name"] == "Kick-off v2"
    updated = edge(api, client_id, ids["wf"], ids["tpl"], "uses_template", weight=0.5)
    assert updated.status_code == 200 and updated.json()["weight"] == 0.5
    assert db.execute("SELECT count(*) AS n FROM graph_edges WHERE client_id = %s", (client_id,)).fetchone()["n"] == 5


def test_graph_bad_input(api, client_id):
    bad_depth = api.get(f"{M}/graph/neighbors", params={"client_id": client_id, "entity_id": "x", "depth": 9})
    assert bad_depth.status_code == 400 and bad_depth.json()["error"]["details"][0]["field"] == "depth"
    bad_id = api.post(
        f"{M}/graph/nodes", json={"client_id": client_id, "id": "has space", "node_type": "t", "name": "n"}
    )
    assert bad_id.status_code == 400 and bad_id.json()["error"]["details"][0]["field"] == "id"
    missing = api.get(f"{M}/graph/path", params={"client_id": client_id, "to": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["details"][0]["field"] == "from"
    unknown = api.get(f"{M}/graph/neighbors", params={"client_id": client_id, "entity_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["details"][0]["field"] == "entity_id"


# ---- facts ---------------------------------------------------------------------------------
def assert_fact(api, client_id, obj, valid_from, predicate="lives in", subject="Alice", **extra):
    resp = api.post(
        f"{M}/facts",
        json={
            "client_id": client_id,
            "subject": subject,
            "predicate": predicate,
            "object": obj,
            "valid_from": valid_from,
            **extra,
        },
    )
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def test_single_valued_fact_supersedes_with_history_and_as_of(api, client_id, db):
    berlin = assert_fact(api, client_id, "Berlin", "2024-01-01T00:00:00Z")
    munich = assert_fact(api, client_id, "Munich", "2025-06-01T00:00:00Z")
    assert munich["superseded"] == [berlin["fact"]["id"]]
    current = api.get(f"{M}/facts", params={"client_id": client_id, "subject": "alice"}).json()["facts"]
    assert [f["object"] for f in current] == ["Munich"] and current[0]["predicate"] == "lives_in"
    then = api.get(f"{M}/facts", params={"client_id": client_id, "as_of": "2024-07-01T00:00:00Z"}).json()["facts"]
    assert [f["object"] for f in then] == ["Berlin"]

    # arrives late but happened first: it slots in before Berlin instead of overwriting anything
    hamburg = assert_fact(api, client_id, "Hamburg", "2020-03-01T00:00:00Z")
    assert hamburg["superseded"] == [] and hamburg["fact"]["superseded_by"] == berlin["fact"]["id"]
    history = api.get(f"{M}/facts/{munich['fact']['id']}/history", params={"client_id": client_id}).json()
    chain = history["chain"]
    assert [f["object"] for f in chain] == ["Hamburg", "Berlin", "Munich"]
    assert [f["current"] for f in chain] == [False, False, True]
    assert chain[1]["invalid_at"] == "2025-06-01T00:00:00Z" and chain[1]["superseded_by"] == munich["fact"]["id"]
    assert db.execute("SELECT count(*) AS n FROM facts WHERE client_id = %s", (client_id,)).fetchone()["n"] == 3

    now = api.get(f"{M}/recall", params={"client_id": client_id, "q": "Where does Alice live?"}).json()["hits"]
    assert [h["text"] for h in now] == ["Alice lives in Munich"]
    past = api.get(
        f"{M}/recall", params={"client_id": client_id, "q": "Where does Alice live?", "as_of": "2024-07-01T00:00:00Z"}
    ).json()["hits"]
    assert [h["text"] for h in past] == ["Alice lives in Berlin"]
    used_to = api.get(
        f"{M}/recall",
        params={"client_id": client_id, "q": "Where did Alice use to live?", "include_superseded": "true"},
    ).json()["hits"]
    assert {h["text"] for h in used_to} == {"Alice lives in Munich", "Alice lives in Berlin", "Alice lives in Hamburg"}


def test_same_value_is_unchanged_and_multi_valued_predicates_accumulate(api, client_id):
    first = assert_fact(api, client_id, "Berlin", "2024-01-01T00:00:00Z")
    same = assert_fact(api, client_id, "berlin", "2024-05-01T00:00:00Z")
    assert same["unchanged"] is True and same["fact"]["id"] == first["fact"]["id"]
    assert_fact(api, client_id, "jazz", "2024-01-01T00:00:00Z", predicate="likes")
    assert_fact(api, client_id, "hiking", "2024-02-01T00:00:00Z", predicate="likes")
    likes = api.get(f"{M}/facts", params={"client_id": client_id, "predicate": "likes"}).json()["facts"]
    assert sorted(f["object"] for f in likes) == ["hiking", "jazz"]


def test_declared_single_valued_predicate_and_invalidate(api, client_id):
    assert_fact(api, client_id, "Acme", "2024-01-01T00:00:00Z", predicate="consults for", single_valued=True)
    second = assert_fact(api, client_id, "Globex", "2024-03-01T00:00:00Z", predicate="consults for")
    assert len(second["superseded"]) == 1
    ended = api.post(
        f"{M}/facts/{second['fact']['id']}/invalidate",
        json={"client_id": client_id, "invalid_at": "2024-09-01T00:00:00Z"},
    )
    assert ended.status_code == 200 and ended.json()["current"] is False
    assert api.get(f"{M}/facts", params={"client_id": client_id, "predicate": "consults_for"}).json()["facts"] == []
    everything = api.get(f"{M}/facts", params={"client_id": client_id, "include_history": "true"}).json()["facts"]
    assert len(everything) == 2


def test_fact_bad_input(api, client_id):
    for body, field in (
        ({"predicate": "lives; drop"}, "predicate"),
        ({"object": ""}, "object"),
        ({"valid_from": "soon"}, "valid_from"),
    ):
        resp = api.post(
            f"{M}/facts",
            json={"client_id": client_id, "subject": "Alice", "predicate": "lives_in", "object": "Berlin", **body},
        )
        assert resp.status_code == 400 and resp.json()["error"]["details"][0]["field"] == field, resp.text
