"""Questions: answered from memory and items, with sources, and never able to write.

Everything a question reads is read on its own pooled connection whose transaction starts with
`SET TRANSACTION READ ONLY`, so Postgres itself refuses any write, however the question is phrased
("delete all my tasks?"). With an LLM the `chat_answer` prompt turns the sources into a short
answer citing them; without one the sources are the answer, with no generated prose.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from pydantic import BaseModel, Field

from steward.chat.identity import ChatUser
from steward.chat.models import ChatReply
from steward.chat.render import clip, when
from steward.chat.turn import Turn
from steward.core import prompts
from steward.core.errors import ApiError
from steward.core.llm import llm
from steward.core.processing import Profile
from steward.items import search
from steward.memory import service as memory

log = logging.getLogger(__name__)

REQUEST = re.compile(r"^(?:(?:can|could|would|will)\s+you|please|pls|remind\s+me|add|create|schedule)\b", re.I)
WH_START = re.compile(r"^(?:what|what's|whats|who|who's|which|why|how|where)\b", re.I)
QUESTION_WORDS = frozenset(
    "what whats who whos which why how where when do does did know is are was were have has had am should "
    "can could would will tell any anything something there".split()
)
MIN_SIMILARITY = 0.4  # a memory found by vectors alone must be at least this close to count as a source
ITEM_ICONS = {"task": "☑️", "note": "📝", "idea": "💡", "event": "📅", "person": "👤", "project": "📁"}


def looks_like_question(text: str) -> bool:
    """A question, not a request: "What did Anna say?" yes; "Can you remind me to call Anna?" no."""
    stripped = text.strip()
    if not stripped or stripped.startswith("/") or REQUEST.match(stripped):
        return False
    return stripped.endswith("?") or bool(WH_START.match(stripped))


@contextmanager
def read_only(pool) -> Iterator[psycopg.Connection]:
    """A connection whose whole transaction is read-only; it is always rolled back."""
    with pool.connection() as conn:
        conn.execute("SET TRANSACTION READ ONLY")
        try:
            yield conn
        finally:
            conn.rollback()


@dataclass
class Source:
    n: int
    kind: str
    text: str
    when: str
    ref: str


class Answer(BaseModel):
    answer: str = Field(max_length=3000)
    sources: list[int] = Field(default_factory=list, max_length=20)


def _terms(question: str) -> str:
    return " ".join(w for w in search.words(question) if w not in QUESTION_WORDS)


def gather(conn: psycopg.Connection[Any], rt, user: ChatUser, question: str, k: int) -> list[Source]:
    tz = ZoneInfo(user.timezone)
    terms = _terms(question)
    rows = search.candidates(conn, user.client_id, terms, limit=k) if terms else []
    found: list[Source] = []
    seen_items = {str(r["id"]) for r in rows}
    if terms:
        try:
            hits = memory.recall(conn, rt, client_id=user.client_id, q=question[:1000], k=k).hits
        except Exception as exc:  # an answer from items alone beats no answer
            log.warning("question answered without memory: %s: %s", type(exc).__name__, exc)
            hits = []
        for hit in hits:
            relevant = "text" in hit.matched_by or (hit.similarity or 0.0) >= MIN_SIMILARITY
            if not relevant or str(hit.metadata.get("item_id", "")) in seen_items:
                continue
            found.append(
                Source(0, "memory", hit.text, hit.occurred_at.astimezone(tz).strftime("%-d %b %Y"), str(hit.id))
            )
    for row in rows:
        state = row["status"] + (f", due {when(row['due'], row['due_has_time'], tz)}" if row["due"] else "")
        found.append(Source(0, row["type"], f"{row['title']} ({state})", "", str(row["id"])))
    for n, source in enumerate(found[: 2 * k], 1):
        source.n = n
    return found[: 2 * k]


def _listing(sources: list[Source]) -> list[str]:
    return [
        f"[{s.n}] {ITEM_ICONS.get(s.kind, '🧠')} {escape(s.text)}" + (f" <i>({s.when})</i>" if s.when else "")
        for s in sources
    ]


def answer(rt, user: ChatUser, question: str, profile: Profile, now: datetime) -> tuple[str, list[str]]:
    """(reply text, notes). Reads only, on a read-only transaction."""
    notes: list[str] = []
    with read_only(rt.pool) as conn:
        sources = gather(conn, rt, user, question, profile.retrieval_budget)
        prompt = None
        if sources and llm().configured:
            try:
                prompt = prompts.render(
                    conn,
                    "chat_answer",
                    question=question,
                    now=now.isoformat(timespec="minutes"),
                    timezone=user.timezone,
                    sources=[vars(s) for s in sources],
                )
            except prompts.PromptError as exc:
                notes.append(f"llm_unavailable:prompt_error: {exc}")
    if not sources:
        return "I don't have anything on that yet.", notes
    if prompt is not None:
        try:
            version, text = prompt
            said = (
                llm()
                .complete(
                    [{"role": "user", "content": text}],
                    Answer,
                    purpose="chat_answer",
                    prompt_version=version,
                    client_id=user.client_id,
                )
                .value
            )
            used = [s for s in sources if s.n in set(said.sources)] or sources
            return clip(escape(said.answer) + "\n\n<i>Sources:</i>\n" + "\n".join(_listing(used))), notes
        except ApiError as exc:
            notes.append(f"llm_unavailable:{exc.code}")
    head = f"Here is what I have on “{escape(question)}”:"
    return clip("\n".join([head, *_listing(sources)])), notes


def reply(turn: Turn, question: str) -> ChatReply:
    """The chat's answer to a question (`/ask ...` or detected), read-only."""
    assert turn.user is not None
    if not question.strip():
        return turn.reply(
            "Ask me something after /ask, e.g. <i>/ask what did I note about Acme?</i>", "question", "empty_question"
        )
    text, notes = answer(turn.rt, turn.user, question, turn.profile, turn.now)
    turn.notes += notes
    return turn.reply(text, "question", "answered")
