"""scripts/load and scripts/soak in a tiny mode (seconds), so the benchmark scripts do not rot.

The test starts Steward in the scripts' production shape (gunicorn --preload on a database of its
own in the tests' Postgres, as `scripts/load --shape production` does), then runs both scripts at
once against it through --url, with its pid and database so RSS, fds and connections are read.
Each must print its table and finish with no request errors. The figures mean nothing here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import loadgen  # noqa: E402


@pytest.fixture
def steward(admin_pg_url):
    target = loadgen.start_production(
        workers=1,
        threads=4,
        admin_url=admin_pg_url,
        database=f"steward_loadtest_{uuid.uuid4().hex[:8]}",
        redis_url="redis://127.0.0.1:6379/11",
        qdrant_url=None,
        pool_size=None,
        data_dir=None,
    )
    yield target
    target.stop()


def _start(script: str, target: loadgen.Target, *args: str) -> subprocess.Popen:
    where = [
        f"--url={target.url}",
        f"--key={target.key}",
        f"--pid={target.pid}",
        f"--database-url={target.database_url}",
    ]
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / script), *where, "--seed-memories=10", "--chats=2", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=SCRIPTS.parent,
    )


def _finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"timed out:\n{out}") from None
    assert proc.returncode == 0, out
    return out


def test_load_and_soak_scripts_run_in_a_tiny_mode(steward):
    assert "gunicorn --preload: 1 worker(s) x 4 threads" in steward.describe
    load = _start(
        "bench_load.py",
        steward,
        "--stages=5",
        "--duration=2",
        "--hold=2",
        "--warmup=1",
        "--pause=0",
        "--no-rate-50",
        "--p99-ms=60000",
    )
    soak = _start("bench_soak.py", steward, "--minutes=0.1", "--sample=2", "--rate=5")
    loaded, soaked = _finish(load), _finish(soak)

    stage = re.search(r"^S1 +5 +(\d+) +(\d+) ", loaded, re.M)
    assert stage and int(stage.group(1)) == 10 and int(stage.group(2)) == 0, loaded
    assert re.search(r"^hold +5 +\d+ +0 ", loaded, re.M), loaded
    assert "highest rate held with 0 errors and p99 < 60000 ms: 5 req/s for 2 s" in loaded
    assert "chat" in loaded and "recall" in loaded, "the by-route table lists the mix"

    row = r"^ +\d+\.\d\d +(\d+) +(\d+) +\S+ +\S+ +\S+ +\S+ +(\d+) +(\d+) +\S+ +\S+ +\d+\.\d\d$"
    samples = re.findall(row, soaked, re.M)
    assert len(samples) == 3, soaked
    assert all(int(errors) == 0 and int(fds) > 0 and int(conns) > 0 for _, errors, fds, conns in samples), soaked
    assert "drift from minute" in soaked and "verdict:" in soaked
