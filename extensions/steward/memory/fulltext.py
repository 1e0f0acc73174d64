"""Postgres full-text retrieval with BM25-style IDF weights, shared by memories and document chunks.

`ts_rank` has no notion of how common a word is, so in a conversation every line a speaker said
ranks alike for a question that names them. Here each query lexeme is weighted by its inverse
document frequency within the client's rows. Rows are matched by an OR of the query's lexemes, and
the document frequency of each matched lexeme is counted over that very match set (every row that
holds the lexeme is in it), so it is exact and costs one aggregate. Lexemes that the planner's own
statistics (`pg_stats.most_common_elems`, kept by ANALYZE) show in more than COMMON_FREQ of all
rows do not qualify a row on their own, which bounds the match set on large tables; their document
frequency is estimated from those statistics instead.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

from steward.memory.text import TS_CONFIG

STATS_TTL = 300.0
COMMON_FREQ = 0.05
EXACT_ROWS = 5000  # clients up to this size get exact document frequencies
RARE_TERMS = 6  # lexemes that form the strong (two-lexeme) candidates on large clients
SINGLE_TERMS = 3  # lexemes whose lone matches are also candidates
STRONG_LIMIT = 1000
MAX_TERMS = 24
# Full-text queries run here while the calling thread embeds the query (both wait on I/O or C code).
WORKERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="steward-fulltext")


@dataclass(frozen=True)
class Terms:
    lexemes: list[str]
    common: dict[str, float]  # lexeme -> global row fraction, for the ones that do not qualify alone

    @property
    def required(self) -> list[str]:
        rest = [lex for lex in self.lexemes if lex not in self.common]
        return rest or self.lexemes


class TermStats:
    """Planner statistics of one tsvector column and per-client row counts, cached per process."""

    def __init__(self, table: str, column: str = "search_tsv") -> None:
        self.table = table
        self.column = column
        self._freqs: dict[str, float] = {}
        self._floor = 0.001
        self._loaded_at = -math.inf
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _refresh(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(
            """SELECT most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs
                 FROM pg_stats WHERE schemaname = 'public' AND tablename = %s AND attname = %s""",
            (self.table, self.column),
        ).fetchone()
        freqs: dict[str, float] = {}
        floor = 0.001
        if row and row["elems"] and row["freqs"]:
            elems, values = row["elems"], row["freqs"]
            freqs = dict(zip(elems, values[: len(elems)], strict=False))
            floor = values[len(elems)] if len(values) > len(elems) else min(freqs.values())  # stored minimum
        self._freqs, self._floor, self._loaded_at = freqs, floor, time.monotonic()

    def frequency_of(self, conn: psycopg.Connection[Any], lexeme: str) -> float:
        """A lexeme's row fraction; one missing from the statistics is rarer than all listed ones."""
        freqs = self.frequencies(conn)
        return freqs.get(lexeme, self._floor / 2)

    def frequencies(self, conn: psycopg.Connection[Any]) -> dict[str, float]:
        if time.monotonic() - self._loaded_at > STATS_TTL:
            with self._lock:
                if time.monotonic() - self._loaded_at > STATS_TTL:
                    self._refresh(conn)
        return self._freqs

    def rows(self, conn: psycopg.Connection[Any], client_id: str) -> int:
        """How many rows the client has (cached: it only scales the IDF)."""
        cached = self._counts.get(client_id)
        if cached is not None and time.monotonic() - cached[0] < STATS_TTL:
            return cached[1]
        count = conn.execute(f"SELECT count(*) AS n FROM {self.table} WHERE client_id = %s", (client_id,)).fetchone()[
            "n"
        ]
        if len(self._counts) > 10_000:
            self._counts.clear()
        self._counts[client_id] = (time.monotonic(), count)
        return count


def terms(conn: psycopg.Connection[Any], text: str, stats: TermStats) -> Terms:
    """The query's lexemes (stemmed, stopwords removed by Postgres), the common ones marked."""
    row = conn.execute(
        "SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s)) AS lexemes", (TS_CONFIG, text)
    ).fetchone()
    lexemes = list(row["lexemes"] or [])[:MAX_TERMS]
    freqs = stats.frequencies(conn)
    return Terms(lexemes, {lex: freqs[lex] for lex in lexemes if freqs.get(lex, 0.0) > COMMON_FREQ})


def tsquery_literal(lexemes: list[str]) -> str:
    """`'a' | 'b'` with lexemes quoted, for a ::tsquery cast (no re-stemming)."""
    return " | ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


def search(
    conn: psycopg.Connection[Any],
    table: str,
    where: str,
    where_args: list,
    text: str,
    stats: TermStats,
    client_id: str,
    depth: int,
) -> list[tuple[str, float]]:
    """(id, coverage) best first; coverage is the share of the query's IDF weight a row holds.
    `where` (with `where_args`) must scope the rows of `table` to `client_id`."""
    found = terms(conn, text, stats)
    if not found.lexemes:
        return []
    total = stats.rows(conn, client_id)
    if total <= EXACT_ROWS or not stats.frequencies(conn):
        return _exact(conn, table, where, where_args, found, total, depth)
    return _bounded(conn, table, where, where_args, found, stats, total, depth)


