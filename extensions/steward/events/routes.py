"""`/api/v1/events`: the event log n8n writes to and reflections read from."""

from __future__ import annotations

from flask import Blueprint

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.errors import ValidationFailed
from steward.core.runtime import runtime
from steward.events import store
from steward.events.models import EventIn, EventOut, EventPage, EventQuery

bp = Blueprint("events", __name__, url_prefix="/api/v1/events")


@endpoint(
    bp, "", methods=["POST"], scope="write", summary="Append an event", body=EventIn, response=EventOut, status=201
)
def create(body: EventIn):
    row = store.append(
        get_db(), body.event_type, body.event_source, body.client_id, body.payload, body.metadata, body.occurred_at
    )
    from steward.memory.similar import index_event

    index_event(runtime(), row)  # best effort, for /memory/similar/events; `steward reindex` repairs misses
    return EventOut.model_validate(row)


@endpoint(
    bp, "", methods=["GET"], scope="read", summary="List events, newest first", query=EventQuery, response=EventPage
)
def list_events(query: EventQuery):
    try:
        rows, next_cursor = store.page(get_db(), **query.model_dump())
    except ValueError:
        raise ValidationFailed.field("cursor", "not a cursor from this API; pass next_cursor unchanged") from None
    return EventPage(items=[EventOut.model_validate(r) for r in rows], next_cursor=next_cursor)
