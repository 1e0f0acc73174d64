"""Reflection periods: a local day, or a Monday-to-Sunday week, in the client's time zone.

`resolve` is also where the request's mode-dependent rules are checked, each failure a 400
naming its field: a daily needs `date`, a weekly needs `week` given as its Monday.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from steward.core.errors import ValidationFailed
from steward.observer.figures import Mode
from steward.observer.models import ReflectIn

WORKING_DAYS = {"daily": 1, "weekly": 5}


@dataclass(frozen=True)
class Period:
    mode: Mode
    start: dt.date
    end: dt.date  # inclusive
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[first local midnight, the midnight after the last day) as aware datetimes."""
        return (
            dt.datetime.combine(self.start, dt.time(), self.tz),
            dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), self.tz),
        )

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def previous(self) -> Period:
        length = (self.end - self.start).days + 1
        step = dt.timedelta(days=length)
        return Period(self.mode, self.start - step, self.end - step, self.timezone)

    def day(self, date: dt.date) -> Period:
        return Period("daily", date, date, self.timezone)

    def key(self, client_id: str) -> str:
        return f"{client_id}:{self.mode}:{self.start.isoformat()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Period:
        return cls(
            data["mode"], dt.date.fromisoformat(data["start"]), dt.date.fromisoformat(data["end"]), data["timezone"]
        )


def resolve(mode: Mode, body: ReflectIn) -> Period:
    if mode == "daily":
        if body.week is not None:
            raise ValidationFailed.field("week", "is for mode=weekly; a daily reflection takes `date`")
        if body.date is None:
            raise ValidationFailed.field("date", "required for mode=daily (YYYY-MM-DD)")
        if body.sprint is not None:
            raise ValidationFailed.field("sprint", "is for mode=weekly; sprint hours are compared per week")
        return Period("daily", body.date, body.date, body.timezone)
    if body.date is not None:
        raise ValidationFailed.field("date", "is for mode=daily; a weekly reflection takes `week` (its Monday)")
    if body.week is None:
        raise ValidationFailed.field("week", "required for mode=weekly: the Monday that starts the week")
    if body.week.isoweekday() != 1:
        monday = body.week - dt.timedelta(days=body.week.isoweekday() - 1)
        raise ValidationFailed.field(
            "week",
            f"{body.week.isoformat()} is a {body.week.strftime('%A')}, not the start of its week; "
            f"send its Monday, {monday.isoformat()}",
        )
    return Period("weekly", body.week, body.week + dt.timedelta(days=6), body.timezone)


def check_ids(body: ReflectIn) -> None:
    """Task ids name tasks in the figures, so each must be unique; so must the sprint's."""
    seen: dict[str, int] = {}
    for index, task in enumerate(body.tasks):
        if task.id in seen:
            raise ValidationFailed.field(f"tasks.{index}.id", f"duplicates tasks.{seen[task.id]}.id ({task.id!r})")
        seen[task.id] = index
    if body.sprint is not None:
        listed: dict[str, int] = {}
        for index, task_id in enumerate(body.sprint.task_ids):
            if task_id in listed:
                raise ValidationFailed.field(f"sprint.task_ids.{index}", f"{task_id!r} is listed twice")
            listed[task_id] = index
