"""PostgreSQL client programs that fit the server, and libpq settings that keep secrets off argv.

pg_dump refuses a server of a newer major version, and pg_restore cannot read an archive made by
a newer pg_dump. So each program is chosen among the candidates (PATH, the PostgreSQL 16 that the
`pgserver` package bundles, Debian's /usr/lib/postgresql/*/bin) as the one with the smallest major
version that is at least the one required.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg


class ToolNotFound(Exception):
    """No installed client program is recent enough; the message lists what was found."""


@dataclass(frozen=True)
class Tool:
    path: str
    major: int
    version: str


def _candidate_dirs() -> list[str]:
    dirs = [os.path.dirname(p) for name in ("pg_dump",) if (p := shutil.which(name))]
    spec = importlib.util.find_spec("pgserver")  # the embedded default's PostgreSQL ships its client programs
    if spec is not None and spec.origin:
        dirs.append(str(Path(spec.origin).parent / "pginstall" / "bin"))
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return list(dict.fromkeys(dirs))


def _version(path: str) -> tuple[int, str] | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)(\.\d+)?", out)
    return (int(match.group(1)), match.group(1) + (match.group(2) or "")) if match else None


def candidates(program: str) -> list[Tool]:
    found = []
    for directory in _candidate_dirs():
        path = os.path.join(directory, program)
        if os.access(path, os.X_OK) and (version := _version(path)):
            found.append(Tool(path=path, major=version[0], version=version[1]))
    return found


def choose(program: str, min_major: int, found: list[Tool] | None = None) -> Tool:
    """The installed `program` with the smallest major version >= `min_major`."""
    found = candidates(program) if found is None else found
    fitting = sorted((t for t in found if t.major >= min_major), key=lambda t: t.major)
    if fitting:
        return fitting[0]
    seen = ", ".join(f"{t.path} ({t.version})" for t in found) or "none"
    raise ToolNotFound(
        f"{program} {min_major} or newer is needed (the server or the archive is PostgreSQL {min_major}); "
        f"found: {seen}. Install postgresql-client-{min_major}, or `pip install pgserver` which bundles "
        f"PostgreSQL 16's client programs"
    )


def server_major(conn: psycopg.Connection) -> int:
    row = conn.execute("SHOW server_version_num").fetchone()
    value = next(iter(row.values())) if isinstance(row, dict) else row[0]
    return int(value) // 10000


def libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo for `--dbname` without the password, and the environment that carries it,
    so the password never shows in `ps`."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()}), env


def database_name(url: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "")
