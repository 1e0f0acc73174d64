"""telegram-chat and todoist-sync: a Telegram message becomes a draft, its Yes button applies it, and
todoist-sync pushes the new task to Todoist (on demand from telegram-chat) and pulls Todoist's changes.

The test plays Telegram's part: provisioning registered telegram-chat's webhook with the fake Bot API
(`setWebhook`, with TELEGRAM_WEBHOOK_SECRET as the secret token), and updates are posted there as
Telegram would, with that secret in X-Telegram-Bot-Api-Secret-Token.
"""

from __future__ import annotations

import itertools
import time

import pytest
import requests

pytestmark = pytest.mark.e2e
CHAT = 5151
_ids = itertools.count(int(time.time()) % 100000 * 100)


def _webhook(fake_telegram) -> tuple[str, str]:
    registered = fake_telegram.wait_for("setWebhook", timeout=60).params
    return registered["url"], registered["secret_token"]


def _send(fake_telegram, update: dict, secret: str | None = None) -> requests.Response:
    url, token = _webhook(fake_telegram)
    return requests.post(
        url,
        json={"update_id": next(_ids), **update},
        timeout=30,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret or token},
    )


def _message(text: str) -> dict:
    return {
        "message": {
            "message_id": next(_ids),
            "date": int(time.time()),
            "text": text,
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Operator"},
        }
    }


def _replies(fake_telegram, method: str = "sendMessage") -> list:
    return [c for c in fake_telegram.calls if c.method == method and str(c.params.get("chat_id")) == str(CHAT)]


def _next_reply(fake_telegram, seen: int, method: str = "sendMessage", timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = _replies(fake_telegram, method)
        if len(replies) > seen:
            return replies[seen]
        time.sleep(0.2)
    raise AssertionError(f"no {method} to chat {CHAT} within {timeout} s")


@pytest.fixture
def linked_chat(n8n, live_server, fake_telegram):
    code = live_server.api("admin").post("/api/v1/chat/links", json={"client_id": n8n.client_id})
    assert code.status_code in (200, 201), code.text
    seen = len(_replies(fake_telegram))
    assert _send(fake_telegram, _message(f"/link {code.json()['code']}")).status_code == 200
    reply = _next_reply(fake_telegram, seen)
    assert "link" in reply.params["text"].lower(), reply.params
    return CHAT


def test_a_message_becomes_a_draft_and_its_button_applies_it(n8n, api, linked_chat, fake_telegram, fake_todoist):
    seen = len(_replies(fake_telegram))
    title = f"Buy oat milk {next(_ids)}"

    assert _send(fake_telegram, _message(f"{title} tomorrow")).status_code == 200

    draft = _next_reply(fake_telegram, seen)
    assert draft.params["parse_mode"] == "HTML" and "n8n" not in draft.params["text"]
    [row] = draft.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in row] == ["✅ Yes", "✏️ Edit", "✖️ No"]
    [yes] = [b for b in row if b["callback_data"].endswith(":y")]
    edits = len(_replies(fake_telegram, "editMessageText"))

    press = {
        "callback_query": {
            "id": f"cb-{next(_ids)}",
            "data": yes["callback_data"],
            "chat_instance": "1",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Operator"},
            "message": {
                "message_id": 100,
                "date": int(time.time()),
                "chat": {"id": CHAT, "type": "private"},
                "text": "draft",
            },
        }
    }
    assert _send(fake_telegram, press).status_code == 200

    edited = _next_reply(fake_telegram, edits, "editMessageText")
    assert str(edited.params["message_id"]) == "100" and edited.params["text"]
    fake_telegram.wait_for("answerCallbackQuery", lambda p: p.get("callback_query_id") == press["callback_query"]["id"])
    items = api.get("/api/v1/items", params={"client_id": n8n.client_id, "q": title}).json()["items"]
    assert [i["title"] for i in items] == [title]
    # Applying the draft ran todoist-sync on demand: the task is in Todoist.
    deadline = time.monotonic() + 60
    while not [t for t in fake_todoist.active_tasks() if t["content"].startswith(title)]:
        assert time.monotonic() < deadline, f"the task never reached Todoist\n{n8n.failures()}"
        time.sleep(0.5)


def test_the_webhook_is_registered_with_the_deployments_secret(n8n, fake_telegram):
    registered = fake_telegram.wait_for("setWebhook", timeout=60).params
    assert registered["url"] == f"{n8n.url}/webhook/telegram/update"
    assert registered["secret_token"] == n8n.telegram_secret  # random per deployment, not derived from ids
    assert registered["allowed_updates"] == ["message", "callback_query"]


def test_a_forged_update_is_refused(n8n, fake_telegram):
    before = n8n.last_execution_id("telegram-chat")
    assert _send(fake_telegram, _message("hello"), secret="not-the-secret").status_code == 403
    url, _ = _webhook(fake_telegram)
    assert requests.post(url, json={"update_id": next(_ids), **_message("hello")}, timeout=30).status_code == 403
    assert n8n.last_execution_id("telegram-chat") == before


def test_todoist_sync_pulls_what_changed_in_todoist(n8n, api, fake_todoist):
    title = f"Call the plumber {next(_ids)}"
    fake_todoist.phone_add(title)

    run = n8n.execute("todoist-sync")

    assert run.returncode == 0, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}\n{n8n.failures()}"
    items = api.get("/api/v1/items", params={"client_id": n8n.client_id, "q": title}).json()["items"]
    assert [i["title"] for i in items] == [title]
    status = api.get("/api/v1/sync/todoist/status", params={"client_id": n8n.client_id}).json()
    assert status["last_pull_at"] is not None and status["pending"] == 0
