"""Request and response models of `/api/v1/chat` (what the telegram-chat workflow sends and gets).

Every answer to /message and /confirm is a `ChatReply`: n8n sends `reply_text` (Telegram HTML
parse mode) with `buttons` as the inline keyboard, whatever happened. Problems a Telegram user can
cause (a stale button, an expired draft, an unknown command) are answers with `meta.outcome`
saying what happened; only a malformed request from the caller is a 4xx error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from steward.core.api import StrictModel
from steward.core.processing import ProcessingIn
from steward.core.types import ClientId

# Strict: a JSON number, as Telegram sends it; `false` or "12" is a caller bug, not an id.
TelegramId = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
MAX_TEXT = 100_000
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime holds
SentAt = Annotated[
    datetime,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_UNIX_SECONDS},
                {"type": "string", "format": "date-time"},
            ]
        }
    ),
]


class MessageIn(StrictModel):
    """One Telegram message, as the telegram-chat workflow forwards it."""

    chat_id: TelegramId
    user_id: TelegramId | None = Field(default=None, description="The sender's Telegram user id")
    message_id: int = Field(
        ge=0, le=2**63 - 1, strict=True, description="Telegram's message id; a redelivery repeats it"
    )
    text: str = Field(default="", max_length=MAX_TEXT, description="The message text; empty for photos, stickers...")
    date: SentAt | None = Field(default=None, description="Sent at: Unix seconds (Telegram's `date`) or ISO 8601")
    processing: ProcessingIn | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _unix_seconds(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not 0 <= value <= MAX_UNIX_SECONDS:  # also refuses NaN
                raise ValueError(f"Unix seconds must be between 0 and {MAX_UNIX_SECONDS}")
            return datetime.fromtimestamp(value, UTC)
        return value

    @field_validator("date")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone offset, or send Unix seconds")
        return value


Decision = Literal["yes", "no", "edit"]


class ConfirmIn(StrictModel):
    """A decision on a draft: a button's `callback_data` as Telegram sent it, or `draft_id` + `decision`."""

    chat_id: TelegramId
    user_id: TelegramId | None = None
    callback_data: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        None, description="The pressed button's callback data, e.g. d:Ab3dE5fG7h:y"
    )
    callback_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        None, description="Telegram's callback query id; a redelivered callback gets the same answer"
    )
    draft_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="The draft's UUID or short id"
    )
    decision: Decision | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)] | None = Field(
        None, description="With decision edit: the correction"
    )
    processing: ProcessingIn | None = None

    @model_validator(mode="after")
    def _names_a_decision(self) -> ConfirmIn:
        if self.callback_data is None and (self.draft_id is None or self.decision is None):
            raise ValueError("send callback_data, or both draft_id and decision")
        return self


class Button(BaseModel):
    text: str
    callback_data: str = Field(max_length=64)


Intent = Literal["capture", "edit", "question", "command", "link", "unlinked", "rejected", "decision", "rate_limited"]


class ReplyMeta(BaseModel):
    intent: Intent
    outcome: str = Field(description="What happened, e.g. draft_created, applied, expired, already_decided")
    mode: Literal["fast", "default"] = "default"
    client_id: str | None = None
    draft_short_id: str | None = None
    revision: int | None = None
    planner: Literal["llm", "quickadd"] | None = None
    critics: list[str] = Field(default_factory=list, description="Which critics ran: rules, llm")
    flags: list[str] = Field(default_factory=list, description="Kinds of the critic's flags on the draft")
    confidence: float | None = None
    replayed: bool = False
    notes: list[str] = Field(default_factory=list)


class ChatReply(BaseModel):
    reply_text: str
    parse_mode: Literal["HTML"] = "HTML"
    buttons: list[list[Button]] = Field(default_factory=list, description="Rows of an inline keyboard")
    draft_id: UUID | None = None
    meta: ReplyMeta


# ---- identity administration ---------------------------------------------------------------
Timezone = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class LinkCodeIn(StrictModel):
    client_id: ClientId
    ttl_minutes: int = Field(default=30, ge=1, le=10_080, description="How long the code stays valid")
    timezone: Timezone | None = Field(default=None, description="The user's IANA timezone, e.g. Europe/Berlin")


class LinkCodeOut(BaseModel):
    code: str
    client_id: str
    expires_at: datetime
    instructions: str


class ChatUserPatch(StrictModel):
    timezone: Timezone | None = None
    date_order: Literal["DMY", "MDY"] | None = None
    auto_apply: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> ChatUserPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of timezone, date_order, auto_apply")
        return self


class ChatUserOut(BaseModel):
    client_id: str
    timezone: str
    date_order: str
    auto_apply: bool
    chats: list[int]
    created_at: datetime
    updated_at: datetime
