"""A run's blocks as an iCalendar file (RFC 5545), for any calendar app to import or subscribe to.

Times are written in UTC so no VTIMEZONE is needed; each event's UID is stable per run and block
key, so importing the same run twice updates events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from icalendar import Calendar, Event

from steward.scheduler.models import BlockOut


def calendar(run_id: str, created: datetime, blocks: Sequence[BlockOut], timezone: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Steward//scheduler//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Steward plan {run_id}")
    cal.add("x-wr-timezone", timezone)
    for block in blocks:
        event = Event()
        event.add("uid", f"{run_id}-{block.key}@steward")
        event.add("dtstamp", created.astimezone(UTC))
        event.add("dtstart", block.start.astimezone(UTC))
        event.add("dtend", block.end.astimezone(UTC))
        event.add("summary", block.title if block.of == 1 else f"{block.title} ({block.chunk}/{block.of})")
        event.add("description", block.description)
        event.add("categories", ["Steward"])
        event.add("x-steward-task-id", block.task_id)
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
