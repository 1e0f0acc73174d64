"""Items: the store's contract (versions, tombstones, the outbox) and `/api/v1/items` over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from steward.core.errors import Conflict, NotFound, ValidationFailed
from steward.items import store


@pytest.fixture
def conn(database_url):
    """A connection for store calls; autocommit, so each call is its own transaction (and `now()` moves)."""
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row, autocommit=True) as connection:
        yield connection


def test_versions_content_times_and_no_op_updates(conn, client_id):
    item = store.create_item(conn, client_id, source="api", title="Draft the proposal", body="for Acme")
    assert (item["type"], item["status"], item["version"], item["source"]) == ("task", "inbox", 1, "api")
    same = store.update_item(conn, item["id"], client_id, {"title": "Draft the proposal"}, source="api")
    assert same["version"] == 1, "a change that changes nothing writes nothing"
    moved = store.update_item(conn, item["id"], client_id, {"priority": "p2"}, source="api")
    assert moved["version"] == 2 and moved["content_updated_at"] == item["content_updated_at"]
    renamed = store.update_item(conn, item["id"], client_id, {"body": "for Acme and Initech"}, source="api")
    assert renamed["version"] == 3 and renamed["content_updated_at"] > item["content_updated_at"]
    done = store.complete_item(conn, item["id"], client_id, source="api")
    assert done["status"] == "done" and done["completed_at"] is not None
    reopened = store.reopen_item(conn, item["id"], client_id, source="api", status="active")
    assert reopened["status"] == "active" and reopened["completed_at"] is None
    assert store.drop_item(conn, item["id"], client_id, source="api")["status"] == "dropped"


def test_all_day_dues_are_stored_at_midnight_utc_of_their_date(conn, client_id):
    evening = datetime(2026, 12, 3, 23, 30, tzinfo=timezone(timedelta(hours=-8)))
    item = store.create_item(conn, client_id, source="api", title="Ship it", due=evening, due_has_time=False)
    assert item["due"] == datetime(2026, 12, 3, tzinfo=UTC) and item["due_has_time"] is False
    timed = store.update_item(conn, item["id"], client_id, {"due": evening, "due_has_time": True}, source="api")
    assert timed["due"] == evening
    back = store.update_item(conn, item["id"], client_id, {"due_has_time": False}, source="api")
    assert back["due"] == datetime(2026, 12, 4, tzinfo=UTC), "the date of the stored instant, in UTC"


def test_tombstones_are_never_changed_or_resurrected(conn, client_id):
    item = store.create_item(conn, client_id, source="api", title="Old idea", type="idea")
    gone = store.delete_item(conn, item["id"], client_id, source="api")
    assert gone["deleted_at"] is not None
    assert store.delete_item(conn, item["id"], client_id, source="api")["deleted_at"] == gone["deleted_at"]
    assert store.get_item(conn, item["id"], client_id) is None
    with pytest.raises(Conflict):
        store.update_item(conn, item["id"], client_id, {"title": "Revived"}, source="api")
    with pytest.raises(NotFound):
        store.update_item(conn, uuid.uuid4(), client_id, {"title": "Nothing"}, source="api")
    with pytest.raises(NotFound):
        store.get_item(conn, item["id"], "someone-else") or store.require_item(conn, item["id"], "someone-else")


def test_the_store_refuses_bad_values_naming_the_field(conn, client_id):
    for fields, field in (
        ({"title": ""}, "title"),
        ({"title": "x", "type": "chore"}, "type"),
        ({"title": "x", "priority": "p9"}, "priority"),
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": "x", "duration_minutes": 0}, "duration_minutes"),
        ({"title": "x", "due": datetime(2026, 1, 1)}, "due"),
        ({"title": "x", "project_id": uuid.uuid4()}, "project_id"),
    ):
        with pytest.raises(ValidationFailed) as failed:
            store.create_item(conn, client_id, source="api", **fields)
        assert failed.value.details[0]["field"] == field
    task = store.create_item(conn, client_id, source="api", title="Not a project")
    with pytest.raises(ValidationFailed):
        store.create_item(conn, client_id, source="api", title="x", project_id=task["id"])
    with pytest.raises(ValidationFailed):
        store.link_items(conn, client_id, task["id"], task["id"], "relates_to")


def test_links_are_unique_per_type(conn, client_id):
    anna = store.create_item(conn, client_id, source="chat", type="person", title="Anna")
    call = store.create_item(conn, client_id, source="chat", title="Call Anna")
    first, made = store.link_items(conn, client_id, call["id"], anna["id"], "about_person")
    again, made_again = store.link_items(conn, client_id, call["id"], anna["id"], "about_person")
    assert made and not made_again and first["id"] == again["id"]
    assert [link["link_type"] for link in store.links_of(conn, client_id, anna["id"])] == ["about_person"]
    assert store.unlink(conn, client_id, first["id"]) and not store.unlink(conn, client_id, first["id"])


def test_changes_reach_the_outbox_except_those_from_todoist(conn, client_id):
    pytest.importorskip("steward.sync.outbox")
    task = store.create_item(conn, client_id, source="chat", title="Send the invoice")
    note = store.create_item(conn, client_id, source="chat", title="Thoughts", type="note")
    store.complete_item(conn, task["id"], client_id, source="api")
    echo = store.create_item(conn, client_id, source="todoist", title="From Todoist")
    store.update_item(conn, echo["id"], client_id, {"title": "Renamed in Todoist"}, source="todoist")
    rows = conn.execute(
        "SELECT item_id, operation FROM todoist_outbox WHERE client_id = %s ORDER BY seq", (client_id,)
    ).fetchall()
    assert [(r["item_id"], r["operation"]) for r in rows] == [(task["id"], "create"), (task["id"], "complete")]
    assert note["id"] not in {r["item_id"] for r in rows}


def test_the_items_api(live_server, db, client_id):
    api, reader = live_server.api("write"), live_server.api("read")
    with psycopg.connect(db.info.dsn, row_factory=psycopg.rows.dict_row) as conn:
        project = store.create_item(conn, client_id, source="api", type="project", title="Acme")
        made = [
            store.create_item(conn, client_id, source="api", title=f"Acme report {n}", project_id=project["id"])
            for n in range(3)
        ]
        idea = store.create_item(conn, client_id, source="api", type="idea", title="Podcast about 50% margins")
        store.link_items(conn, client_id, made[0]["id"], idea["id"], "relates_to")
        store.create_item(conn, "someone-else", source="api", title="Acme report secret")

    def listed(**params):
        resp = reader.get("/api/v1/items", params={"client_id": client_id, **params})
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert len(listed()["items"]) == 5
    assert {i["title"] for i in listed(type="task")["items"]} == {f"Acme report {n}" for n in range(3)}
    assert {i["type"] for i in listed(type="idea,project")["items"]} == {"idea", "project"}
    assert [i["title"] for i in listed(q="podcast")["items"]] == ["Podcast about 50% margins"]
    assert [i["title"] for i in listed(q="50%")["items"]] == ["Podcast about 50% margins"]
    assert len(listed(q="report")["items"]) == 3 and listed(q="nothing-like-this")["items"] == []
    page = listed(type="task", limit=2)
    rest = listed(type="task", limit=2, cursor=page["next_cursor"])
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {i["id"] for i in page["items"] + rest["items"]} == {str(m["id"]) for m in made}
    for params, field in (
        ({"status": "someday"}, "status"),
        ({"cursor": "bogus"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"type": "chore"}, "type"),
    ):
        bad = reader.get("/api/v1/items", params={"client_id": client_id, **params})
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"].startswith(field)
    assert reader.get("/api/v1/items").status_code == 400

    one = reader.get(f"/api/v1/items/{made[0]['id']}", params={"client_id": client_id}).json()
    assert one["project_id"] == str(project["id"]) and one["links"][0]["link_type"] == "relates_to"
    assert reader.get(f"/api/v1/items/{made[0]['id']}", params={"client_id": "someone-else"}).status_code == 404
    assert reader.get("/api/v1/items/not-a-uuid", params={"client_id": client_id}).status_code == 404

    path = f"/api/v1/items/{made[1]['id']}"
    assert reader.patch(path, json={"client_id": client_id, "priority": "p1"}).status_code == 403
    changed = api.patch(path, json={"client_id": client_id, "priority": "p1", "status": "done", "labels": ["x"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["priority"], body["status"], body["labels"], body["version"]) == ("p1", "done", ["x"], 2)
    stale = api.patch(path, json={"client_id": client_id, "title": "Renamed", "expected_version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    for patch, field in (
        ({}, "body"),
        ({"title": None}, "body"),
        ({"title": ""}, "title"),
        ({"colour": "red"}, "colour"),
        ({"due": "2026-12-01T10:00:00"}, "due"),
        ({"project_id": str(idea["id"])}, "project_id"),
    ):
        bad = api.patch(path, json={"client_id": client_id, **patch})
        assert bad.status_code == 400, (patch, bad.text)
        assert bad.json()["error"]["details"][0]["field"] == field, (patch, bad.json())
    assert api.patch(f"/api/v1/items/{uuid.uuid4()}", json={"client_id": client_id, "title": "x"}).status_code == 404

    with psycopg.connect(db.info.dsn, row_factory=psycopg.rows.dict_row) as conn:
        store.delete_item(conn, made[2]["id"], client_id, source="api")
    gone = f"/api/v1/items/{made[2]['id']}"
    assert reader.get(gone, params={"client_id": client_id}).status_code == 404
    assert api.patch(gone, json={"client_id": client_id, "title": "Back"}).status_code == 409
    assert db.execute("SELECT version FROM items WHERE id = %s", (made[1]["id"],)).fetchone()["version"] == 2
