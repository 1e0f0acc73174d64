"""Memory gateway over HTTP: remember (dedup, batch, idempotency, supersession), recall filters,
documents, similar events, compaction and retention, bad input, and client isolation on every route."""

from __future__ import annotations

import uuid

import pytest

M = "/api/v1/memory"


def remember(api, client_id, text, **extra):
    resp = api.post(f"{M}/remember", json={"client_id": client_id, "text": text, **extra})
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


def recall(api, client_id, q, **params):
    resp = api.get(f"{M}/recall", params={"client_id": client_id, "q": q, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def count(db, client_id):
    return db.execute("SELECT count(*) AS n FROM memories WHERE client_id = %s", (client_id,)).fetchone()["n"]


# ---- remember ------------------------------------------------------------------------------
def test_remember_then_recall_with_score_kind_time_and_provenance(api, client_id):
    made = api.post(
        f"{M}/remember",
        json={
            "client_id": client_id,
            "text": "Prefers deep-work blocks before noon",
            "kind": "preference",
            "metadata": {"topic": "scheduling"},
            "provenance": {"source": "telegram", "message_id": "42"},
            "occurred_at": "2026-03-02T09:00:00+01:00",
        },
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["duplicate"] is False and body["indexed"] is True
    assert body["occurred_at"] == "2026-03-02T08:00:00Z"
    hits = recall(api, client_id, "when does the user like to do focused work?")["hits"]
    assert hits[0]["id"] == body["id"]
    assert hits[0]["kind"] == "preference" and hits[0]["provenance"]["source"] == "telegram"
    assert hits[0]["score"] > 0 and "vector" in hits[0]["matched_by"] and hits[0]["current"] is True


def test_exact_duplicate_returns_the_existing_memory(api, client_id, db):
    first = remember(api, client_id, "Dentist appointment is on Friday")
    again = api.post(f"{M}/remember", json={"client_id": client_id, "text": "  dentist appointment is on   FRIDAY "})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["id"] == first["id"] and count(db, client_id) == 1
    other_kind = remember(api, client_id, "Dentist appointment is on Friday", kind="task")
    assert other_kind["id"] != first["id"]


def test_batch_remember_counts_duplicates_inside_and_across_batches(api, client_id, db):
    remember(api, client_id, "Alpha")
    resp = api.post(
        f"{M}/remember/batch",
        json={
            "client_id": client_id,
            "items": [
                {"text": "Alpha"},
                {"text": "Beta", "kind": "fact"},
                {"text": "Beta", "kind": "fact"},
                {"text": "Gamma"},
            ],
        },
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["created"], body["duplicates"]) == (2, 2)
    assert body["items"][1]["id"] == body["items"][2]["id"]
    assert count(db, client_id) == 3


def test_idempotency_key_replays_instead_of_writing_twice(api, client_id, db):
    headers = {"Idempotency-Key": f"mem-{uuid.uuid4()}"}
    body = {"client_id": client_id, "text": "Renew passport in May"}
    first = api.post(f"{M}/remember", json=body, headers=headers)
    second = api.post(f"{M}/remember", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json()["id"] == first.json()["id"]
    assert count(db, client_id) == 1


def test_supersedes_keeps_history_and_as_of_sees_the_past(api, client_id):
    old = remember(api, client_id, "Weekly sync is on Tuesdays", kind="fact", occurred_at="2026-01-05T10:00:00Z")
    new = remember(
        api,
        client_id,
        "Weekly sync moved to Thursdays",
        kind="fact",
        occurred_at="2026-02-01T10:00:00Z",
        supersedes=old["id"],
    )
    now_hits = recall(api, client_id, "which day is the weekly sync?")["hits"]
    assert [h["id"] for h in now_hits] == [new["id"]]
    past = recall(api, client_id, "which day is the weekly sync?", as_of="2026-01-20T00:00:00Z")["hits"]
    assert [h["id"] for h in past] == [old["id"]] and past[0]["current"] is True
    everything = recall(api, client_id, "which day is the weekly sync?", include_superseded="true")["hits"]
    flags = {h["id"]: h["current"] for h in everything}
    assert flags == {new["id"]: True, old["id"]: False}
    assert everything[-1]["superseded_by"] == new["id"] if everything[-1]["id"] == old["id"] else True


def test_recall_filters_by_kind_and_caches_until_the_next_write(api, client_id):
    remember(api, client_id, "Likes oat milk in coffee", kind="preference")
    remember(api, client_id, "Bought oat milk yesterday", kind="note")
    prefs = recall(api, client_id, "oat milk", kinds="preference")
    assert {h["kind"] for h in prefs["hits"]} == {"preference"} and prefs["cached"] is False
    assert recall(api, client_id, "oat milk", kinds="preference")["cached"] is True
    remember(api, client_id, "Switched to soy milk", kind="preference")
    fresh = recall(api, client_id, "oat milk", kinds="preference")
    assert fresh["cached"] is False and len(fresh["hits"]) == 2


def test_reflections_live_in_daily_threads_and_are_recalled(app, api, client_id):
    made = remember(
        api,
        client_id,
        "Today went well: shipped the invoice export",
        kind="reflection",
        metadata={"date": "2026-11-20"},
    )
    hits = recall(api, client_id, "how did the invoice export go?", kinds="reflection")["hits"]
    assert hits[0]["id"] == made["id"]
    from steward.core.vectors import VectorFilter

    assert app.extensions["steward"].vectors.count("daily_threads", VectorFilter(client_id=client_id)) == 1


def test_get_memory_by_id(api, client_id):
    made = remember(api, client_id, "Car insurance renews in August")
    got = api.get(f"{M}/memories/{made['id']}", params={"client_id": client_id})
    assert got.status_code == 200 and got.json()["text"] == "Car insurance renews in August"


# ---- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, field",
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 8001}, "text"),
        ({"text": "ok", "kind": "gossip"}, "kind"),
        ({"text": "ok", "occurred_at": "yesterday"}, "occurred_at"),
        ({"text": "ok", "occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
        ({"text": "ok", "metadata": "not an object"}, "metadata"),
        ({"text": "ok", "surprise": 1}, "surprise"),
        ({"text": "ok", "client_id": ""}, "client_id"),
    ],
)
def test_remember_rejects_bad_input_naming_the_field(api, client_id, db, body, field):
    resp = api.post(f"{M}/remember", json={"client_id": client_id, **body})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["details"][0]["field"] == field
    assert count(db, client_id) == 0


def test_bad_batch_item_writes_nothing(api, client_id, db):
    resp = api.post(f"{M}/remember/batch", json={"client_id": client_id, "items": [{"text": "fine"}, {"text": ""}]})
    assert resp.status_code == 400 and resp.json()["error"]["details"][0]["field"] == "items.1.text"
    missing = api.post(
        f"{M}/remember/batch",
        json={
            "client_id": client_id,
            "items": [{"text": "fine"}, {"text": "replaces nothing", "supersedes": str(uuid.uuid4())}],
        },
    )
    assert missing.status_code == 404 and missing.json()["error"]["details"][0]["field"] == "items.1.supersedes"
    assert count(db, client_id) == 0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"k": "0"}, "k"),
        ({"k": "51"}, "k"),
        ({"k": "ten"}, "k"),
        ({"kinds": "note,gossip"}, "kinds.1"),
        ({"since": "last tuesday"}, "since"),
        ({"as_of": "2026-13-01T00:00:00Z"}, "as_of"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "body"),
        ({"q": ""}, "q"),
        ({"q": "x" * 1001}, "q"),
    ],
)
def test_recall_rejects_bad_input_naming_the_field(api, client_id, params, field):
    resp = api.get(f"{M}/recall", params={"client_id": client_id, "q": "anything", **params})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["details"][0]["field"] == field


