"""The archive file: `steward-<UTC time>.tar` holding `manifest.json` and the dump.

A plain tar (pg_dump's custom format is compressed already), so an operator can open one without
Steward: `tar -xOf ARCHIVE steward.dump > steward.dump && pg_restore -d URL steward.dump`. The
manifest is never encrypted: it holds versions and row counts, no user data, so listing,
retention and the checks before a restore work without the key.

An archive appears under its final name only when complete: it is written inside a work
directory on the same disk, flushed to disk, then renamed, so a crash or a full disk never leaves
a half-written archive where a good one was expected.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography.fernet import MultiFernet
from pydantic import BaseModel, ValidationError

from steward.ops import crypto

FORMAT: Literal["steward-backup/1"] = "steward-backup/1"
MANIFEST = "manifest.json"
DUMP_PLAIN = "steward.dump"
DUMP_ENCRYPTED = "steward.dump.fernet"
_NAME = re.compile(r"^steward-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar$")


class ArchiveError(Exception):
    """The file is not a readable Steward backup; the message says what is wrong with it."""


class Manifest(BaseModel):
    format: Literal["steward-backup/1"] = FORMAT
    created_at: datetime
    steward_version: str
    database: str
    server_version: str
    pg_dump_version: str
    schema_version: int
    migrations: list[str]
    tables: dict[str, int]
    encrypted: bool
    dump_member: str
    dump_bytes: int
    dump_sha256: str

    @property
    def pg_dump_major(self) -> int:
        return int(self.pg_dump_version.split(".")[0])

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())


def _sort_key(path: Path) -> tuple[str, int]:
    match = _NAME.match(path.name)
    assert match
    return match.group(1), int(match.group(2) or 0)


def list_archives(directory: Path) -> list[Path]:
    """Archives in `directory`, oldest first (by the time in their name)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.match(p.name) and p.is_file()), key=_sort_key)


def new_name(directory: Path, now: datetime) -> str:
    """`steward-<time>.tar`, or `-N` after the highest N already taken that second (never a freed
    lower one, which would sort before the archives it is newer than)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    taken = [_sort_key(p)[1] for p in list_archives(directory) if _sort_key(p)[0] == stamp]
    return f"steward-{stamp}-{max(taken) + 1}.tar" if taken else f"steward-{stamp}.tar"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(target: Path, manifest: Manifest, dump: Path) -> None:
    """Write the tar to `target` and flush it to disk (the caller renames it into place)."""
    body = json.dumps(manifest.model_dump(mode="json"), indent=2).encode()
    with target.open("wb") as handle:
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(manifest.created_at.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(body))
            info = tar.gettarinfo(str(dump), arcname=manifest.dump_member)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with dump.open("rb") as source:
                tar.addfile(info, source)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(path: Path) -> Manifest:
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return Manifest.model_validate(json.loads(member.read()))
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such file") from None
    except (tarfile.TarError, KeyError, json.JSONDecodeError, ValidationError, OSError) as exc:
        raise ArchiveError(f"{path} is not a Steward backup archive ({type(exc).__name__}: {exc})"[:500]) from None


def extract_dump(path: Path, manifest: Manifest, keys: MultiFernet | None, target: Path) -> Path:
    """Write the plaintext dump to `target` and check it against the manifest's hash."""
    if manifest.encrypted and keys is None:
        raise ArchiveError(f"{path.name} is encrypted: set STEWARD_BACKUP_KEY to the key it was made with")
    digest, size = hashlib.sha256(), 0
    with tarfile.open(path, mode="r:") as tar, target.open("wb") as out:
        member = tar.extractfile(manifest.dump_member)
        if member is None:
            raise ArchiveError(f"{path.name} has no {manifest.dump_member}")
        blocks = (
            crypto.decrypt_chunks(keys, member)  # type: ignore[arg-type]
            if manifest.encrypted
            else iter(lambda: member.read(1 << 20), b"")
        )
        for block in blocks:
            digest.update(block)
            size += len(block)
            out.write(block)
    if digest.hexdigest() != manifest.dump_sha256 or size != manifest.dump_bytes:
        raise ArchiveError(f"{path.name}: the dump does not match its manifest (damaged archive)")
    return target
