"""What the chat refuses and what it never does twice: bad input, stale or foreign decisions,
redelivered updates, concurrent presses, expiry, rate limits, and questions that cannot write."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from chat_helpers import Chat, link
from werkzeug.serving import make_server

from steward.app import create_app
from steward.chat import policy, questions
from steward.chat.actions import Action, ActionPlan, ItemFields
from support import Api, make_settings

DATA = ("items", "item_links", "chat_drafts", "chat_updates", "chat_links", "events", "facts")


def linked(live_server, client_id) -> Chat:
    chat = Chat(live_server.api("write"))
    link(live_server.api("admin"), chat, client_id)
    return chat


def snapshot(db) -> dict:
    """Every row that matters, memory use counters aside (they are a ranking hint kept off-request)."""
    state = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in DATA}
    state["memories"] = db.execute(
        "SELECT id, text, kind, invalid_at, superseded_by, mention_count FROM memories ORDER BY id"
    ).fetchall()
    return state


def test_a_question_phrased_like_a_command_writes_nothing(live_server, db, client_id, app):
    chat = linked(live_server, client_id)
    chat.press(chat.say("Call Anna about the budget"), "yes")
    chat.press(chat.say("remember: Anna works at Initech"), "yes")
    before = snapshot(db)
    for text in (
        "/ask delete all my tasks and mark Call Anna done",
        "Should I delete all my tasks?",
        "What if you completed call anna about the budget?",
        "/ask remember: Anna works at Globex",
    ):
        reply = chat.say(text)
        assert reply["meta"]["intent"] == "question" and reply["buttons"] == [] and reply["draft_id"] is None
    assert snapshot(db) == before

    with (
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
        questions.read_only(app.extensions["steward"].pool) as conn,
    ):
        conn.execute("INSERT INTO chat_users (client_id) VALUES ('sneaky')")
    assert db.execute("SELECT count(*) AS n FROM chat_users WHERE client_id = 'sneaky'").fetchone()["n"] == 0


def test_empty_huge_and_malformed_messages(live_server, db, client_id):
    chat = linked(live_server, client_id)
    before = snapshot(db)
    empty = chat.say("   ")
    assert empty["meta"]["outcome"] == "empty_message" and "text" in empty["reply_text"]
    huge = chat.say("x" * 5000)
    assert huge["meta"]["outcome"] == "too_long" and "5000" in huge["reply_text"]
    assert snapshot(db) == before

    api = live_server.api("write")
    for body, field in (
        ({"message_id": 1, "text": "hi"}, "chat_id"),
        ({"chat_id": "abc", "message_id": 1, "text": "hi"}, "chat_id"),
        ({"chat_id": 1, "message_id": 1, "text": ["hi"]}, "text"),
        ({"chat_id": 1, "message_id": -5, "text": "hi"}, "message_id"),
        ({"chat_id": 1, "message_id": 1, "text": "hi", "date": "yesterday"}, "date"),
        ({"chat_id": 1, "message_id": 1, "text": "hi", "colour": "red"}, "colour"),
    ):
        resp = api.post("/api/v1/chat/message", json=body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["details"][0]["field"] == field
    assert (
        api.post("/api/v1/chat/message", data="{not json", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert (
        live_server.api("read")
        .post("/api/v1/chat/message", json={"chat_id": 1, "message_id": 1, "text": "x"})
        .status_code
        == 403
    )
    assert snapshot(db) == before


def test_bad_decisions_get_clear_answers_and_change_nothing(live_server, db, client_id):
    chat = linked(live_server, client_id)
    draft = chat.say("Book flights to Lisbon")
    intruder = Chat(live_server.api("write"))
    link(live_server.api("admin"), intruder, f"{client_id}-other")
    before = snapshot(db)

    assert chat.confirm(expect=400)["error"]["details"][0]["field"] == "body"
    assert chat.confirm(expect=400, draft_id=draft["draft_id"])["error"]["code"] == "validation_error"
    assert (
        chat.confirm(expect=400, draft_id=draft["draft_id"], decision="maybe")["error"]["details"][0]["field"]
        == "decision"
    )
    for data in ("garbage", "d:short:y", "d:AbCdEfGh12:x", "d::y", "x" * 200):
        reply = chat.confirm(callback_data=data)
        assert reply["meta"]["outcome"] == "unparseable" and "button" in reply["reply_text"]
    assert chat.confirm(callback_data="d:ZZZZZZZZZZ:y")["meta"]["outcome"] == "unknown_draft"
    assert chat.confirm(draft_id=str(uuid.uuid4()), decision="yes")["meta"]["outcome"] == "unknown_draft"
    assert chat.confirm(draft_id="not a draft!", decision="no")["meta"]["outcome"] == "unknown_draft"
    foreign = intruder.press(draft, "yes")
    assert foreign["meta"]["outcome"] == "not_your_draft" and "another chat" in foreign["reply_text"]
    assert snapshot(db) == before, "nothing was written by any of these"

    assert chat.press(draft, "yes")["meta"]["outcome"] == "applied", "the owner can still decide"


def test_a_redelivered_message_makes_one_draft_even_at_once(live_server, db, client_id):
    chat = linked(live_server, client_id)
    chat.message_id += 1

    def deliver(_):
        return chat.send("Prepare the board deck friday 2h", message_id=chat.message_id).json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(deliver, range(6)))
    assert len({r["draft_id"] for r in replies}) == 1 and len({r["reply_text"] for r in replies}) == 1
    assert sum(1 for r in replies if not r["meta"]["replayed"]) == 1
    assert db.execute("SELECT count(*) AS n FROM chat_drafts WHERE client_id = %s", (client_id,)).fetchone()["n"] == 1


def test_two_presses_of_yes_at_once_execute_once(live_server, db, client_id):
    chat = linked(live_server, client_id)
    draft = chat.say("Send the invoice to Globex")
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: chat.press(draft, "yes"), range(8)))
    outcomes = sorted(r["meta"]["outcome"] for r in replies)
    assert outcomes == ["already_decided"] * 7 + ["applied"]
    assert db.execute("SELECT count(*) AS n FROM items WHERE client_id = %s", (client_id,)).fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM events WHERE client_id = %s", (client_id,)).fetchone()["n"] == 1


def test_a_redelivered_callback_gets_the_same_answer(live_server, db, client_id):
    chat = linked(live_server, client_id)
    draft = chat.say("Order printer toner")
    first = chat.press(draft, "yes", callback_id="cbq-1")
    again = chat.press(draft, "yes", callback_id="cbq-1")
    assert first["meta"]["outcome"] == again["meta"]["outcome"] == "applied"
    assert again["reply_text"] == first["reply_text"] and again["meta"]["replayed"] is True
    assert chat.press(draft, "yes", callback_id="cbq-2")["meta"]["outcome"] == "already_decided"


def test_an_expired_draft_is_never_applied(live_server, db, client_id):
    chat = linked(live_server, client_id)
    draft = chat.say("Renew the domain")
    db.execute("UPDATE chat_drafts SET expires_at = now() - interval '1 minute' WHERE id = %s", (draft["draft_id"],))
    late = chat.press(draft, "yes")
    assert late["meta"]["outcome"] == "expired" and "expired" in late["reply_text"]
    assert (
        db.execute("SELECT status FROM chat_drafts WHERE id = %s", (draft["draft_id"],)).fetchone()["status"]
        == "expired"
    )
    assert chat.press(draft, "yes")["meta"]["outcome"] == "expired"
    assert db.execute("SELECT count(*) AS n FROM items WHERE client_id = %s", (client_id,)).fetchone()["n"] == 0

    waiting = chat.say("Renew the certificate")
    chat.press(waiting, "edit")
    db.execute("UPDATE chat_drafts SET expires_at = now() - interval '1 minute' WHERE id = %s", (waiting["draft_id"],))
    fresh = chat.say("Renew the TLS certificate")
    assert fresh["meta"]["intent"] == "capture" and fresh["meta"]["revision"] == 1
    assert any("expired" in note for note in fresh["meta"]["notes"])


def test_the_executor_refuses_bulk_and_dangling_references(db, client_id):
    many = ActionPlan(actions=[Action(type="create_item", item=ItemFields(title=f"Task {n}")) for n in range(11)])
    assert [p.kind for p in policy.check(db, client_id, many, bulk_limit=10)] == ["bulk"]
    dangling = ActionPlan(
        actions=[
            Action(type="complete_item", item_id=str(uuid.uuid4())),
            Action(type="link_items", item_id="new:5", target_id="new:0", link_type="blocks"),
            Action(type="update_item", item_id="new:0"),
            Action(type="remember"),
            Action(type="schedule", item_id="new:0", item=ItemFields(priority="p1")),
        ]
    )
    problems = {(p.action, p.field) for p in policy.check(db, client_id, dangling, bulk_limit=10)}
    assert problems == {
        (0, "item_id"),
        (1, "item_id"),
        (1, "target_id"),
        (2, "item_id"),
        (2, "item"),
        (3, "text"),
        (4, "item_id"),
        (4, "item.due"),
    }
    assert policy.check(db, client_id, ActionPlan(), bulk_limit=10)[0].field == "actions"


@pytest.fixture
def limited_server(database_url, tmp_path, keys):
    app = create_app(make_settings(database_url, tmp_path, chat_rate_limit="4/minute"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["steward"].close()


def test_each_chat_is_rate_limited_with_a_friendly_reply(limited_server, keys, db, client_id):
    busy, calm = Chat(Api(limited_server, keys.write)), Chat(Api(limited_server, keys.write))
    link(Api(limited_server, keys.admin), busy, client_id)
    for n in range(3):
        assert busy.send(f"/inbox {n}").status_code == 200
    before = snapshot(db)
    limited = busy.send("Buy stamps")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    body = limited.json()
    assert "faster than I can keep up" in body["reply_text"] and body["meta"]["intent"] == "rate_limited"
    assert body["error"]["code"] == "rate_limited"
    assert (
        busy.api.post("/api/v1/chat/confirm", json={"chat_id": busy.chat_id, "callback_data": "x"}).status_code == 429
    )
    assert snapshot(db) == before
    assert calm.send("hello").status_code == 200, "another chat is not slowed down"
    assert Api(limited_server, keys.read).get("/api/v1/items", params={"client_id": client_id}).status_code == 200
