"""`Turn`: what one chat request's answer depends on, and how every answer is shaped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from steward.chat import render
from steward.chat.identity import ChatUser
from steward.chat.models import ChatReply, Intent, ReplyMeta
from steward.core.config import Settings
from steward.core.processing import Profile


@dataclass
class Turn:
    """Everything one request's answer depends on."""

    conn: psycopg.Connection
    rt: Any
    settings: Settings
    profile: Profile
    chat_id: int
    now: datetime
    user: ChatUser | None = None
    notes: list[str] = field(default_factory=list)

    def reply(self, text: str, intent: Intent, outcome: str, **extra: Any) -> ChatReply:
        buttons = extra.pop("buttons", [])
        draft_id = extra.pop("draft_id", None)
        meta = ReplyMeta(
            intent=intent,
            outcome=outcome,
            mode=self.profile.mode,
            client_id=self.user.client_id if self.user else None,
            notes=list(self.notes),
            **extra,
        )
        return ChatReply(reply_text=render.clip(text), buttons=buttons, draft_id=draft_id, meta=meta)