def test_missing_client_id_is_a_400_everywhere(api):
    for path in (
        "/recall?q=x",
        "/search/docs?q=x",
        "/graph/neighbors?entity_id=a",
        "/graph/path?from=a&to=b",
        f"/similar/events?event_id={uuid.uuid4()}",
        "/facts",
        "/retention",
    ):
        resp = api.get(M + path)
        assert resp.status_code == 400, (path, resp.text)
        assert "client_id" in [d["field"] for d in resp.json()["error"]["details"]], path


# ---- documents -----------------------------------------------------------------------------
GUIDE = """# Runbook

## Backups
Backups run nightly at 02:00 with pg_dump into the offsite bucket. Restores are tested monthly.

## Deploys
Deploys go out on Wednesdays after the standup. Roll back with the previous image tag.
""" + "\n".join(f"Paragraph {n} about the deploy checklist and its reviewers." for n in range(40))


def test_documents_are_chunked_with_overlap_and_searchable(api, client_id, db):
    resp = api.post(
        f"{M}/docs",
        json={
            "client_id": client_id,
            "title": "Ops runbook",
            "text": GUIDE,
            "external_id": "runbook",
            "chunk_size": 400,
            "overlap": 80,
        },
    )
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert doc["chunk_count"] >= 4
    chunks = db.execute(
        "SELECT position, start_char, end_char, heading FROM doc_chunks WHERE document_id = %s ORDER BY position",
        (doc["id"],),
    ).fetchall()
    deploys = [c for c in chunks if c["heading"].endswith("Deploys")]
    assert any(b["start_char"] < a["end_char"] for a, b in zip(deploys, deploys[1:], strict=False))
    found = api.get(f"{M}/search/docs", params={"client_id": client_id, "q": "when do backups run?"}).json()
    top = found["hits"][0]
    assert "nightly at 02:00" in top["text"] and top["heading"] == "Runbook > Backups"
    assert top["document_id"] == doc["id"] and top["document_title"] == "Ops runbook"
    assert GUIDE[top["start_char"] : top["end_char"]] == top["text"]


