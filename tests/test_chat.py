"""The chat over HTTP with no LLM at all: linking, capture -> draft -> Yes / Edit / No, questions,
commands and /undo, against real Postgres (quick-add plans, the rule critic)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chat_helpers import Chat, button, link

from steward.chat.render import parse_callback

BERLIN = ZoneInfo("Europe/Berlin")


def linked(live_server, client_id, **kwargs) -> Chat:
    chat = Chat(live_server.api("write"))
    link(live_server.api("admin"), chat, client_id, **kwargs)
    return chat


def count(db, table: str, client_id: str | None = None) -> int:
    where = " WHERE client_id = %s" if client_id else ""
    return db.execute(f"SELECT count(*) AS n FROM {table}{where}", (client_id,) if client_id else ()).fetchone()["n"]


def items_of(db, client_id, **where):
    clause = "".join(f" AND {k} = %s" for k in where)
    return db.execute(
        f"SELECT * FROM items WHERE client_id = %s{clause} ORDER BY created_at", (client_id, *where.values())
    ).fetchall()


def test_an_unlinked_chat_gets_linking_instructions_and_nothing_is_written(live_server, db):
    chat = Chat(live_server.api("write"))
    tables = ("items", "chat_drafts", "chat_updates", "chat_links", "events", "memories")
    before = {t: count(db, t) for t in tables}
    for text in ("Call Anna tomorrow", "/today", "What is on my plate?", "/undo", "/link"):
        reply = chat.say(text)
        if text == "/link":
            assert reply["meta"]["outcome"] == "missing_code"
            continue
        assert reply["meta"]["intent"] == "unlinked" and reply["buttons"] == []
        assert "/link CODE" in reply["reply_text"] and "steward link create" in reply["reply_text"]
    assert chat.confirm(callback_data="d:AbCdEf1234:y")["meta"]["outcome"] == "unlinked"
    assert {t: count(db, t) for t in tables} == before


def test_link_codes_are_one_time_and_expire(live_server, db, client_id):
    admin, writer = live_server.api("admin"), live_server.api("write")
    assert writer.post("/api/v1/chat/links", json={"client_id": client_id}).status_code == 403
    bad_zone = admin.post("/api/v1/chat/links", json={"client_id": client_id, "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 400 and bad_zone.json()["error"]["details"][0]["field"] == "timezone"
    made = admin.post("/api/v1/chat/links", json={"client_id": client_id, "timezone": "Europe/Berlin"}).json()
    assert len(made["code"]) == 9 and made["code"] in made["instructions"]

    first, second = Chat(writer), Chat(writer)
    assert first.say("/link WRONG-CODE")["meta"]["outcome"] == "invalid_code"
    assert second.say(f"/link {made['code'].lower().replace('-', ' ')}")["meta"]["outcome"] == "linked"
    assert second.say(f"/link {made['code']}")["meta"]["outcome"] == "linked", "re-sending is harmless"
    assert first.say(f"/link {made['code']}")["meta"]["outcome"] == "invalid_code", "a code binds one chat"
    assert first.say("Buy milk")["meta"]["intent"] == "unlinked"

    deep = admin.post("/api/v1/chat/links", json={"client_id": client_id}).json()
    third = Chat(writer)
    assert third.say(f"/start {deep['code']}")["meta"]["outcome"] == "linked", "t.me/<bot>?start=CODE links too"

    late = admin.post("/api/v1/chat/links", json={"client_id": client_id}).json()
    db.execute("UPDATE chat_link_codes SET expires_at = now() - interval '1 minute' WHERE used_at IS NULL")
    assert first.say(f"/link {late['code']}")["meta"]["outcome"] == "invalid_code"

    user = admin.get(f"/api/v1/chat/users/{client_id}").json()
    assert (
        user["chats"] == [second.chat_id, third.chat_id]
        and user["timezone"] == "Europe/Berlin"
        and user["auto_apply"] is False
    )
    changed = admin.patch(f"/api/v1/chat/users/{client_id}", json={"auto_apply": True, "date_order": "MDY"}).json()
    assert changed["auto_apply"] is True and changed["date_order"] == "MDY"
    assert admin.patch(f"/api/v1/chat/users/{client_id}", json={}).status_code == 400
    assert admin.get("/api/v1/chat/users/nobody-here").status_code == 404


def test_capture_draft_yes_replay_and_a_second_yes(live_server, db, client_id):
    chat = linked(live_server, client_id)
    reply = chat.say("Call Anna tomorrow at 4pm #acme p1 @phone 30m")
    meta = reply["meta"]
    assert meta["intent"] == "capture" and meta["outcome"] == "draft_created" and meta["planner"] == "quickadd"
    assert meta["critics"] == ["rules"] and meta["mode"] == "default" and meta["revision"] == 1
    assert "New project: <b>acme</b>" in reply["reply_text"] and "Call Anna" in reply["reply_text"]
    assert "P1" in reply["reply_text"] and "@phone" in reply["reply_text"] and "30 min" in reply["reply_text"]
    assert [b["text"] for b in reply["buttons"][0]] == ["✅ Yes", "✏️ Edit", "✖️ No"]
    assert parse_callback(button(reply, "yes")) == (meta["draft_short_id"], "yes")
    assert items_of(db, client_id) == [], "nothing is written before Yes"

    again = chat.send("Call Anna tomorrow at 4pm #acme p1 @phone 30m", message_id=chat.message_id).json()
    assert again["meta"]["replayed"] is True and again["draft_id"] == reply["draft_id"]
    assert again["reply_text"] == reply["reply_text"] and count(db, "chat_drafts", client_id) == 1

    done = chat.press(reply, "yes")
    assert done["meta"]["outcome"] == "applied" and "Created task “Call Anna”" in done["reply_text"]
    project, task = items_of(db, client_id)
    assert (project["type"], project["title"]) == ("project", "acme")
    assert (task["type"], task["title"], task["priority"], task["labels"]) == ("task", "Call Anna", "p1", ["phone"])
    assert task["project_id"] == project["id"] and task["duration_minutes"] == 30 and task["source"] == "chat"
    sent = datetime.now(BERLIN)
    assert task["due"].astimezone(BERLIN) == datetime.combine(
        sent.date() + timedelta(days=1), datetime.min.time().replace(hour=16), BERLIN
    )
    assert task["due_has_time"] is True and task["status"] == "inbox" and task["version"] == 1
    events = db.execute(
        "SELECT event_type, event_source, payload FROM events WHERE client_id = %s ORDER BY occurred_at", (client_id,)
    ).fetchall()
    assert [(e["event_type"], e["event_source"]) for e in events] == [("item_created", "chat")] * 2
    assert {e["payload"]["draft_id"] for e in events} == {reply["draft_id"]}
    memory = db.execute("SELECT kind, metadata FROM memories WHERE client_id = %s", (client_id,)).fetchall()
    assert memory == [{"kind": "task", "metadata": {"item_id": str(task["id"]), "item_type": "task"}}]

    ops = db.execute("SELECT item_id, operation FROM todoist_outbox WHERE client_id = %s", (client_id,)).fetchall()
    assert {(o["item_id"], o["operation"]) for o in ops} == {(project["id"], "create"), (task["id"], "create")}

    twice = chat.press(reply, "yes")
    assert twice["meta"]["outcome"] == "already_decided" and "/undo" in twice["reply_text"]
    assert len(items_of(db, client_id)) == 2 and count(db, "events", client_id) == 2

    listed = live_server.api("read").get("/api/v1/items", params={"client_id": client_id, "type": "task"}).json()
    assert [i["title"] for i in listed["items"]] == ["Call Anna"]


def test_edit_by_button_then_message_and_by_confirm_text(live_server, db, client_id):
    chat = linked(live_server, client_id)
    first = chat.say("Buy milk")
    waiting = chat.press(first, "edit")
    assert waiting["meta"]["outcome"] == "awaiting_edit" and "correction" in waiting["reply_text"]
    revised = chat.say("Buy oat milk friday p2")
    assert revised["meta"]["intent"] == "edit" and revised["meta"]["revision"] == 2
    assert "revision 2" in revised["reply_text"] and "Buy oat milk" in revised["reply_text"]
    old = db.execute("SELECT status FROM chat_drafts WHERE id = %s", (first["draft_id"],)).fetchone()
    assert old["status"] == "superseded"
    stale = chat.press(first, "yes")
    assert stale["meta"]["outcome"] == "superseded" and "revision 2" in stale["reply_text"]
    assert chat.press(revised, "yes")["meta"]["outcome"] == "applied"
    (item,) = items_of(db, client_id)
    assert (item["title"], item["priority"], item["due_has_time"]) == ("Buy oat milk", "p2", False)
    assert item["due"].weekday() == 4

    second = chat.say("Email Bob about the invoice")
    fixed = chat.confirm(draft_id=second["draft_id"], decision="edit", text="monday 9am")
    assert fixed["meta"]["revision"] == 2 and "Email Bob about the invoice" in fixed["reply_text"]
    assert chat.confirm(draft_id=fixed["meta"]["draft_short_id"], decision="yes")["meta"]["outcome"] == "applied"
    bob = items_of(db, client_id, title="Email Bob about the invoice")[0]
    assert bob["due_has_time"] and bob["due"].astimezone(BERLIN).hour == 9 and bob["due"].weekday() == 0

    dropped = chat.say("Write the quarterly report")
    assert chat.press(dropped, "no")["meta"]["outcome"] == "discarded"
    assert items_of(db, client_id, title="Write the quarterly report") == []
    assert chat.press(dropped, "yes")["meta"]["outcome"] == "already_decided"

    pending = chat.say("Plan the offsite")
    chat.press(pending, "edit")
    assert chat.say("/cancel")["meta"]["outcome"] == "cancelled"
    fresh = chat.say("Book the dentist")
    assert fresh["meta"]["intent"] == "capture" and fresh["meta"]["revision"] == 1


def test_questions_and_commands(live_server, db, client_id):
    chat = linked(live_server, client_id)
    chat.press(chat.say("Call Anna about the Initech contract tomorrow 10am"), "yes")
    chat.press(chat.say("remember: Anna works at Initech"), "yes")
    facts = db.execute("SELECT subject, predicate, object FROM facts WHERE client_id = %s", (client_id,)).fetchall()
    assert facts == [{"subject": "Anna", "predicate": "works_at", "object": "Initech"}]

    answer = chat.say("What do I know about Anna?")
    assert answer["meta"]["intent"] == "question" and answer["buttons"] == []
    assert (
        "Anna works at Initech" in answer["reply_text"]
        and "Call Anna about the Initech contract" in answer["reply_text"]
    )
    assert "[1]" in answer["reply_text"] and "/ask" not in answer["reply_text"]
    assert chat.say("/ask")["meta"]["outcome"] == "empty_question"
    assert chat.say("/ask zebra migration patterns")["reply_text"] == "I don't have anything on that yet."

    inbox = chat.say("/inbox")
    assert inbox["meta"]["outcome"] == "inbox" and "Call Anna about the Initech contract" in inbox["reply_text"]
    today = chat.say("/today")
    assert today["meta"]["outcome"] == "today" and "Plan for" in today["reply_text"]
    assert chat.say("/help")["meta"]["outcome"] == "help"
    assert chat.say("/frobnicate")["meta"]["outcome"] == "unknown_command"


def test_facts_completion_and_a_chain_of_undos(live_server, db, client_id):
    chat = linked(live_server, client_id)
    chat.press(chat.say("Call Anna about the Initech contract tomorrow 10am"), "yes")
    chat.press(chat.say("remember: Anna works at Initech"), "yes")
    clash = chat.say("remember: Anna works at Globex")
    assert "contradiction" in clash["meta"]["flags"] and "Initech" in clash["reply_text"]
    chat.press(clash, "yes")
    current = db.execute(
        "SELECT object FROM facts WHERE client_id = %s AND invalid_at IS NULL", (client_id,)
    ).fetchall()
    assert current == [{"object": "Globex"}]
    undone = chat.say("/undo")
    assert undone["meta"]["outcome"] == "undone"
    current = db.execute(
        "SELECT object FROM facts WHERE client_id = %s AND invalid_at IS NULL", (client_id,)
    ).fetchall()
    assert current == [{"object": "Initech"}], "undo restores the fact the draft replaced"

    completing = chat.say("done: call anna about initech")
    assert completing["meta"]["outcome"] == "draft_created" and "Mark done" in completing["reply_text"]
    chat.press(completing, "yes")
    (task,) = items_of(db, client_id, type="task")
    assert task["status"] == "done" and task["completed_at"] is not None
    assert chat.say("/undo")["meta"]["outcome"] == "undone"
    (task,) = items_of(db, client_id, type="task")
    assert task["status"] == "inbox" and task["completed_at"] is None
    assert chat.say("done: feed the unicorn")["meta"]["outcome"] == "nothing_to_do"

    assert chat.say("/undo")["meta"]["outcome"] == "undone", "the draft before the fact is next in line"
    assert chat.say("/undo")["meta"]["outcome"] == "undone"
    (task,) = items_of(db, client_id, type="task")
    assert task["deleted_at"] is not None, "undoing a creation tombstones the item"
    assert (
        live_server.api("read").get(f"/api/v1/items/{task['id']}", params={"client_id": client_id}).status_code == 404
    )
    assert chat.say("/undo")["meta"]["outcome"] == "nothing_to_undo"


def test_undo_window_and_later_changes(live_server, db, client_id):
    chat = linked(live_server, client_id)
    chat.press(chat.say("Renew passport"), "yes")
    db.execute("UPDATE chat_drafts SET executed_at = now() - interval '2 hours' WHERE client_id = %s", (client_id,))
    late = chat.say("/undo")
    assert late["meta"]["outcome"] == "too_late" and "60 min" in late["reply_text"]

    chat.press(chat.say("Pay the electricity bill"), "yes")
    (item,) = items_of(db, client_id, title="Pay the electricity bill")
    patched = live_server.api("write").patch(
        f"/api/v1/items/{item['id']}", json={"client_id": client_id, "priority": "p1"}
    )
    assert patched.status_code == 200
    refused = chat.say("/undo")
    assert refused["meta"]["outcome"] == "undo_conflict" and "changed since" in refused["reply_text"]
    (item,) = items_of(db, client_id, title="Pay the electricity bill")
    assert item["deleted_at"] is None and item["priority"] == "p1"


def test_the_rule_critic(live_server, db, client_id):
    chat = linked(live_server, client_id)
    chat.press(chat.say("Call Anna about the budget"), "yes")
    duplicate = chat.say("call anna about budget")
    assert "duplicate" in duplicate["meta"]["flags"] and "already have" in duplicate["reply_text"]
    assert duplicate["meta"]["confidence"] <= 0.6

    pronoun = chat.say("call him tomorrow")
    assert "unresolved_reference" in pronoun["meta"]["flags"] and "who do you mean" in pronoun["reply_text"]

    untitled = chat.say("tomorrow 4pm p1")
    assert "invalid" in untitled["meta"]["flags"] and "Fix it with Edit" in untitled["reply_text"]
    refused = chat.press(untitled, "yes")
    assert refused["meta"]["outcome"] == "refused" and "title" in refused["reply_text"]
    assert refused["buttons"], "a refused draft can still be edited or dropped"
    fixed = chat.press(untitled, "edit", text="Call the plumber")
    assert chat.press(fixed, "yes")["meta"]["outcome"] == "applied"
    (plumber,) = items_of(db, client_id, title="Call the plumber")
    assert plumber["priority"] == "p1" and plumber["due_has_time"]

    past = chat.say(f"Submit the expense report {(datetime.now(BERLIN) - timedelta(days=10)).date().isoformat()}")
    assert "due_in_past" in past["meta"]["flags"]


def test_auto_apply_applies_confident_low_risk_captures(live_server, db, client_id):
    chat = linked(live_server, client_id)
    assert chat.say("/autoapply")["meta"]["outcome"] == "autoapply_status"
    assert chat.say("/autoapply on")["meta"]["outcome"] == "autoapply_on"
    applied = chat.say("Water the plants saturday")
    assert applied["meta"]["outcome"] == "applied" and "auto-applied" in applied["reply_text"]
    assert applied["buttons"] == [] and len(items_of(db, client_id)) == 1
    flagged = chat.say("water the plants on saturday")
    assert flagged["meta"]["outcome"] == "draft_created", "a likely duplicate still asks first"
    assert chat.say("/undo")["meta"]["outcome"] == "undone"
    assert chat.say("/autoapply off")["meta"]["outcome"] == "autoapply_off"
    assert chat.say("Repot the cactus")["meta"]["outcome"] == "draft_created"


def test_steward_link_create_prints_a_code_that_links_a_chat(live_server, database_url, tmp_path, client_id):
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    made = subprocess.run(
        [sys.executable, "-m", "steward.cli", "link", "create", "--user", client_id, "--timezone", "Asia/Tokyo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    code = made.stdout.strip().splitlines()[-1]
    chat = Chat(live_server.api("write"))
    assert chat.say(f"/link {code}")["meta"]["outcome"] == "linked"
    assert live_server.api("admin").get(f"/api/v1/chat/users/{client_id}").json()["timezone"] == "Asia/Tokyo"
    bad = subprocess.run(
        [sys.executable, "-m", "steward.cli", "link", "create", "--user", "no spaces"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "--user" in bad.stderr


def test_what_the_user_wrote_is_escaped_for_telegram_html(live_server, db, client_id):
    chat = linked(live_server, client_id)
    draft = chat.say("Check that a<b & c>d holds")
    assert "a&lt;b &amp; c&gt;d" in draft["reply_text"] and "<b>Check" in draft["reply_text"]
    done = chat.press(draft, "yes")
    assert "a&lt;b &amp; c&gt;d" in done["reply_text"]
    assert items_of(db, client_id)[0]["title"] == "Check that a<b & c>d holds"
