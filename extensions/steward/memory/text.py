"""Text helpers shared by memories and documents: normalising, hashing and what gets indexed.

The indexed text (embedded and full-text searched) is the memory's text prefixed with a few short
metadata values such as the speaker, because conversational questions name people ("what did
Maria say...") that a turn's own words rarely repeat.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

TS_CONFIG = "english"
INDEXED_METADATA = ("title", "topic", "speaker", "author", "sender")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w']+", re.UNICODE)


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form used for exact-duplicate detection."""
    return _SPACE.sub(" ", text).strip().casefold()


def content_hash(kind: str, text: str, salt: str = "") -> str:
    digest = hashlib.sha256(f"{kind}\n{normalise(text)}".encode())
    if salt:
        digest.update(b"\n" + salt.encode())
    return digest.hexdigest()


def index_text(text: str, metadata: dict[str, Any] | None = None) -> str:
    """What is embedded and full-text indexed: short labelling metadata, then the text."""
    labels = []
    for key in INDEXED_METADATA:
        value = (metadata or {}).get(key)
        if isinstance(value, str) and 0 < len(value.strip()) <= 120:
            labels.append(value.strip())
    if not labels:
        return text
    return " · ".join(labels) + ": " + text


def words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def same_words(a: set[str], b: set[str], threshold: float = 0.9) -> bool:
    """Token-set Jaccard similarity at or above `threshold` (used to drop echoes from results)."""
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= threshold
