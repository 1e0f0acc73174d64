"""The chat with an LLM: the action planner and critic prompts, edits, questions answered from
sources, processing modes and the fall-back to quick-add, against the local fake OpenAI server."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chat_helpers import Chat, link

from fakes.llm_data import BIG, SMALL

pytest_plugins = ["fakes.llm_fixtures"]

BERLIN = ZoneInfo("Europe/Berlin")


def at(days: int, hour: int) -> str:
    day = datetime.now(BERLIN).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), BERLIN).isoformat()


class Script:
    """Answers by output contract (the JSON schema's name); records the prompts each one got."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {"CriticOut": {"flags": []}}
        self.prompts: dict[str, list[str]] = {}
        self.models: dict[str, list[str]] = {}

    def __call__(self, body: dict[str, Any]) -> Any:
        name = body["response_format"]["json_schema"]["name"]
        self.prompts.setdefault(name, []).append(body["messages"][-1]["content"])
        self.models.setdefault(name, []).append(body["model"])
        answer = self.answers[name]
        return answer(body) if callable(answer) else answer


def linked(stack, client_id) -> Chat:
    chat = Chat(stack.api("write"))
    link(stack.api("admin"), chat, client_id)
    return chat


def rows(db, sql: str, *args):
    return db.execute(sql, args).fetchall()


def test_a_conversation_with_the_llm(llm_stack, fake, db, client_id):
    script = Script()
    fake.responder = script
    chat = linked(llm_stack, client_id)
    script.answers["ActionPlan"] = {
        "intent": "capture",
        "scope": "Acme",
        "confidence": 0.85,
        "actions": [
            {"type": "create_item", "item": {"type": "person", "title": "Maria"}},
            {
                "type": "create_item",
                "item": {
                    "type": "event",
                    "title": "Lunch with Maria",
                    "due": at(1, 13),
                    "due_has_time": True,
                    "duration_minutes": 60,
                    "project": "Acme",
                },
            },
            {"type": "link_items", "item_id": "new:1", "target_id": "new:0", "link_type": "about_person"},
            {
                "type": "remember",
                "text": "Maria prefers email",
                "fact": {"subject": "Maria", "predicate": "prefers_contact", "object": "email"},
            },
        ],
    }
    script.answers["CriticOut"] = {"flags": [{"kind": "other", "message": "Is 13:00 right for lunch?", "action": 1}]}
    draft = chat.say("Lunch with Maria tomorrow 1pm about the Acme renewal; she prefers email")
    meta = draft["meta"]
    assert meta["planner"] == "llm" and meta["critics"] == ["rules", "llm"] and meta["flags"] == ["other"]
    assert meta["mode"] == "default" and script.models["ActionPlan"] == [BIG]
    assert "New project: <b>Acme</b>" in draft["reply_text"] and "Lunch with Maria" in draft["reply_text"]
    assert "Link <b>Lunch with Maria</b> → <b>Maria</b> (about person)" in draft["reply_text"]
    assert "Is 13:00 right for lunch?" in draft["reply_text"]
    assert "Lunch with Maria tomorrow 1pm" in script.prompts["ActionPlan"][0]
    assert "Lunch with Maria" in script.prompts["CriticOut"][0], "the critic sees the proposed actions"

    assert chat.press(draft, "yes")["meta"]["outcome"] == "applied"
    made = {r["type"]: r for r in rows(db, "SELECT * FROM items WHERE client_id = %s", client_id)}
    assert set(made) == {"project", "person", "event"}
    assert made["event"]["project_id"] == made["project"]["id"] and made["event"]["duration_minutes"] == 60
    assert made["event"]["due"].astimezone(BERLIN).hour == 13
    (edge,) = rows(db, "SELECT * FROM item_links WHERE client_id = %s", client_id)
    assert (edge["source_item_id"], edge["target_item_id"], edge["link_type"]) == (
        made["event"]["id"],
        made["person"]["id"],
        "about_person",
    )
    assert rows(db, "SELECT object FROM facts WHERE client_id = %s", client_id) == [{"object": "email"}]
    kinds = [
        r["event_type"]
        for r in rows(db, "SELECT event_type FROM events WHERE client_id = %s ORDER BY occurred_at", client_id)
    ]
    assert kinds == ["item_created"] * 3 + ["items_linked", "memory_remembered"]

    person_id = str(made["person"]["id"])
    script.answers["ActionPlan"] = lambda body: {
        "intent": "capture",
        "confidence": 0.9,
        "actions": [
            {
                "type": "create_item",
                "item": {
                    "type": "task",
                    "title": "Call Maria",
                    "due": at(4 if "friday" in body["messages"][-1]["content"] else 1, 10),
                    "due_has_time": True,
                },
            },
            {"type": "link_items", "item_id": "new:0", "target_id": person_id, "link_type": "about_person"},
        ],
    }
    call = chat.say("Call Maria tomorrow")
    assert f"id {person_id}" in script.prompts["ActionPlan"][-1], "recalled items are offered to the planner"
    edited = chat.press(call, "edit", text="no, friday 10am")
    assert edited["meta"]["revision"] == 2 and edited["meta"]["planner"] == "llm"
    assert "You proposed this before" in script.prompts["ActionPlan"][-1]
    assert "no, friday 10am" in script.prompts["ActionPlan"][-1]
    assert chat.press(edited, "yes")["meta"]["outcome"] == "applied"
    (task,) = rows(db, "SELECT * FROM items WHERE client_id = %s AND type = 'task'", client_id)
    assert task["due"].astimezone(BERLIN).date() == (datetime.now(BERLIN) + timedelta(days=4)).date()

    script.answers["Answer"] = {"answer": "Maria prefers email [1].", "sources": [1]}
    answer = chat.say("How does Maria like to be contacted?")
    assert answer["meta"]["intent"] == "question" and answer["reply_text"].startswith("Maria prefers email [1].")
    assert "Sources:" in answer["reply_text"] and "[1]" in answer["reply_text"]
    assert "Maria prefers contact email" in script.prompts["Answer"][-1]

    script.answers["ActionPlan"] = {"intent": "question", "actions": [], "confidence": 0.9}
    script.answers["Answer"] = {"answer": "One lunch with Maria, tomorrow.", "sources": [1]}
    drafts_before = rows(db, "SELECT count(*) AS n FROM chat_drafts WHERE client_id = %s", client_id)
    told = chat.say("tell me about my plans with Maria")
    assert told["meta"]["intent"] == "question" and "One lunch" in told["reply_text"]
    assert rows(db, "SELECT count(*) AS n FROM chat_drafts WHERE client_id = %s", client_id) == drafts_before
    assert rows(
        db,
        "SELECT count(*) AS n FROM chat_updates WHERE chat_id = %s AND update_key = %s",
        chat.chat_id,
        f"m:{chat.message_id}",
    ) == [{"n": 0}], "a question is never recorded"

    assert chat.say("/undo")["meta"]["outcome"] == "undone"
    assert rows(db, "SELECT deleted_at IS NOT NULL AS gone FROM items WHERE id = %s", task["id"]) == [{"gone": True}]


def test_fast_mode_skips_the_llm_critic_and_uses_the_fast_model(llm_stack, fake, db, client_id):
    script = Script()
    fake.responder = script
    chat = linked(llm_stack, client_id)
    script.answers["ActionPlan"] = {
        "intent": "capture",
        "confidence": 0.9,
        "actions": [{"type": "create_item", "item": {"title": "Renew the lease"}}],
    }
    fast = chat.say("Renew the lease", processing={"mode": "fast"})
    assert fast["meta"]["mode"] == "fast" and fast["meta"]["critics"] == ["rules"]
    assert fast["meta"]["processing"]["model"] == SMALL and script.models["ActionPlan"] == [SMALL]
    assert "CriticOut" not in script.prompts
    slow = chat.say("Renew the lease", processing={"mode": "default"})
    assert slow["meta"]["critics"] == ["rules", "llm"] and script.models["ActionPlan"][-1] == BIG
    decided = chat.press(fast, "yes", processing={"mode": "fast"})
    assert decided["meta"]["mode"] == "fast" and decided["meta"]["outcome"] == "applied"


def test_a_failing_llm_falls_back_to_quick_add(llm_stack, fake, db, client_id):
    fake.responder = lambda body: "this is not JSON"
    chat = linked(llm_stack, client_id)
    draft = chat.say("Pay rent friday p1")
    meta = draft["meta"]
    assert meta["planner"] == "quickadd" and meta["critics"] == ["rules"] and meta["outcome"] == "draft_created"
    assert any(n.startswith("llm_unavailable:llm_bad_output") for n in meta["notes"])
    assert any(n.startswith("llm_critic_unavailable") for n in meta["notes"])
    assert "quick-add" in draft["reply_text"]
    assert chat.press(draft, "yes")["meta"]["outcome"] == "applied"
    (item,) = rows(db, "SELECT title, priority FROM items WHERE client_id = %s", client_id)
    assert item == {"title": "Pay rent", "priority": "p1"}
    answer = chat.say("What rent do I pay?")
    assert answer["meta"]["intent"] == "question" and "Pay rent" in answer["reply_text"]
    assert any(n.startswith("llm_unavailable") for n in answer["meta"]["notes"])
