"""`steward backup`: one consistent archive of Steward's database, then retention.

Row counts and pg_dump read the same snapshot (`pg_export_snapshot` + `pg_dump --snapshot`), so
the manifest describes exactly what the dump holds even while the API keeps writing. All work
happens in a hidden directory beside the archives; only a complete, flushed archive is renamed
into place. A full disk therefore costs this attempt, never an earlier archive.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psycopg
from psycopg import sql

from steward.ops import archive, crypto, pgtools

log = logging.getLogger(__name__)
WORK_PREFIX = ".steward-work-"
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


class BackupError(Exception):
    """The backup was not written; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    manifest: archive.Manifest
    seconds: float
    deleted: list[Path] = field(default_factory=list)


def count_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Rows per table in every user schema (`schema.table` outside `public`)."""
    tables = conn.execute(
        """SELECT schemaname, tablename FROM pg_tables
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY schemaname, tablename"""
    ).fetchall()
    counts = {}
    for schema, table in (_pair(row) for row in tables):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        counts[table if schema == "public" else f"{schema}.{table}"] = int(_first(row.fetchone()))
    return counts


def _first(row):
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _pair(row) -> tuple[str, str]:
    values = list(row.values()) if isinstance(row, dict) else list(row)
    return values[0], values[1]


def _schema(conn: psycopg.Connection) -> tuple[int, list[str]]:
    exists = _first(conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone())
    if not exists:
        raise BackupError("this database has no schema_migrations table: it is not a migrated Steward database")
    names = [_first(r) for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    version = _first(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone())
    return int(version), names


def _disk_full(directory: Path, detail: str) -> BackupError:
    kept = archive.list_archives(directory)
    previous = f"{len(kept)} archive(s) in place, newest {kept[-1].name}" if kept else "no earlier archive"
    return BackupError(
        f"disk full while writing the backup into {directory} ({detail.strip()}). Nothing from this attempt "
        f"was kept and existing archives are untouched ({previous}). Free space (runbooks/disk-filling.md) "
        "or point STEWARD_BACKUP_DIR at a larger disk, then run `steward backup` again"
    )


def _dump(url: str, work: Path, keys, now: datetime) -> tuple[archive.Manifest, Path]:
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = _first(conn.execute("SELECT pg_export_snapshot()").fetchone())
        major = pgtools.server_major(conn)
        server_version = _first(conn.execute("SHOW server_version").fetchone()).split()[0]
        schema_version, names = _schema(conn)
        tables = count_rows(conn)
        tool = pgtools.choose("pg_dump", major)
        conninfo, env = pgtools.libpq_args(url)
        plain = work / archive.DUMP_PLAIN
        done = subprocess.run(
            [tool.path, "--format=custom", f"--snapshot={snapshot}", f"--file={plain}", f"--dbname={conninfo}"],
            env=env,
            capture_output=True,
            text=True,
        )
        conn.rollback()
    if done.returncode != 0:
        if "No space left on device" in done.stderr or "Disk quota exceeded" in done.stderr:
            raise _disk_full(work.parent, done.stderr.strip().splitlines()[-1])
        raise BackupError(f"pg_dump ({tool.path}) failed: {done.stderr.strip()[-1500:]}")
    payload = plain
    if keys is not None:
        payload = work / archive.DUMP_ENCRYPTED
        with plain.open("rb") as source, payload.open("wb") as target:
            crypto.encrypt_stream(keys, source, target)
    manifest = archive.Manifest(
        created_at=now,
        steward_version=metadata.version("steward"),
        database=pgtools.database_name(url),
        server_version=server_version,
        pg_dump_version=tool.version,
        schema_version=schema_version,
        migrations=names,
        tables=tables,
        encrypted=keys is not None,
        dump_member=payload.name,
        dump_bytes=plain.stat().st_size,
        dump_sha256=archive.sha256_file(plain),
    )
    if keys is not None:
        plain.unlink()  # the plaintext leaves the disk before the archive is assembled
    return manifest, payload


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with (directory / ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another `steward backup` is running in {directory}; try again when it ends") from None
        yield


def apply_retention(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives; returns what was deleted."""
    doomed = archive.list_archives(directory)[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink()
        log.info("retention: deleted %s", path.name)
    return doomed


def take_backup(url: str, directory: Path, keep: int, key: str | None = None) -> BackupResult:
    """Write one archive of the database at `url` into `directory` and keep the newest `keep`."""
    keys = crypto.load_keys(key) if key else None
    started = time.monotonic()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup directory {directory}: {exc.strerror}") from None
    with _locked(directory):
        for stale in directory.glob(WORK_PREFIX + "*"):  # left by a crashed run; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        now = datetime.now(UTC)
        work: Path | None = None
        try:
            work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=directory))
            manifest, payload = _dump(url, work, keys, now)
            staged = work / "archive.tar"
            archive.write(staged, manifest, payload)
            final = directory / archive.new_name(directory, now)
            staged.rename(final)
            archive.fsync_dir(directory)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise _disk_full(directory, exc.strerror or str(exc)) from None
            raise BackupError(f"could not write the backup into {directory}: {exc}") from None
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
        deleted = apply_retention(directory, keep)
    return BackupResult(path=final, manifest=manifest, seconds=time.monotonic() - started, deleted=deleted)
