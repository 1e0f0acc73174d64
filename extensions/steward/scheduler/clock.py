"""Time as integer minutes since the Unix epoch (UTC), and the wall-clock conversions around it.

The engine works on whole minutes so that interval arithmetic is exact and cheap. Wall-clock
times (working hours) become instants through `local_minute`, which defines what a window means
across daylight-saving changes: a window starts at the first instant whose local time reaches its
start, so a start inside a spring-forward gap begins at the transition and an ambiguous start in
the autumn takes its first occurrence. Every instant inside a window therefore shows a wall-clock
time inside the window's range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = 1440


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError (with a hint) if it is unknown."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown timezone {name!r}; use an IANA name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown timezone {name!r}; use an IANA name such as Europe/Berlin") from None


def to_minute(moment: datetime, *, up: bool = False) -> int:
    """An aware datetime as epoch minutes, rounded down (or up with `up=True`)."""
    seconds = moment.timestamp()
    whole, rest = divmod(seconds, 60)
    return int(whole) + (1 if up and rest > 0 else 0)


def from_minute(minute: int, tz: ZoneInfo) -> datetime:
    return (EPOCH + timedelta(minutes=minute)).astimezone(tz)


def wall(minute: int, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time at `minute`."""
    return from_minute(minute, tz).replace(tzinfo=None)


def local_date(minute: int, tz: ZoneInfo) -> date:
    return from_minute(minute, tz).date()


def local_minute(day: date, clock: time | None, tz: ZoneInfo) -> int:
    """The first instant at which the local wall clock reaches `day` at `clock` (None = 24:00)."""
    target = datetime.combine(day, clock) if clock is not None else datetime.combine(day + timedelta(days=1), time())
    first = to_minute(target.replace(tzinfo=tz, fold=0))
    if wall(first, tz) == target:
        return first
    # Inside a spring-forward gap: the wall clock jumps over `target`; find the jump.
    low = min(first, to_minute(target.replace(tzinfo=tz, fold=1)))
    high = max(first, to_minute(target.replace(tzinfo=tz, fold=1)))
    while low < high:
        mid = (low + high) // 2
        if wall(mid, tz) >= target:
            high = mid
        else:
            low = mid + 1
    return low


def ceil_to(minute: int, origin: int, step: int) -> int:
    """`minute` rounded up onto the grid `origin + k * step`."""
    if step <= 1:
        return minute
    return minute + (-(minute - origin)) % step