def test_document_duplicate_and_replacement_by_external_id(api, client_id, db):
    body = {"client_id": client_id, "text": "Version one says the office opens at 8.", "external_id": "hours"}
    first = api.post(f"{M}/docs", json=body).json()
    assert api.post(f"{M}/docs", json=body).json()["duplicate"] is True
    replaced = api.post(f"{M}/docs", json={**body, "text": "Version two says the office opens at 9."})
    assert replaced.status_code == 200 and replaced.json()["replaced"] is True and replaced.json()["id"] == first["id"]
    hits = api.get(f"{M}/search/docs", params={"client_id": client_id, "q": "office opens"}).json()["hits"]
    assert [h["text"] for h in hits] == ["Version two says the office opens at 9."]


def test_document_bad_input(api, client_id):
    for body, field in (
        ({"text": ""}, "text"),
        ({"text": "x", "format": "pdf"}, "format"),
        ({"text": "x", "chunk_size": 50}, "chunk_size"),
    ):
        resp = api.post(f"{M}/docs", json={"client_id": client_id, **body})
        assert resp.status_code == 400 and resp.json()["error"]["details"][0]["field"] == field, resp.text


# ---- similar events ------------------------------------------------------------------------
def test_similar_events_are_embedded_when_logged(api, client_id):
    def log(event_type, payload):
        resp = api.post(
            "/api/v1/events",
            json={"event_type": event_type, "event_source": "n8n", "client_id": client_id, "payload": payload},
        )
        assert resp.status_code == 201, resp.text
        return resp.json()["id"]

    target = log("task_completed", {"title": "File the quarterly VAT return"})
    close = log("task_completed", {"title": "Submit VAT return for Q2"})
    log("meeting_scheduled", {"title": "Lunch with Sam"})
    log("email_received", {"subject": "Newsletter: gardening tips"})
    resp = api.get(f"{M}/similar/events", params={"client_id": client_id, "event_id": target, "k": 2})
    assert resp.status_code == 200, resp.text
    hits = resp.json()["hits"]
    assert hits[0]["id"] == close and target not in [h["id"] for h in hits] and len(hits) == 2


