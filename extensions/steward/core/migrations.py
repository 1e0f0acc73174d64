"""Plain SQL migrations from `sql/`, applied in order, each in its own transaction.

Files are named `NNNN_description.sql`; the applied versions are recorded in `schema_migrations`.
A shipped migration is never edited: a change is a new file. `steward serve` refuses to start when
the database is behind, saying the current and the expected versions.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[3] / "sql"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


class SchemaOutOfDate(Exception):
    """The database schema is older (or newer) than this code expects."""


def available(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_description.sql")
        found.append(Migration(int(match.group(1)), path.stem, path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migration files share a version number")
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def applied_versions(conn: psycopg.Connection) -> list[int]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok").fetchone()
    if not _row_value(exists):
        return []
    return [_row_value(r) for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def _row_value(row):
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def migrate(url: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date)."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        # One migrator at a time: a second `steward migrate` waits instead of racing.
        conn.execute("SELECT pg_advisory_lock(7744001)")
        try:
            _ensure_table(conn)
            done = set(applied_versions(conn))
            for migration in available(sql_dir):
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.path.read_text())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                log.info("applied migration %s", migration.name)
                applied_now.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(7744001)")
    return applied_now


def expected_version(sql_dir: Path = SQL_DIR) -> int:
    migrations = available(sql_dir)
    return migrations[-1].version if migrations else 0


def check_current(conn: psycopg.Connection, sql_dir: Path = SQL_DIR) -> int:
    """Raise `SchemaOutOfDate` unless every migration is applied; returns the version."""
    versions = applied_versions(conn)
    current = max(versions) if versions else 0
    expected = expected_version(sql_dir)
    if current != expected or len(versions) != len(available(sql_dir)):
        raise SchemaOutOfDate(
            f"database schema is at version {current} but this Steward expects {expected}; run `steward migrate` first"
        )
    return current
