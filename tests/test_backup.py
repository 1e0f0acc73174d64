"""Backups and restores on real Postgres with the real pg_dump/pg_restore, through the `steward` CLI.

A seeded database goes through `steward backup` and `steward restore` and every table is compared
row for row; encryption, key rotation, tampering, retention, the refusal of a non-empty target,
a newer archive, a full disk (a small tmpfs) and the pick of pg_dump for a PostgreSQL 16 server
are each exercised. Embeddings for the reindex step come from a local OpenAI-compatible fake.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from fakes.openai_server import FakeOpenAI
from steward.core import auth, migrations, prompts
from steward.ops import archive, backup, crypto, pgtools
from steward.ops.restore import RestoreError, restore
from support import create_database, drop_database, migrated_database

STEWARD = [sys.executable, "-m", "steward.cli"]


# ---- helpers ------------------------------------------------------------------------------------
def snapshot(url: str) -> dict[str, str]:
    """Each table's row count and a hash of all its rows, in a stable order."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {
            table: conn.execute(
                sql.SQL(
                    "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '')"
                    " FROM {} x"
                ).format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }


def seed(url: str) -> None:
    """Rows of every shape the schema uses: jsonb, arrays, numerics, NULLs, unicode, time zones,
    foreign keys, and ~400 KB of incompressible payload so the dump has some size."""
    with psycopg.connect(url) as conn:
        key_id, _ = auth.create_key(conn, "seed", ["read", "write"])
        for i in range(60):
            conn.execute(
                """INSERT INTO events (event_type, event_source, client_id, payload, metadata, occurred_at)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    f"type-{i % 5}",
                    "seed",
                    f"client-{i % 3}",
                    Jsonb(
                        {"i": i, "text": "Grüße, 東京\nline two", "blob": base64.b64encode(os.urandom(5000)).decode()}
                    ),
                    Jsonb({"nested": {"list": [1, 2.5, None, True]}}),
                    f"2026-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00+0{i % 5}:00",
                ),
            )
        plan = conn.execute(
            "INSERT INTO plans (client_id, intent, title, sop) VALUES ('client-0', 'ship', 'Ship it', %s) RETURNING id",
            (Jsonb({"steps": [{"key": "a", "depends_on": []}]}),),
        ).fetchone()[0]
        conn.execute(
            """INSERT INTO scheduler_runs (client_id, plan_id, request, result)
               VALUES ('client-0', %s, '{}'::jsonb, '{"blocks": []}'::jsonb)""",
            (plan,),
        )
        conn.execute(
            """INSERT INTO execution_runs (client_id, run_type, plan_id, estimated_hours, actual_hours, task_id)
               VALUES ('client-0', 'task', %s, 1.25, NULL, 't-1'), ('client-1', 'project', NULL, 3.50, 4.00, NULL)""",
            (plan,),
        )
        conn.execute(
            """INSERT INTO graph_nodes (id, client_id, node_type, name) VALUES
               ('n1', 'client-0', 'person', 'Ada'), ('n2', 'client-0', 'project', 'Engine')"""
        )
        conn.execute(
            """INSERT INTO graph_edges (client_id, source_id, target_id, edge_type, weight)
               VALUES ('client-0', 'n1', 'n2', 'works_on', 0.75)"""
        )
        conn.execute(
            """INSERT INTO idempotency_keys (key, api_key_id, method, path, request_hash, status_code, response_body)
               VALUES ('k-1', %s, 'POST', '/api/v1/events', 'abc', 201, '{"ok": true}'::jsonb)""",
            (key_id,),
        )


def run(args: list[str], env_extra: dict[str, str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STEWARD_", "DATABASE_", "QDRANT_", "REDIS_", "EMBEDDINGS_", "LLM_"))
    }
    env.update(env_extra)
    return subprocess.run([*STEWARD, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def source(admin_pg_url):
    url = migrated_database(admin_pg_url)
    seed(url)
    yield url
    drop_database(admin_pg_url, url)


@pytest.fixture
def empty(admin_pg_url):
    url = create_database(admin_pg_url)
    yield url
    drop_database(admin_pg_url, url)


@pytest.fixture(scope="module")
def embeddings():
    with FakeOpenAI(dimension=384) as fake:
        yield fake


@pytest.fixture
def cli_env(tmp_path, embeddings):
    return {
        "STEWARD_DATA_DIR": str(tmp_path / "var"),
        "STEWARD_BACKUP_DIR": str(tmp_path / "backups"),
        "EMBEDDINGS_BASE_URL": embeddings.url,
        "EMBEDDINGS_MODEL": "fake-384",
        "EMBEDDINGS_DIMENSION": "384",
    }


# ---- round trips --------------------------------------------------------------------------------
def test_backup_and_restore_round_trip_every_table_through_the_cli(source, empty, tmp_path, cli_env):
    made = run(["backup"], {**cli_env, "DATABASE_URL": source}, tmp_path)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"steward-\d{8}T\d{6}Z\.tar", path.name) and path.parent == tmp_path / "backups"
    assert "NOT encrypted" in made.stdout

    manifest = archive.read_manifest(path)
    before = snapshot(source)
    assert manifest.schema_version == migrations.expected_version()
    assert manifest.tables == {t: int(v.split(":")[0]) for t, v in before.items()}
    assert manifest.tables["events"] == 60 and not manifest.encrypted

    restored = run(["restore", str(path)], {**cli_env, "DATABASE_URL": empty}, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "reindexed:" in restored.stdout, restored.stdout  # the target is DATABASE_URL: Qdrant is rebuilt
    assert snapshot(empty) == before


def test_an_encrypted_archive_round_trips_and_hides_the_dump(source, empty, tmp_path):
    key = crypto.generate_key()
    result = backup.take_backup(source, tmp_path, keep=3, key=key)
    assert result.manifest.encrypted and result.manifest.dump_member == archive.DUMP_ENCRYPTED
    with tarfile.open(result.path) as tar:
        body = tar.extractfile(archive.DUMP_ENCRYPTED).read()
        assert archive.DUMP_PLAIN not in tar.getnames()
    assert body.startswith(crypto.MAGIC) and b"PGDMP" not in body and b"client-0" not in body

    with pytest.raises(archive.ArchiveError, match="STEWARD_BACKUP_KEY"):
        restore(empty, result.path, key=None)
    with pytest.raises(crypto.BackupKeyError, match="does not decrypt"):
        restore(empty, result.path, key=crypto.generate_key())
    assert snapshot(empty) == {}, "a refused restore writes nothing"

    rotated = f"{crypto.generate_key()},{key}"  # new key first, the old one still decrypts
    restore(empty, result.path, key=rotated)
    assert snapshot(empty) == snapshot(source)


def test_a_tampered_encrypted_archive_is_refused(source, empty, tmp_path):
    key = crypto.generate_key()
    result = backup.take_backup(source, tmp_path, keep=3, key=key)
    data = bytearray(result.path.read_bytes())
    offset = data.index(crypto.MAGIC) + len(crypto.MAGIC) + 200
    data[offset] ^= 0x01
    result.path.write_bytes(bytes(data))
    with pytest.raises(crypto.BackupKeyError, match="damaged|does not decrypt"):
        restore(empty, result.path, key=key)
    assert snapshot(empty) == {}


def test_chunks_cannot_be_dropped_or_reordered():
    keys = crypto.load_keys(crypto.generate_key())
    plain = os.urandom(crypto.CHUNK * 2 + 10)
    stream = io.BytesIO()
    crypto.encrypt_stream(keys, io.BytesIO(plain), stream)
    assert b"".join(crypto.decrypt_chunks(keys, io.BytesIO(stream.getvalue()))) == plain
    frames, raw = [], stream.getvalue()[len(crypto.MAGIC) :]
    while raw:
        length = int.from_bytes(raw[:4], "big")
        frames.append(raw[: 4 + length])
        raw = raw[4 + length :]
    assert len(frames) == 3
    for broken, problem in (
        ([frames[0], frames[2]], "chunk 2 where 1"),
        ([frames[0], frames[1]], "truncated"),
        ([frames[1], frames[0], frames[2]], "chunk 1 where 0"),
    ):
        with pytest.raises(crypto.BackupKeyError, match=problem):
            b"".join(crypto.decrypt_chunks(keys, io.BytesIO(crypto.MAGIC + b"".join(broken))))
    with pytest.raises(crypto.BackupKeyError, match="STEWARD_BACKUP_KEY: key 1"):
        crypto.load_keys("not-a-key")


def test_the_manifest_matches_the_dump_while_the_api_keeps_writing(source, admin_pg_url, tmp_path):
    """Counts and dump share one snapshot: rows committed during the backup are in neither."""
    scratch = create_database(admin_pg_url)
    migrations.migrate(scratch)
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(scratch, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO events (event_type, event_source, client_id) VALUES ('w', 'w', 'w')")

    thread = threading.Thread(target=writer)
    thread.start()
    target = create_database(admin_pg_url)
    try:
        results = [backup.take_backup(scratch, tmp_path, keep=5) for _ in range(3)]
        stop.set()
        thread.join()
        counts = [r.manifest.tables["events"] for r in results]
        assert counts == sorted(counts) and counts[-1] > 0
        restore(target, results[-1].path)  # verifies restored counts == manifest, or raises
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == counts[-1]
    finally:
        stop.set()
        thread.join()
        drop_database(admin_pg_url, scratch)
        drop_database(admin_pg_url, target)


# ---- safety ---------------------------------------------------------------------------------------
def test_restore_refuses_a_database_that_is_not_empty(source, tmp_path, cli_env):
    result = backup.take_backup(source, tmp_path / "backups", keep=3)
    before = snapshot(source)
    refused = run(["restore", str(result.path)], {**cli_env, "DATABASE_URL": source}, tmp_path)
    assert refused.returncode != 0
    assert "is not empty" in refused.stderr and "public.api_keys" in refused.stderr and "createdb" in refused.stderr
    assert snapshot(source) == before


def test_restore_refuses_an_archive_from_a_newer_schema(source, empty, tmp_path):
    result = backup.take_backup(source, tmp_path, keep=3)
    newer = tmp_path / "newer.tar"
    manifest = result.manifest.model_copy(update={"schema_version": migrations.expected_version() + 1})
    with tarfile.open(result.path) as tar:
        tar.extract(archive.DUMP_PLAIN, tmp_path / "x", filter="data")
    archive.write(newer, manifest, tmp_path / "x" / archive.DUMP_PLAIN)
    with pytest.raises(RestoreError, match="only up to"):
        restore(empty, newer)
    assert snapshot(empty) == {}


def test_a_damaged_plain_archive_is_refused_before_restoring(source, empty, tmp_path):
    result = backup.take_backup(source, tmp_path, keep=3)
    with tarfile.open(result.path) as tar:
        member = tar.getmember(archive.DUMP_PLAIN)
    data = bytearray(result.path.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF  # one bit inside the dump
    result.path.write_bytes(bytes(data))
    with pytest.raises(archive.ArchiveError, match="does not match its manifest"):
        restore(empty, result.path)
    assert snapshot(empty) == {}
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(archive.ArchiveError, match="not a Steward backup"):
        archive.read_manifest(tmp_path / "junk.tar")


# ---- retention and the drill ----------------------------------------------------------------------
def test_retention_keeps_the_newest_n_archives_and_nothing_else_is_touched(source, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    made = [backup.take_backup(source, tmp_path, keep=2) for _ in range(4)]  # often within one second
    kept = archive.list_archives(tmp_path)
    assert kept == [m.path for m in made[-2:]]
    assert made[2].deleted == [made[0].path] and made[3].deleted == [made[1].path]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(backup.WORK_PREFIX + "*"))


def test_restore_drill_reports_rto_and_row_diffs_and_drops_its_scratch_database(source, tmp_path, cli_env):
    made = run(["backup"], {**cli_env, "DATABASE_URL": source}, tmp_path)
    assert made.returncode == 0, made.stderr
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("INSERT INTO events (event_type, event_source, client_id) VALUES ('late', 'x', 'x')")
    try:
        drill = run(["restore-drill"], {**cli_env, "DATABASE_URL": source}, tmp_path)
        assert drill.returncode == 0, drill.stderr
        out = drill.stdout
        assert re.search(r"^RTO \d+\.\d s \(read .*restore .*reindex .*\)", out, flags=re.MULTILINE), out
        assert re.search(r"^events\s+60\s+60\s+\+0\s+61$", out, flags=re.MULTILINE), out  # live has one more
        assert "drill passed" in out
        name = re.search(r"scratch database (steward_drill_\w+) dropped", out).group(1)
        with psycopg.connect(source) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 0
    finally:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("DELETE FROM events WHERE event_type = 'late'")


# ---- a full disk ----------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs: a real filesystem that fills up."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    stats = os.statvfs(disk)
    filler = disk / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave))
    return filler


@pytest.mark.parametrize("room", ["half the dump", "the dump but not the archive"])
def test_a_full_disk_fails_clearly_and_keeps_the_previous_archive(source, empty, small_disk, room):
    first = backup.take_backup(source, small_disk, keep=5)
    digest = hashlib.sha256(first.path.read_bytes()).hexdigest()
    dump = first.manifest.dump_bytes
    filler = _fill(small_disk, dump // 2 if room == "half the dump" else dump + dump // 2)
    with pytest.raises(backup.BackupError) as failed:
        backup.take_backup(source, small_disk, keep=5)
    message = str(failed.value)
    assert "disk full" in message and first.path.name in message and "STEWARD_BACKUP_DIR" in message
    assert archive.list_archives(small_disk) == [first.path]
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == digest
    assert not list(small_disk.glob(backup.WORK_PREFIX + "*")), "no half-written leftovers"
    filler.unlink()
    restore(empty, first.path)  # the previous archive is still good
    assert snapshot(empty) == snapshot(source)


# ---- the right pg_dump ----------------------------------------------------------------------------
def test_pg_dump_is_chosen_by_the_server_major_version():
    found = [
        pgtools.Tool("/a/pg_dump", 15, "15.2"),
        pgtools.Tool("/b/pg_dump", 17, "17.0"),
        pgtools.Tool("/c/pg_dump", 16, "16.2"),
    ]
    assert pgtools.choose("pg_dump", 16, found).path == "/c/pg_dump"
    assert pgtools.choose("pg_dump", 14, found).path == "/a/pg_dump"
    with pytest.raises(pgtools.ToolNotFound, match=r"pg_dump 18 or newer.*/b/pg_dump \(17\.0\)"):
        pgtools.choose("pg_dump", 18, found)


def test_a_postgresql_16_server_is_dumped_with_a_16_pg_dump(tmp_path):
    """The embedded default is PostgreSQL 16; the machine's own client may be older (15 here)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute('CREATE DATABASE "steward"')
            conn.execute('CREATE DATABASE "target"')
        url = server.get_uri("steward")
        migrations.migrate(url)
        prompts.seed(url)
        with psycopg.connect(url) as conn:
            assert pgtools.server_major(conn) == 16
            conn.execute("INSERT INTO events (event_type, event_source, client_id) VALUES ('pg16', 'x', 'x')")
        result = backup.take_backup(url, tmp_path / "backups", keep=1)
        assert result.manifest.server_version.startswith("16.") and result.manifest.pg_dump_version.startswith("16")
        restore(server.get_uri("target"), result.path)
        assert snapshot(server.get_uri("target")) == snapshot(url)
    finally:
        server.cleanup()


def test_backup_list_and_keygen(source, tmp_path, cli_env):
    key = run(["backup", "keygen"], cli_env, tmp_path).stdout.strip()
    assert crypto.load_keys(key)
    made = run(["backup", "--keep", "1"], {**cli_env, "DATABASE_URL": source, "STEWARD_BACKUP_KEY": key}, tmp_path)
    assert made.returncode == 0, made.stderr
    listed = run(["backup", "list"], {**cli_env, "DATABASE_URL": source}, tmp_path).stdout
    assert re.search(r"steward-\S+\.tar\s+\S+ MB\s+schema \d+\s+\d+ rows\s+encrypted", listed), listed
    manifest = json.loads(tarfile.open(Path(made.stdout.strip().splitlines()[-1])).extractfile("manifest.json").read())
    assert manifest["encrypted"] is True and manifest["tables"]["events"] == 60
