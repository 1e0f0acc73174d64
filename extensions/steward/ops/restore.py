"""`steward restore ARCHIVE`: into an empty database only, verified, migrated, then reindexed.

Refusing a database that holds anything is the safety catch: a restore never mixes two states
and never overwrites live data by accident. pg_restore runs in one transaction, so a failed
restore leaves the database empty again. Row counts are compared with the manifest before any
migration runs; then the schema is brought up to this Steward's version and Qdrant is rebuilt
from the restored rows (`steward reindex`).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from pydantic import SecretStr

from steward.core import migrations, prompts
from steward.core.config import Settings
from steward.ops import archive, crypto, pgtools
from steward.ops.backup import count_rows

Say = Callable[[str], None]


class RestoreError(Exception):
    """The restore was refused or failed; the message says why and what to do."""


@dataclass
class RestoreReport:
    manifest: archive.Manifest
    restored: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    migrated: list[str] = field(default_factory=list)
    reindexed: dict[str, int] | None = None

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())


def ensure_empty(conn: psycopg.Connection, url: str) -> None:
    relations = [
        r[0]
        for r in conn.execute(
            """SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
                  AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY 1"""
        )
    ]
    functions = conn.execute(
        """SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"""
    ).fetchone()[0]
    if relations or functions:
        shown = ", ".join(relations[:5]) + (" ..." if len(relations) > 5 else "")
        raise RestoreError(
            f'database "{pgtools.database_name(url)}" is not empty ({len(relations)} tables, views or sequences'
            f"{': ' + shown if shown else ''}; {functions} functions). A restore only goes into an empty "
            "database, so nothing is mixed with or overwritten by the archive: restore into a new database "
            "(`createdb NAME`, then --database-url), or drop and recreate this one first "
            "(runbooks/backup-and-restore.md)"
        )


def _connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise RestoreError(
            f'cannot connect to the target database "{pgtools.database_name(url)}": {detail}. '
            "Create it empty first (`createdb NAME`)"
        ) from None


def reindex_into(settings: Settings, url: str) -> dict[str, int]:
    """Rebuild every vector collection from the database at `url`, as `steward reindex` does."""
    from steward.app import create_app
    from steward.core import reindex

    app = create_app(settings.model_copy(update={"database_url": SecretStr(url)}))
    runtime = app.extensions["steward"]
    try:
        return reindex.rebuild(runtime)
    finally:
        runtime.close()


def restore(
    url: str,
    path: Path,
    key: str | None = None,
    reindex_settings: Settings | None = None,
    say: Say = lambda _: None,
) -> RestoreReport:
    """Restore `path` into the empty database at `url`; reindex with `reindex_settings` if given."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    manifest = archive.read_manifest(path)
    expected = migrations.expected_version()
    if manifest.schema_version > expected:
        raise RestoreError(
            f"{path.name} holds schema version {manifest.schema_version} but this Steward knows only up to "
            f"{expected}: restore it with the Steward version that made it ({manifest.steward_version}) or newer"
        )
    keys = crypto.load_keys(key) if key else None
    with _connect(url) as conn:
        ensure_empty(conn, url)
        major = pgtools.server_major(conn)
    tool = pgtools.choose("pg_restore", max(major, manifest.pg_dump_major))
    with tempfile.TemporaryDirectory(prefix="steward-restore-") as tmp:
        say(f"reading {path.name} ({'encrypted' if manifest.encrypted else 'not encrypted'})")
        dump = archive.extract_dump(path, manifest, keys, Path(tmp) / archive.DUMP_PLAIN)
        timings["read"] = time.monotonic() - started
        say(f"restoring {manifest.total_rows} rows in {len(manifest.tables)} tables with {tool.path}")
        mark = time.monotonic()
        conninfo, env = pgtools.libpq_args(url)
        done = subprocess.run(
            [
                tool.path,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={conninfo}",
                str(dump),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        timings["restore"] = time.monotonic() - mark
    if done.returncode != 0:
        raise RestoreError(f"pg_restore failed; the database was left empty: {done.stderr.strip()[-1500:]}")
    mark = time.monotonic()
    with _connect(url) as conn:
        restored = count_rows(conn)
    diffs = {t: (manifest.tables.get(t), restored.get(t)) for t in manifest.tables.keys() | restored.keys()}
    wrong = {t: pair for t, pair in diffs.items() if pair[0] != pair[1]}
    if wrong:
        listed = ", ".join(f"{t}: archive {a} restored {b}" for t, (a, b) in sorted(wrong.items()))
        raise RestoreError(f"restored row counts differ from the manifest ({listed}); do not use this database")
    timings["verify"] = time.monotonic() - mark
    report = RestoreReport(manifest=manifest, restored=restored, timings=timings)
    mark = time.monotonic()
    report.migrated = migrations.migrate(url)
    prompts.seed(url)
    timings["migrate"] = time.monotonic() - mark
    if reindex_settings is not None:
        say("rebuilding the vector collections from the restored rows (steward reindex)")
        mark = time.monotonic()
        report.reindexed = reindex_into(reindex_settings, url)
        timings["reindex"] = time.monotonic() - mark
    return report
