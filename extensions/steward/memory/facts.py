"""Facts with validity: a new value for a single-valued predicate supersedes, never overwrites.

For one (client, subject, predicate) the facts form a timeline ordered by `valid_from`. Asserting
a value at time t finds the fact in effect at t (it ends at t, `superseded_by` the new one) and the
next later fact, if any (the new one ends where it starts), so out-of-order arrivals still build a
correct chain. Multi-valued predicates ("likes") just add values. Each fact is mirrored as a memory
of kind `fact` with the same validity, so recall returns the current truth by default and the truth
at a moment with `as_of`. A per-subject advisory lock keeps two concurrent assertions from both
superseding the same fact.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.core.errors import NotFound
from steward.memory import caching, service
from steward.memory.models import AssertOut, FactIn, FactOut, MemoryItem
from steward.memory.text import normalise

# Predicates that hold one value at a time unless a client declares otherwise (fact_predicates).
SINGLE_VALUED = frozenset(
    {
        "lives_in",
        "works_at",
        "job_title",
        "role",
        "timezone",
        "email",
        "phone",
        "manager",
        "reports_to",
        "status",
        "birthday",
        "age",
        "prefers_meeting_time",
        "preferred_language",
        "owner",
        "deadline",
        "priority",
        "married_to",
        "partner",
        "address",
        "located_in",
        "favorite_color",
        "drives",
        "home_city",
        "current_project",
        "employer",
    }
)
COLUMNS = (
    "id, client_id, subject, predicate, object, valid_from, invalid_at, superseded_by, memory_id, metadata, "
    "provenance, created_at"
)


def normalise_predicate(predicate: str) -> str:
    return re.sub(r"[\s-]+", "_", predicate.strip().lower())


def fact_text(subject: str, predicate: str, obj: str) -> str:
    return f"{subject} {predicate.replace('_', ' ')} {obj}"


def is_single_valued(conn: psycopg.Connection[Any], client_id: str, predicate: str) -> bool:
    row = conn.execute(
        "SELECT single_valued FROM fact_predicates WHERE client_id = %s AND predicate = %s", (client_id, predicate)
    ).fetchone()
    return bool(row["single_valued"]) if row else predicate in SINGLE_VALUED


def declare_predicate(conn: psycopg.Connection[Any], client_id: str, predicate: str, single_valued: bool) -> None:
    conn.execute(
        """INSERT INTO fact_predicates (client_id, predicate, single_valued) VALUES (%s, %s, %s)
           ON CONFLICT (client_id, predicate) DO UPDATE SET single_valued = excluded.single_valued""",
        (client_id, predicate, single_valued),
    )


def _out(row: Any, at: datetime) -> FactOut:
    current = row["valid_from"] <= at and (row["invalid_at"] is None or row["invalid_at"] > at)
    return FactOut.model_validate({**row, "current": current})


def _set_memory_validity(conn: psycopg.Connection[Any], memory_id, invalid_at, superseded_by) -> None:
    if memory_id is not None:
        conn.execute(
            "UPDATE memories SET invalid_at = %s, superseded_by = %s, updated_at = now() WHERE id = %s",
            (invalid_at, superseded_by, memory_id),
        )


def assert_fact(conn: psycopg.Connection[Any], rt, fact: FactIn) -> AssertOut:
    predicate = normalise_predicate(fact.predicate)
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    at = fact.valid_from or now
    if fact.single_valued is not None:
        declare_predicate(conn, fact.client_id, predicate, fact.single_valued)
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 77))",
        (f"{fact.client_id}\n{fact.subject.lower()}\n{predicate}",),
    )
    chain_args = (fact.client_id, fact.subject.lower(), predicate)
    in_effect = conn.execute(
        f"""SELECT {COLUMNS} FROM facts WHERE client_id = %s AND subject_key = %s AND predicate = %s
              AND valid_from <= %s AND (invalid_at IS NULL OR invalid_at > %s)
            ORDER BY valid_from DESC, created_at DESC""",
        (*chain_args, at, at),
    ).fetchall()
    same = next((f for f in in_effect if normalise(f["object"]) == normalise(fact.object)), None)
    if same is not None:
        return AssertOut(fact=_out(same, now), superseded=[], unchanged=True)
    single = is_single_valued(conn, fact.client_id, predicate)
    later = None
    if single:
        later = conn.execute(
            f"""SELECT {COLUMNS} FROM facts WHERE client_id = %s AND subject_key = %s AND predicate = %s
                  AND valid_from > %s ORDER BY valid_from, created_at LIMIT 1""",
            (*chain_args, at),
        ).fetchone()
    row = conn.execute(
        f"""INSERT INTO facts (client_id, subject, predicate, object, valid_from, invalid_at, superseded_by,
                               metadata, provenance)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
        (
            fact.client_id,
            fact.subject,
            predicate,
            fact.object,
            at,
            later["valid_from"] if later else None,
            later["id"] if later else None,
            Jsonb(fact.metadata),
            Jsonb(fact.provenance),
        ),
    ).fetchone()
    memory = service.remember_many(
        conn,
        rt,
        fact.client_id,
        [
            MemoryItem.model_validate(
                {
                    "text": fact_text(fact.subject, predicate, fact.object),
                    "kind": "fact",
                    "metadata": fact.metadata,
                    "occurred_at": at,
                    "valid_from": at,
                    "provenance": {**fact.provenance, "fact_id": str(row["id"])},
                }
            )
        ],
        fact_ids=[str(row["id"])],
        hash_salts=[str(row["id"])],
    )[0]
    row = conn.execute(
        f"UPDATE facts SET memory_id = %s WHERE id = %s RETURNING {COLUMNS}", (memory.id, row["id"])
    ).fetchone()
    if later is not None:
        _set_memory_validity(conn, memory.id, later["valid_from"], later["memory_id"])
    superseded = []
    for old in in_effect if single else []:
        conn.execute("UPDATE facts SET invalid_at = %s, superseded_by = %s WHERE id = %s", (at, row["id"], old["id"]))
        _set_memory_validity(conn, old["memory_id"], at, memory.id)
        superseded.append(old["id"])
    caching.invalidate(rt.cache, fact.client_id)
    return AssertOut(fact=_out(row, now), superseded=superseded, unchanged=False)


