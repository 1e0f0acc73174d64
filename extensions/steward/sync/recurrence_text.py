"""Our normalised RRULE -> the "every ..." text Todoist understands in a due string.

Todoist keeps recurrence as natural language, so a rule travels as text and comes back through
the chat's own recurrence reader; `fields.expressible_rrule` checks the round trip. Rules this
cannot say (BYSETPOS, UNTIL, several month days...) give None: the task goes without a rule.
"""

from __future__ import annotations

DAY_NAMES = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year", "HOURLY": "hour", "MINUTELY": "minute"}


def _ordinal(n: int) -> str:
    if n == -1:
        return "last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _every(interval: int, unit: str) -> str:
    return f"every {unit}" if interval == 1 else f"every {interval} {unit}s"


def rrule_to_text(rule: str) -> str | None:
    try:
        parts = dict(part.split("=", 1) for part in rule.removeprefix("RRULE:").split(";") if part)
    except ValueError:
        return None
    freq = parts.pop("FREQ", "")
    interval = int(parts.pop("INTERVAL", "1") or 1)
    byday = [d for d in parts.pop("BYDAY", "").split(",") if d]
    monthday = parts.pop("BYMONTHDAY", None)
    month = parts.pop("BYMONTH", None)
    if parts or freq not in UNITS:
        return None
    if freq == "WEEKLY" and byday:
        if any(d not in DAY_NAMES for d in byday):
            return None
        if interval == 1 and byday == ["MO", "TU", "WE", "TH", "FR"]:
            return "every workday"
        if interval == 1 and byday == ["SA", "SU"]:
            return "every weekend"
        names = " and ".join(DAY_NAMES[d] for d in byday)
        if interval == 1:
            return f"every {names}"
        if interval == 2 and len(byday) == 1:
            return f"every other {names}"
        return f"every {interval} weeks on {names}"
    if byday or monthday or month:
        if freq == "MONTHLY" and interval == 1 and monthday and not (byday or month):
            md = int(monthday)
            return "every last day" if md == -1 else f"every {_ordinal(md)}" if 1 <= md <= 31 else None
        if freq == "MONTHLY" and interval == 1 and len(byday) == 1 and not (monthday or month):
            nth, day = byday[0][:-2], byday[0][-2:]
            if day in DAY_NAMES and nth in ("1", "2", "3", "4", "-1"):
                return f"every {_ordinal(int(nth))} {DAY_NAMES[day]}"
            return None
        if freq == "YEARLY" and interval == 1 and month and monthday and not byday:
            if 1 <= int(month) <= 12 and 1 <= int(monthday) <= 31:
                return f"every {MONTHS[int(month) - 1]} {int(monthday)}"
        return None
    return _every(interval, UNITS[freq])
