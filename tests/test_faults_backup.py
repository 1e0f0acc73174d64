"""A disk that fills up during `steward backup`, through the CLI an operator (or cron) runs: the
command fails with exit status 1 and one line saying the disk is full, where, and what to do (no
traceback); nothing of the attempt is left behind; the previous archive is byte for byte intact
and `steward restore` still restores it. The disk is a real 4 MB tmpfs, so the ENOSPC is real.
tests/test_backup.py covers the same at the library level, for plain archives at two fill levels.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from steward.core import migrations
from steward.ops import archive, backup, crypto
from support import create_database, drop_database


def steward(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STEWARD_", "DATABASE_", "QDRANT_", "REDIS_", "EMBEDDINGS_", "LLM_"))
    }
    env.update(env_extra)
    command = [sys.executable, "-m", "steward.cli", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def databases(admin_pg_url):
    source, empty = create_database(admin_pg_url), create_database(admin_pg_url)
    migrations.migrate(source)
    with psycopg.connect(source) as conn:
        for i in range(120):  # ~300 KB of incompressible payload, so the dump has some size
            blob = base64.b64encode(os.urandom(1800)).decode()
            conn.execute(
                "INSERT INTO events (event_type, event_source, client_id, payload) VALUES ('t', 's', 'c', %s)",
                (Jsonb({"i": i, "blob": blob}),),
            )
    yield source, empty
    drop_database(admin_pg_url, source)
    drop_database(admin_pg_url, empty)


def _fill(disk: Path, leave: int) -> Path:
    stats = os.statvfs(disk)
    filler = disk / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave))
    return filler


@pytest.mark.parametrize("room", ["half the dump", "the dump but not its encryption"])
def test_a_full_disk_fails_the_backup_cli_clearly_and_the_previous_archive_restores(
    room, databases, small_disk, tmp_path
):
    source, empty = databases
    env = {"DATABASE_URL": source, "STEWARD_BACKUP_DIR": str(small_disk), "STEWARD_BACKUP_KEY": crypto.generate_key()}
    first = steward(["backup"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    (kept,) = archive.list_archives(small_disk)
    digest = hashlib.sha256(kept.read_bytes()).hexdigest()

    dump = archive.read_manifest(kept).dump_bytes
    filler = _fill(small_disk, dump // 2 if room == "half the dump" else dump + dump // 2)
    full = steward(["backup"], env, tmp_path)
    assert full.returncode == 1 and full.stdout == ""
    assert "Traceback" not in full.stderr and len(full.stderr.strip().splitlines()) == 1, full.stderr
    message = full.stderr.strip()
    assert message.startswith("Error: disk full while writing the backup into " + str(small_disk)), message
    assert ("pg_dump" in message) == (room == "half the dump")  # the other one fills up while encrypting
    assert kept.name in message and "STEWARD_BACKUP_DIR" in message and "steward backup" in message

    assert archive.list_archives(small_disk) == [kept]
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    assert not list(small_disk.glob(backup.WORK_PREFIX + "*")), "no half-written leftovers"
    filler.unlink()
    restored = steward(["restore", str(kept), "--database-url", empty, "--no-reindex"], env, tmp_path)
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(source) as a, psycopg.connect(empty) as b:
        query = "SELECT count(*), md5(string_agg(payload::text, '' ORDER BY id)) FROM events"
        assert a.execute(query).fetchone() == b.execute(query).fetchone()
