"""`/api/v1/chat`: what the telegram-chat workflow calls, and the operator's identity admin.

    POST /message                a Telegram message        -> ChatReply (conversation.py)
    POST /confirm                a button press or reply   -> ChatReply (decisions.py)
    POST /links                  a one-time link code for a user (admin)
    GET|PATCH /users/<client_id> a user's chat settings: timezone, date order, auto-apply (admin)
/message and /confirm are rate limited per chat (limits.py).
"""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_limiter.errors import RateLimitExceeded

from steward.chat import conversation, decisions, identity, limits
from steward.chat.models import (
    ChatReply,
    ChatUserOut,
    ChatUserPatch,
    ConfirmIn,
    LinkCodeIn,
    LinkCodeOut,
    MessageIn,
    ReplyMeta,
)
from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.errors import ValidationFailed
from steward.core.processing import current_profile
from steward.core.runtime import runtime
from steward.core.types import ClientId

bp = Blueprint("chat", __name__, url_prefix="/api/v1/chat")
limits.install(bp)

SLOW_DOWN = "You're sending messages faster than I can keep up 🙂 Give me {seconds} s and try again."


@endpoint(
    bp,
    "/message",
    methods=["POST"],
    scope="write",
    body=MessageIn,
    response=ChatReply,
    responses={429: "This chat is over CHAT_RATE_LIMIT; the body also carries a reply_text to send"},
    summary="A Telegram message: capture, question, command or correction -> the reply to send",
)
def message(body: MessageIn):
    rt = runtime()
    return conversation.handle(get_db(), rt, rt.settings, current_profile(rt.settings), body)


@endpoint(
    bp,
    "/confirm",
    methods=["POST"],
    scope="write",
    body=ConfirmIn,
    response=ChatReply,
    responses={429: "This chat is over CHAT_RATE_LIMIT; the body also carries a reply_text to send"},
    summary="Yes / Edit / No on a draft (button callback data or draft id) -> the reply to send",
)
def confirm(body: ConfirmIn):
    rt = runtime()
    return decisions.handle(get_db(), rt, rt.settings, current_profile(rt.settings), body)


@endpoint(
    bp,
    "/links",
    methods=["POST"],
    scope="admin",
    body=LinkCodeIn,
    response=LinkCodeOut,
    status=201,
    summary="Issue a one-time code that binds a Telegram chat to a user (/link CODE)",
)
def create_link(body: LinkCodeIn):
    code, expires_at = identity.create_code(get_db(), body.client_id, body.ttl_minutes, body.timezone)
    shown = identity.shown(code)
    return LinkCodeOut(
        code=shown,
        client_id=body.client_id,
        expires_at=expires_at,
        instructions=f"Send /link {shown} to the Steward bot before {expires_at:%Y-%m-%d %H:%M %Z}.",
    )


def _client(client_id: str) -> str:
    try:
        from pydantic import TypeAdapter

        return TypeAdapter(ClientId).validate_python(client_id)
    except ValueError:
        raise ValidationFailed.field("client_id", "letters, digits and . _ : @ - only") from None


@endpoint(
    bp,
    "/users/<client_id>",
    methods=["GET"],
    scope="admin",
    response=ChatUserOut,
    summary="A user's chat settings and linked chats",
)
def get_user(client_id: str):
    return ChatUserOut.model_validate(identity.get_user(get_db(), _client(client_id)))


@endpoint(
    bp,
    "/users/<client_id>",
    methods=["PATCH"],
    scope="admin",
    body=ChatUserPatch,
    response=ChatUserOut,
    summary="Change a user's timezone, date order or auto-apply",
)
def patch_user(client_id: str, body: ChatUserPatch):
    changed = identity.update_user(get_db(), _client(client_id), body.model_dump(exclude_unset=True))
    return ChatUserOut.model_validate(changed)


@bp.errorhandler(RateLimitExceeded)
def _slow_down(exc: RateLimitExceeded):
    seconds = limits.retry_after(current_app)
    text = SLOW_DOWN.format(seconds=seconds)
    body = ChatReply(reply_text=text, meta=ReplyMeta(intent="rate_limited", outcome="rate_limited")).model_dump(
        mode="json"
    )
    body["error"] = {
        "code": "rate_limited",
        "message": f"too many messages from this chat; retry in {seconds} s",
        "details": [{"field": "chat_id", "problem": f"over the limit of {exc.description}"}],
    }
    return body, 429, {"Retry-After": str(seconds)}