# ---- compaction and retention --------------------------------------------------------------
def test_compaction_merges_near_duplicates_keeping_sources_but_not_changed_numbers(api, client_id, db):
    keep = remember(api, client_id, "Sam prefers tea over coffee", kind="preference", provenance={"source": "chat"})
    dup = remember(api, client_id, "Sam prefers tea over coffee!", kind="preference", provenance={"source": "email"})
    three = remember(api, client_id, "The standup is at 9:30", kind="fact")
    four = remember(api, client_id, "The standup is at 10:30", kind="fact")
    dry = api.post(f"{M}/compact", json={"client_id": client_id, "dry_run": True}).json()
    assert dry["merged"] == [{"survivor": keep["id"], "merged": [dup["id"]]}]
    assert db.execute("SELECT merged_into FROM memories WHERE id = %s", (dup["id"],)).fetchone()["merged_into"] is None
    done = api.post(f"{M}/compact", json={"client_id": client_id}).json()
    assert done["merged"] == dry["merged"]
    row = db.execute("SELECT merged_into FROM memories WHERE id = %s", (dup["id"],)).fetchone()
    assert str(row["merged_into"]) == keep["id"]
    survivor = db.execute("SELECT provenance, mention_count FROM memories WHERE id = %s", (keep["id"],)).fetchone()
    assert survivor["provenance"]["merged"][0]["provenance"] == {"source": "email"}
    assert survivor["mention_count"] == 2
    hits = recall(api, client_id, "what does Sam drink?", k=10)["hits"]
    assert dup["id"] not in [h["id"] for h in hits] and keep["id"] in [h["id"] for h in hits]
    assert {three["id"], four["id"]} <= {h["id"] for h in recall(api, client_id, "standup time", k=10)["hits"]}


def test_retention_expires_old_memories_of_that_kind_only(api, client_id, db):
    old_message = remember(api, client_id, "hey, running late", kind="message", occurred_at="2020-01-01T00:00:00Z")
    old_note = remember(api, client_id, "Passport number is in the safe", occurred_at="2020-01-01T00:00:00Z")
    put = api.put(f"{M}/retention", json={"client_id": client_id, "kind": "message", "retain_days": 30})
    assert put.status_code == 200 and put.json()["retention"] == {"message": 30}
    result = api.post(f"{M}/compact", json={"client_id": client_id}).json()
    assert result["expired"] == {"message": 1}
    ids = {str(r["id"]) for r in db.execute("SELECT id FROM memories WHERE client_id = %s", (client_id,))}
    assert ids == {old_note["id"]} and old_message["id"] not in ids


def test_age_and_use_score_lowers_stale_memories_without_hiding_them():
    from steward.memory.compaction import STALE_WEIGHT, rank_multiplier

    fresh, stale = rank_multiplier("note", 0, 0), rank_multiplier("note", 3000, 0)
    used = rank_multiplier("note", 3000, 40)
    assert fresh == 1.0 and 1 - STALE_WEIGHT <= stale < used < fresh


