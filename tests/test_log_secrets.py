"""What `steward serve` writes to its logs at INFO never holds a secret or the user's words, and
the production server (gunicorn) refuses bodies over the limit without reading them.

`steward serve` runs for real (gunicorn, the access-log format compose also uses, the root logger
at INFO) with a database URL carrying a password and LLM, embeddings and backup keys in its
environment, the LLM and embeddings pointed at the local fake provider. A realistic session goes
through it (keys in X-API-Key and Bearer, a key in a query string, a wrong key, remember, recall,
a document, a chat link and message, a validation error, an LLM answer that breaks its contract),
then every captured line is scanned for each secret.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from fakes.openai_server import FakeOpenAI
from steward.core.config import Settings
from steward.ops import gunicorn_conf
from support import drop_database, migrated_database

pytest_plugins = ["fakes.llm_fixtures"]

STEWARD = Path(sys.executable).with_name("steward")
TOKEN = secrets.token_hex(6)  # in every secret below, so a partial leak is found too


def _secret(label: str) -> str:
    return f"{label}{TOKEN}{secrets.token_hex(4)}"


SECRETS = {
    "database password": _secret("dbpw"),
    "LLM key": _secret("sk-llm-"),
    "embeddings key": _secret("sk-emb-"),
    "backup key": "Xq" + secrets.token_urlsafe(30)[:41] + "=",
    "wrong key": f"stw_deadbeef_{_secret('guess')}",
    "key in a query string": _secret("querykey"),
    "remembered text": f"my locker code is {_secret('locker')}",
    "recall words": f"locker {_secret('lookup')}",
    "document text": f"## Vault\nThe vault opens with {_secret('vault')}.",
    "chat message": f"buy {_secret('gift')} for Anna tomorrow",
    "bad input": f"{_secret('badinput')} " * 3,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _llm_answer(body: dict) -> object:
    name = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    if name == "CriticOut":
        return {"flags": []}
    # Anything else breaks its contract and echoes the user's words, as a confused model might:
    # Steward logs the failure (and falls back to quick-add) without repeating them.
    return f"Sorry, about {SECRETS['chat message']}: I cannot help."


@dataclass
class Served:
    url: str
    key: str
    log: Path
    cli_stderr: str
    proc: subprocess.Popen

    def api(self, key: str | None = None) -> requests.Session:
        session = requests.Session()
        session.headers["X-API-Key"] = key or self.key
        return session


@pytest.fixture(scope="module")
def served(admin_pg_url, fake_llm: FakeOpenAI, tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serve")
    url = migrated_database(admin_pg_url)
    db = psycopg.conninfo.conninfo_to_dict(url)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(
        DATABASE_URL=(
            f"postgresql://{db.get('user', 'postgres')}:{SECRETS['database password']}"
            f"@{db.get('host', '127.0.0.1')}:{db.get('port', 5432)}/{db['dbname']}"
        ),
        STEWARD_DATA_DIR=str(folder / "data"),
        STEWARD_LOG_LEVEL="INFO",
        LLM_BASE_URL=fake_llm.url,
        LLM_API_KEY=SECRETS["LLM key"],
        LLM_MODEL="big-model",
        LLM_TIMEOUT_SECONDS="5",
        LLM_MAX_RETRIES="0",
        EMBEDDINGS_BASE_URL=fake_llm.url,
        EMBEDDINGS_API_KEY=SECRETS["embeddings key"],
        EMBEDDINGS_MODEL="fake-embeddings",
        EMBEDDINGS_DIMENSION="384",
        STEWARD_BACKUP_KEY=SECRETS["backup key"],
    )
    made = subprocess.run(
        [str(STEWARD), "keys", "create", "--name", "log-probe", "--scopes", "read,write,admin"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]  # the one-time display, on stdout: not a log
    log = folder / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(STEWARD), "serve", "--port", str(port), "--threads", "4"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", key, log, made.stderr, proc)
    previous, fake_llm.responder = fake_llm.responder, _llm_answer
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{served.url}/health/live", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet, or the worker still booting
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield served
    finally:
        fake_llm.responder = previous
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        drop_database(admin_pg_url, url)


def _session(served: Served) -> list[str]:
    """A realistic run through the API; returns the one-time secrets it was handed back."""
    client = "log-probe"
    write = served.api()
    bearer = requests.Session()
    bearer.headers["Authorization"] = f"Bearer {served.key}"
    base = served.url + "/api/v1"

    made = write.post(
        f"{base}/memory/remember", json={"client_id": client, "text": SECRETS["remembered text"], "kind": "fact"}
    )
    assert made.status_code == 201, made.text
    found = bearer.get(f"{base}/memory/recall", params={"client_id": client, "q": SECRETS["recall words"]})
    assert found.status_code == 200, found.text
    doc = write.post(f"{base}/memory/docs", json={"client_id": client, "text": SECRETS["document text"]})
    assert doc.status_code == 201, doc.text
    listed = requests.get(f"{base}/events", params={"api_key": SECRETS["key in a query string"]}, timeout=30)
    assert listed.status_code == 401
    wrong = served.api(SECRETS["wrong key"]).get(f"{base}/events")
    assert wrong.status_code == 401
    wrong_bearer = requests.get(
        f"{base}/events", headers={"Authorization": f"Bearer {SECRETS['wrong key']}"}, timeout=30
    )
    assert wrong_bearer.status_code == 401
    bad = write.post(f"{base}/memory/remember", json={"client_id": client, "text": "x", "kind": SECRETS["bad input"]})
    assert bad.status_code == 400

    code = write.post(f"{base}/chat/links", json={"client_id": client})
    assert code.status_code == 201, code.text
    chat = {"chat_id": 777001, "user_id": 777001, "date": int(time.time())}
    linked = write.post(f"{base}/chat/message", json={**chat, "message_id": 1, "text": f"/link {code.json()['code']}"})
    assert linked.status_code == 200 and linked.json()["meta"]["outcome"] == "linked", linked.text
    said = write.post(f"{base}/chat/message", json={**chat, "message_id": 2, "text": SECRETS["chat message"]})
    assert said.status_code == 200, said.text
    asked = write.post(f"{base}/chat/message", json={**chat, "message_id": 3, "text": f"what is {TOKEN}?"})
    assert asked.status_code == 200, asked.text
    return [code.json()["code"]]


def test_no_secret_or_user_text_reaches_the_logs_at_info(served):
    handed_back = _session(served)
    time.sleep(0.5)  # the access log line is written after the response
    logged = served.log.read_text(errors="replace") + served.cli_stderr

    assert '"POST /api/v1/memory/remember" 201' in logged  # the access log is on, and in our format
    assert '"GET /api/v1/events" 401' in logged
    leaks = {name: value for name, value in SECRETS.items() if value.strip() in logged}
    leaks |= {"API key": served.key} if served.key in logged or served.key.split("_")[2] in logged else {}
    leaks |= {"chat link code": "(code)"} if any(c in logged for c in handed_back) else {}
    leaks |= {"a secret's random part": TOKEN} if TOKEN in logged else {}
    assert not leaks, f"in the logs: {sorted(leaks)}\n{logged[-4000:]}"


def test_the_access_log_format_has_no_query_string_and_no_headers():
    """`steward serve` and compose's gunicorn both take ops/gunicorn_conf.py's format."""
    from steward import server

    assert "gunicorn_conf.access_log_format" in Path(server.__file__).read_text()
    for unsafe in ("%(r)s", "%(q)s", "%(u)s", "%(a)s", "%(f)s", "}i)s", "}e)s"):
        assert unsafe not in gunicorn_conf.access_log_format


# ---- body limit on the production server --------------------------------------------------------
def _exchange(served: Served, head: bytes, body: bytes) -> tuple[int, dict]:
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading and close once it has refused the body
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    head_part, _, rest = data.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), json.loads(rest or b"{}")


def _head(served: Served, framing: str) -> bytes:
    return (
        f"POST /api/v1/events HTTP/1.1\r\nHost: steward\r\nX-API-Key: {served.key}\r\n"
        f"Content-Type: application/json\r\nConnection: close\r\n{framing}\r\n"
    ).encode()


def test_gunicorn_refuses_a_declared_oversize_body_without_reading_it(served):
    status, body = _exchange(served, _head(served, "Content-Length: 50000000\r\n"), b"{" + b" " * 1023)
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_gunicorn_caps_a_chunked_body_at_the_limit(served):
    chunk = b" " * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(1_048_576 // 65536 + 4))
    status, body = _exchange(served, _head(served, "Transfer-Encoding: chunked\r\n"), b"1\r\n{\r\n" + chunks)
    assert status == 413 and body["error"]["code"] == "payload_too_large"
