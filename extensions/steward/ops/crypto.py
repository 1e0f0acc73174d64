"""Encrypt a backup's dump with Fernet, in chunks, so memory stays bounded on a small VPS.

Why Fernet (from PyCA `cryptography`): it is authenticated encryption (AES-128-CBC with
HMAC-SHA256) behind an API with no modes or nonces to get wrong, the library is maintained and
audited and ships wheels everywhere, a key is one line in `.env`, and MultiFernet rotates keys.

Fernet encrypts whole messages, so a stream is cut into chunks. Each chunk's plaintext starts with
its index and a "last" flag, inside the authenticated token: a reordered, dropped, repeated or
truncated chunk fails decryption instead of yielding a silently different dump.

    file   = MAGIC frame*
    frame  = length (4 bytes, big-endian) token (raw bytes of one Fernet token)
    token  = Fernet(index (8 bytes) last (1 byte) data (up to CHUNK bytes))
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MAGIC = b"STEWARD-FERNET-1\n"
CHUNK = 1 << 20
_HEADER = struct.Struct(">QB")
_LENGTH = struct.Struct(">I")


class BackupKeyError(Exception):
    """STEWARD_BACKUP_KEY is malformed or does not open this archive."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_keys(value: str) -> MultiFernet:
    """Comma-separated Fernet keys: the first encrypts, every one may decrypt (for rotation)."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise BackupKeyError("STEWARD_BACKUP_KEY is empty; make a key with `steward backup keygen`")
    fernets = []
    for position, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, binascii.Error):
            raise BackupKeyError(
                f"STEWARD_BACKUP_KEY: key {position} is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with `steward backup keygen`"
            ) from None
    return MultiFernet(fernets)


def encrypt_stream(keys: MultiFernet, source: BinaryIO, target: BinaryIO) -> None:
    target.write(MAGIC)
    index = 0
    data = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if data else b""
        last = not following
        token = base64.urlsafe_b64decode(keys.encrypt(_HEADER.pack(index, last) + data))
        target.write(_LENGTH.pack(len(token)) + token)
        if last:
            return
        data, index = following, index + 1


def decrypt_chunks(keys: MultiFernet, source: BinaryIO) -> Iterator[bytes]:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupKeyError("the dump is not a Steward encrypted stream (bad header)")
    index = 0
    while True:
        length_bytes = source.read(_LENGTH.size)
        if len(length_bytes) < _LENGTH.size:
            raise BackupKeyError("the encrypted dump is truncated (its last chunk is missing)")
        token = source.read(_LENGTH.unpack(length_bytes)[0])
        try:
            plain = keys.decrypt(base64.urlsafe_b64encode(token))
        except InvalidToken:
            raise BackupKeyError(
                "STEWARD_BACKUP_KEY does not decrypt this archive (wrong key, or the file is damaged); "
                "during a rotation list the old key after the new one, comma-separated"
            ) from None
        chunk_index, last = _HEADER.unpack_from(plain)
        if chunk_index != index:
            raise BackupKeyError(f"the encrypted dump is damaged: chunk {chunk_index} where {index} was expected")
        yield plain[_HEADER.size :]
        if last:
            if source.read(1):
                raise BackupKeyError("the encrypted dump has data after its last chunk")
            return
        index += 1