def _exact(conn, table, where, where_args, found: Terms, total: int, depth: int) -> list[tuple[str, float]]:
    """Score every row holding a qualifying lexeme, with document frequencies counted over that
    match set (exact: every row holding a lexeme is in it). For clients with few rows."""
    flags, dfs, idf_parts, args_flags = [], [], [], []
    args_idf: list[float] = []
    for n, lexeme in enumerate(found.lexemes):
        flags.append(f"(search_tsv @@ %s::tsquery) AS m{n}")
        args_flags.append(tsquery_literal([lexeme]))
        dfs.append(f"count(*) FILTER (WHERE m{n}) AS d{n}")
        common = found.common.get(lexeme)
        df = f"s.d{n}" if common is None else "%s::float8"
        # BM25's idf on N = max(client rows, match-set size): ln(1 + (N - df + 0.5) / (df + 0.5))
        idf_parts.append(f"ln(1 + GREATEST(GREATEST(%s, s.hits) - {df} + 0.5, 0.5) / ({df} + 0.5))")
        args_idf += [total] if common is None else [total, common * total, common * total]
    count = len(found.lexemes)
    sql = f"""
        WITH matched AS MATERIALIZED (
            SELECT id::text AS id, length(search_tsv) AS len, {", ".join(flags)}
              FROM {table} WHERE search_tsv @@ %s::tsquery AND {where}),
        s AS (SELECT count(*) AS hits, {", ".join(dfs)} FROM matched),
        w AS (SELECT {", ".join(f"{part} AS w{n}" for n, part in enumerate(idf_parts))} FROM s)
        SELECT m.id, raw / (1 + 0.15 * ln(1 + m.len)) AS score, raw / NULLIF(total, 0) AS coverage
          FROM (SELECT matched.*, ({" + ".join(f"CASE WHEN m{n} THEN w{n} ELSE 0 END" for n in range(count))}) AS raw,
                       ({" + ".join(f"w{n}" for n in range(count))}) AS total
                  FROM matched, w) m
         ORDER BY score DESC LIMIT %s"""
    rows = conn.execute(sql, (*args_flags, tsquery_literal(found.required), *where_args, *args_idf, depth)).fetchall()
    return [(r["id"], float(r["coverage"] or 0.0)) for r in rows]


def _bounded(
    conn, table, where, where_args, found: Terms, stats: TermStats, total: int, depth: int
) -> list[tuple[str, float]]:
    """For large clients: weights from the planner's statistics, and a candidate set bounded by
    construction: rows holding two or more of the rarest lexemes (the strong matches), plus up to
    `depth` rows for each of the rarest lexemes alone (weak matches: any of them will do)."""
    rare = sorted(found.required, key=lambda lex: stats.frequency_of(conn, lex))[:RARE_TERMS]
    weights = []
    for lexeme in found.lexemes:
        df = stats.frequency_of(conn, lexeme) * total
        weights.append(math.log(1 + max(total - df + 0.5, 0.5) / (df + 0.5)))
    parts, args = [], []
    if len(rare) > 1:
        pairs = " | ".join(
            f"({tsquery_literal([a])} & {tsquery_literal([b])})" for n, a in enumerate(rare) for b in rare[n + 1 :]
        )
        parts.append(f"(SELECT id FROM {table} WHERE search_tsv @@ %s::tsquery AND {where} LIMIT {STRONG_LIMIT})")
        args += [pairs, *where_args]
    for lexeme in rare[:SINGLE_TERMS]:
        parts.append(f"(SELECT id FROM {table} WHERE search_tsv @@ %s::tsquery AND {where} LIMIT %s)")
        args += [tsquery_literal([lexeme]), *where_args, depth]
    score = " + ".join("CASE WHEN t.search_tsv @@ %s::tsquery THEN %s ELSE 0 END" for _ in found.lexemes)
    score_args = [
        arg
        for lexeme, weight in zip(found.lexemes, weights, strict=True)
        for arg in (tsquery_literal([lexeme]), weight)
    ]
    sql = f"""
        SELECT id, raw / (1 + 0.15 * ln(1 + len)) AS score, raw / %s AS coverage
          FROM (SELECT t.id::text AS id, length(t.search_tsv) AS len, ({score}) AS raw
                  FROM {table} t WHERE t.id IN ({" UNION ".join(parts)})) scored
         ORDER BY score DESC LIMIT %s"""
    rows = conn.execute(sql, (sum(weights) or 1.0, *score_args, *args, depth)).fetchall()
    return [(r["id"], float(r["coverage"] or 0.0)) for r in rows]