def get_fact(conn: psycopg.Connection[Any], client_id: str, fact_id: str) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {COLUMNS}, subject_key FROM facts WHERE client_id = %s AND id = %s", (client_id, fact_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"no fact {fact_id} for this client")
    return row


def history(conn: psycopg.Connection[Any], client_id: str, fact_id: str) -> tuple[dict, list[FactOut]]:
    """Every value the fact's subject and predicate ever had, oldest first."""
    fact = get_fact(conn, client_id, fact_id)
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    rows = conn.execute(
        f"""SELECT {COLUMNS} FROM facts WHERE client_id = %s AND subject_key = %s AND predicate = %s
             ORDER BY valid_from, created_at""",
        (client_id, fact["subject_key"], fact["predicate"]),
    ).fetchall()
    return fact, [_out(r, now) for r in rows]


def invalidate(conn: psycopg.Connection[Any], rt, client_id: str, fact_id: str, at: datetime | None) -> FactOut:
    """End a fact without a successor ("no longer works at X"); an earlier end is kept."""
    fact = get_fact(conn, client_id, fact_id)
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    end = max(at or now, fact["valid_from"])
    row = conn.execute(
        f"""UPDATE facts SET invalid_at = LEAST(COALESCE(invalid_at, %s), %s) WHERE id = %s RETURNING {COLUMNS}""",
        (end, end, fact_id),
    ).fetchone()
    if row["memory_id"] is not None:
        conn.execute(
            "UPDATE memories SET invalid_at = %s, updated_at = now() WHERE id = %s",
            (row["invalid_at"], row["memory_id"]),
        )
    caching.invalidate(rt.cache, client_id)
    return _out(row, now)


def list_facts(
    conn: psycopg.Connection[Any],
    client_id: str,
    *,
    subject: str | None = None,
    predicate: str | None = None,
    as_of: datetime | None = None,
    include_history: bool = False,
    limit: int = 100,
) -> list[FactOut]:
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    at = as_of or now
    where, args = ["client_id = %s"], [client_id]
    args_any: list[Any] = args
    if subject is not None:
        where.append("subject_key = %s")
        args.append(subject.lower())
    if predicate is not None:
        where.append("predicate = %s")
        args.append(normalise_predicate(predicate))
    if not include_history:
        where.append("valid_from <= %s AND (invalid_at IS NULL OR invalid_at > %s)")
        args_any += [at, at]
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM facts WHERE {' AND '.join(where)} ORDER BY subject_key, predicate, valid_from LIMIT %s",
        (*args, limit),
    ).fetchall()
    return [_out(r, at) for r in rows]
