"""A Telegram chat as n8n drives it over HTTP, for the chat tests."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

_ids = itertools.count(random.randint(10_000, 90_000) * 1000)


class Chat:
    """One Telegram chat: `say` posts a message, `press` a button of a reply, as n8n would."""

    def __init__(self, api: Any, chat_id: int | None = None, user_id: int | None = None) -> None:
        self.api = api
        self.chat_id = chat_id if chat_id is not None else next(_ids)
        self.user_id = user_id if user_id is not None else self.chat_id + 7
        self.message_id = 100

    def send(self, text: str, message_id: int | None = None, **extra: Any):
        if message_id is None:
            self.message_id += 1
            message_id = self.message_id
        body = {
            "chat_id": self.chat_id,
            "user_id": self.user_id,
            "message_id": message_id,
            "text": text,
            "date": int(time.time()),
            **extra,
        }
        return self.api.post("/api/v1/chat/message", json=body)

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        resp = self.send(text, **extra)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def confirm(self, expect: int = 200, **body: Any) -> dict[str, Any]:
        resp = self.api.post("/api/v1/chat/confirm", json={"chat_id": self.chat_id, "user_id": self.user_id, **body})
        assert resp.status_code == expect, resp.text
        return resp.json()

    def press(self, reply: dict[str, Any], label: str, **extra: Any) -> dict[str, Any]:
        data = button(reply, label)
        return self.confirm(callback_data=data, **extra)


def button(reply: dict[str, Any], label: str) -> str:
    for row in reply["buttons"]:
        for b in row:
            if label.lower() in b["text"].lower():
                assert len(b["callback_data"].encode()) < 64
                return b["callback_data"]
    raise AssertionError(f"no {label!r} button in {reply['buttons']}")


def link(admin_api: Any, chat: Chat, client_id: str, timezone: str = "Europe/Berlin") -> dict[str, Any]:
    made = admin_api.post("/api/v1/chat/links", json={"client_id": client_id, "timezone": timezone})
    assert made.status_code == 201, made.text
    reply = chat.say(f"/link {made.json()['code']}")
    assert reply["meta"]["outcome"] == "linked", reply
    return reply