# ---- isolation -----------------------------------------------------------------------------
def test_no_route_returns_another_clients_data(api, client_id):
    other = f"other-{uuid.uuid4().hex[:8]}"
    mem = remember(api, client_id, "The vault code is 4711", kind="fact")
    api.post(f"{M}/docs", json={"client_id": client_id, "text": "Vault procedures: code 4711 opens it"})
    event = api.post(
        "/api/v1/events",
        json={"event_type": "vault_opened", "event_source": "n8n", "client_id": client_id, "payload": {"code": "4711"}},
    ).json()
    api.post(
        f"{M}/graph/nodes",
        json={"client_id": client_id, "id": f"vault-{client_id}", "node_type": "thing", "name": "Vault"},
    )
    fact = api.post(
        f"{M}/facts", json={"client_id": client_id, "subject": "vault", "predicate": "code", "object": "4711"}
    ).json()["fact"]
    api.put(f"{M}/retention", json={"client_id": client_id, "kind": "message", "retain_days": 5})

    assert recall(api, other, "vault code 4711")["hits"] == []
    assert recall(api, other, "vault code 4711", include_superseded="true")["hits"] == []
    assert api.get(f"{M}/memories/{mem['id']}", params={"client_id": other}).status_code == 404
    assert api.get(f"{M}/search/docs", params={"client_id": other, "q": "vault code"}).json()["hits"] == []
    assert api.get(f"{M}/similar/events", params={"client_id": other, "event_id": event["id"]}).status_code == 404
    assert (
        api.get(f"{M}/graph/neighbors", params={"client_id": other, "entity_id": f"vault-{client_id}"}).status_code
        == 404
    )
    assert (
        api.get(
            f"{M}/graph/path", params={"client_id": other, "from": f"vault-{client_id}", "to": f"vault-{client_id}"}
        ).status_code
        == 404
    )
    assert api.get(f"{M}/facts", params={"client_id": other}).json()["facts"] == []
    assert api.get(f"{M}/facts/{fact['id']}/history", params={"client_id": other}).status_code == 404
    assert api.post(f"{M}/facts/{fact['id']}/invalidate", json={"client_id": other}).status_code == 404
    assert api.get(f"{M}/retention", params={"client_id": other}).json()["retention"] == {}
    taken = api.post(
        f"{M}/graph/nodes", json={"client_id": other, "id": f"vault-{client_id}", "node_type": "x", "name": "mine now"}
    )
    assert taken.status_code == 409
    api.post(f"{M}/graph/nodes", json={"client_id": other, "id": f"mine-{other}", "node_type": "x", "name": "Mine"})
    edge = api.post(
        f"{M}/graph/edges",
        json={
            "client_id": other,
            "source_id": f"mine-{other}",
            "target_id": f"vault-{client_id}",
            "edge_type": "opens",
        },
    )
    assert edge.status_code == 404 and edge.json()["error"]["details"][0]["field"] == "target_id"
    dup = api.post(f"{M}/remember", json={"client_id": other, "text": "The vault code is 4711", "kind": "fact"})
    assert dup.status_code == 201 and dup.json()["id"] != mem["id"]  # the hash is per client
    compacted = api.post(f"{M}/compact", json={"client_id": other}).json()
    assert compacted["merged"] == [] and mem["id"] in [h["id"] for h in recall(api, client_id, "vault code")["hits"]]
    assert (
        api.post(
            f"{M}/remember/batch", json={"client_id": other, "items": [{"text": "x", "supersedes": mem["id"]}]}
        ).status_code
        == 404
    )


# ---- plumbing ------------------------------------------------------------------------------
def test_openapi_documents_every_memory_route(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in (
        "/remember",
        "/remember/batch",
        "/recall",
        "/docs",
        "/search/docs",
        "/graph/nodes",
        "/graph/edges",
        "/graph/neighbors",
        "/graph/path",
        "/similar/events",
        "/facts",
        "/compact",
        "/retention",
    ):
        assert f"{M}{path}" in paths, path


def test_local_embedder_gives_the_same_vectors_under_concurrency(app):
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    embedder = app.extensions["steward"].embedder
    texts = [f"note number {n}: {'call the bank about the mortgage ' * (n % 7)}" for n in range(48)]
    alone = np.stack([embedder.embed_documents([t])[0] for t in texts])
    with ThreadPoolExecutor(8) as pool:
        together = np.stack(list(pool.map(lambda t: embedder.embed_documents([t])[0], texts)))
    batched = embedder.embed_documents(texts)
    assert np.allclose(alone, together, atol=1e-5) and np.allclose(alone, batched, atol=1e-5)
