"""Lexical look-ups over items: likely duplicates of a new title, and items a question mentions.

Candidates come from the full-text index (any shared word); the score is word overlap, so it is
cheap, explainable and works with no embedder: `max(jaccard, 0.9 * containment)` where
containment is the share of the shorter title's words found in the other ("Call Anna" inside
"Call Anna about the budget" scores 0.9).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from steward.items.store import COLUMNS

STOPWORDS = frozenset(
    "a an and the to of for in on at by with about from my me i it is are be this that these those our your "
    "please some any up".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in STOPWORDS}


def overlap(a: str, b: str) -> float:
    first, second = words(a), words(b)
    if not first or not second:
        return 0.0
    shared = len(first & second)
    jaccard = shared / len(first | second)
    smaller = min(len(first), len(second))
    containment = shared / smaller if smaller >= 2 else 0.0
    return round(max(jaccard, 0.9 * containment), 4)


def _tsquery(terms: set[str]) -> str:
    return " | ".join(f"'{t}'" for t in sorted(terms))


def candidates(
    conn: psycopg.Connection[Any],
    client_id: str,
    text: str,
    *,
    types: list[str] | None = None,
    open_only: bool = False,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Live items sharing at least one word with `text`, best full-text rank first."""
    terms = words(text)
    if not terms:
        return []
    where = ["client_id = %s", "deleted_at IS NULL", "search_tsv @@ to_tsquery('simple', %s)"]
    args: list[Any] = [client_id, _tsquery(terms)]
    if types:
        where.append("type = ANY(%s)")
        args.append(types)
    if open_only:
        where.append("status IN ('inbox', 'active')")
    return conn.execute(
        f"""SELECT {COLUMNS}, ts_rank(search_tsv, to_tsquery('simple', %s)) AS rank FROM items
             WHERE {" AND ".join(where)} ORDER BY rank DESC, updated_at DESC LIMIT %s""",
        (_tsquery(terms), *args, limit),
    ).fetchall()


def similar(
    conn: psycopg.Connection[Any],
    client_id: str,
    title: str,
    *,
    types: list[str] | None = None,
    min_score: float = 0.75,
    limit: int = 3,
) -> list[tuple[dict[str, Any], float]]:
    """Open items whose titles overlap `title` at or above `min_score`, best first."""
    scored = [
        (row, overlap(title, row["title"])) for row in candidates(conn, client_id, title, types=types, open_only=True)
    ]
    kept = sorted((pair for pair in scored if pair[1] >= min_score), key=lambda pair: pair[1], reverse=True)
    return kept[:limit]


def by_name(conn: psycopg.Connection[Any], client_id: str, item_type: str, name: str) -> dict[str, Any] | None:
    """The live item of `item_type` whose title is `name`, ignoring case (the newest if several)."""
    return conn.execute(
        f"""SELECT {COLUMNS} FROM items WHERE client_id = %s AND type = %s AND deleted_at IS NULL
              AND lower(title) = lower(%s) ORDER BY updated_at DESC LIMIT 1""",
        (client_id, item_type, name),
    ).fetchone()


def names(conn: psycopg.Connection[Any], client_id: str, item_type: str, limit: int = 50) -> list[str]:
    rows = conn.execute(
        """SELECT title FROM items WHERE client_id = %s AND type = %s AND deleted_at IS NULL
              AND status IN ('inbox', 'active') ORDER BY updated_at DESC LIMIT %s""",
        (client_id, item_type, limit),
    ).fetchall()
    return [r["title"] for r in rows]
