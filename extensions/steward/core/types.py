"""Field types shared by request models, so every service validates ids and times alike."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, StringConstraints

ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"),
    Field(description="The tenant/owner scope: letters, digits and . _ : @ -", examples=["acme"]),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/-]+$")]
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _iso_text(value: Any) -> Any:
    """Pydantic would read a number, or a numeric string, as Unix seconds (`0` -> 1970-01-01); the
    contract is ISO 8601 text, so a number is refused rather than silently moved to 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("send ISO 8601 text, not a number")
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    Field(description="ISO 8601 with an offset, e.g. 2026-11-21T09:00:00+01:00"),
]
Day = Annotated[date, BeforeValidator(_iso_text), Field(description="A calendar day, YYYY-MM-DD")]
JsonObject = Annotated[dict[str, Any], Field(description="Any JSON object")]
Limit = Annotated[int, Field(ge=1, le=500, description="Page size, 1 to 500")]


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else str(p) for p in parts])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """Inverse of `encode_cursor`; raises ValueError on anything it did not produce."""
    padded = cursor + "=" * (-len(cursor) % 4)
    parts = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    if not isinstance(parts, list) or len(parts) != count or not all(isinstance(p, str) for p in parts):
        raise ValueError("not a cursor from this API")
    return parts
