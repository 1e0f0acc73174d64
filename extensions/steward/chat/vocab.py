"""Words the quick-add recognisers share: weekdays, months, ordinals, parts of the day."""

from __future__ import annotations

from datetime import time

WEEKDAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)"
)
WEEKDAY_LIST = rf"{WEEKDAY}\b(?:\s*(?:,\s*and|,|and|&|\+)\s*{WEEKDAY}\b)*"
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
ORDINAL_SUFFIX = r"(?:st|nd|rd|th)"
NTH = r"(?:first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)"
PERIOD = r"(?:morning|afternoon|evening|night)"

RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NTH = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}

# Default clock for a part of the day said without a time ("tomorrow morning", "tonight").
PERIOD_CLOCK = {
    "morning": time(9, 0),
    "afternoon": time(14, 0),
    "evening": time(19, 0),
    "night": time(20, 0),
}


def weekday_index(word: str) -> int:
    """0 for Monday ... 6 for Sunday; `word` is any spelling WEEKDAY matches."""
    return ("mo", "tu", "we", "th", "fr", "sa", "su").index(word.lower()[:2])


def is_short_weekday(word: str) -> bool:
    """True for abbreviations ("fri", "wed", "sat"), which double as ordinary English words."""
    return len(word) <= 5 and not word.lower().endswith("day")


def month_index(word: str) -> int:
    return _MONTHS.index(word.lower()[:3]) + 1


def nth_value(word: str) -> int:
    word = word.lower()
    return _NTH.get(word) or int(word[0])


def number_value(word: str) -> int | None:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBERS.get(word)
