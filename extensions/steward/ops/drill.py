"""`steward restore-drill`: prove an archive restores, and time it, without touching production.

The archive is restored into a scratch database created for the drill on the same server (or on
`--server-url`), and the vectors are rebuilt into a throwaway Qdrant Edge directory, never the
production Qdrant. The report gives the recovery time (RTO), each table's count in the archive
and after the restore, and the live count now: the difference to live is what a restore of this
archive would lose (the RPO, in rows).
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from steward.core.config import Settings
from steward.ops.backup import count_rows
from steward.ops.restore import RestoreReport, Say, restore


@dataclass
class DrillReport:
    archive: Path
    scratch_database: str
    kept: bool
    rto_seconds: float
    restore: RestoreReport
    live: dict[str, int] | None

    @property
    def mismatches(self) -> dict[str, tuple[int | None, int | None]]:
        tables = self.restore.manifest.tables.keys() | self.restore.restored.keys()
        pairs = {t: (self.restore.manifest.tables.get(t), self.restore.restored.get(t)) for t in tables}
        return {t: p for t, p in pairs.items() if p[0] != p[1]}

    def table(self) -> str:
        rows = [f"{'table':<28} {'archive':>9} {'restored':>9} {'diff':>6} {'live now':>9}"]
        for name in sorted(self.restore.manifest.tables.keys() | self.restore.restored.keys()):
            archived = self.restore.manifest.tables.get(name)
            restored = self.restore.restored.get(name)
            diff = (restored or 0) - (archived or 0)
            live = "-" if self.live is None else str(self.live.get(name, "-"))
            rows.append(f"{name:<28} {_show(archived):>9} {_show(restored):>9} {diff:>+6} {live:>9}")
        return "\n".join(rows)


def _show(value: int | None) -> str:
    return "-" if value is None else str(value)


def _scratch_name() -> str:
    return f"steward_drill_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(2)}"


def run_drill(
    settings: Settings,
    live_url: str,
    path: Path,
    server_url: str | None = None,
    keep: bool = False,
    reindex: bool = True,
    say: Say = lambda _: None,
) -> DrillReport:
    base = server_url or live_url
    name = _scratch_name()
    scratch_url = psycopg.conninfo.make_conninfo(base, dbname=name)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    say(f"scratch database {name} created")
    try:
        with tempfile.TemporaryDirectory(prefix="steward-drill-") as tmp:
            scratch_vectors = settings.model_copy(
                update={"qdrant_url": None, "qdrant_api_key": None, "redis_url": None, "steward_data_dir": Path(tmp)}
            )
            started = time.monotonic()
            key = settings.steward_backup_key.get_secret_value() if settings.steward_backup_key else None
            report = restore(scratch_url, path, key, scratch_vectors if reindex else None, say)
            rto = time.monotonic() - started
        try:
            with psycopg.connect(live_url, autocommit=True) as conn:
                live: dict[str, int] | None = count_rows(conn)
        except psycopg.Error:
            live = None
    finally:
        if not keep:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            say(f"scratch database {name} dropped")
    return DrillReport(archive=path, scratch_database=name, kept=keep, rto_seconds=rto, restore=report, live=live)
