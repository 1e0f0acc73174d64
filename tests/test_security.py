"""Security checks on the live app: bad-key throttling, hashed keys compared in constant time,
bodies over the limit refused unread, and document ingestion that never reads a file or URL.

Requests that must come from a given client use a real socket bound to a loopback address of the
test's choosing (127.x.y.z all reach the server), so "another address" is a real remote address.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import urllib3
from werkzeug.serving import make_server

from steward.app import create_app
from steward.core import auth
from support import make_settings

EVENTS = "/api/v1/events"
REDIS_URL = "redis://127.0.0.1:6379/13"


def _address() -> str:
    """A loopback address no other test (or earlier run sharing Redis) has used."""
    return "127." + ".".join(str(random.randint(1, 254)) for _ in range(3))


@contextmanager
def _served(settings) -> Iterator[str]:
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["steward"].close()


def _get(server: str, path: str, key: str | None, source: str) -> urllib3.BaseHTTPResponse:
    host, port = server.split(":")
    pool = urllib3.HTTPConnectionPool(host, int(port), source_address=(source, 0), retries=False)
    headers = {"X-API-Key": key} if key else {}
    return pool.request("GET", path, headers=headers, timeout=30)


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def strict(database_url, tmp_path_factory) -> Iterator[str]:
    """An app that shuts an address out after 3 invalid keys a minute (counted in this process)."""
    settings = make_settings(
        database_url, tmp_path_factory.mktemp("strict"), steward_auth_fail_limit="3/minute", steward_services="events"
    )
    with _served(settings) as server:
        yield server


# ---- repeated bad keys ------------------------------------------------------------------------
def test_repeated_bad_keys_from_one_address_get_429_even_with_a_good_key(strict, keys):
    attacker, neighbour = _address(), _address()
    statuses = [_get(strict, EVENTS, f"stw_deadbeef_guess{i}", attacker).status for i in range(3)]
    assert statuses == [401, 401, 401]

    refused = _get(strict, EVENTS, "stw_deadbeef_guess4", attacker)
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = json.loads(refused.data)["error"]
    assert error["code"] == "rate_limited" and "retry in" in error["message"]
    # Refused before the key is looked at: a good key from that address is refused too ...
    assert _get(strict, EVENTS, keys.read, attacker).status == 429
    # ... while the same good key from another address is not affected.
    assert _get(strict, EVENTS, keys.read, neighbour).status == 200


def test_a_missing_key_is_not_counted_as_a_guess(strict, keys):
    client = _address()
    assert [_get(strict, EVENTS, None, client).status for _ in range(5)] == [401] * 5
    assert _get(strict, EVENTS, keys.read, client).status == 200


def test_health_stays_open_to_a_throttled_address(strict):
    client = _address()
    for i in range(4):
        _get(strict, EVENTS, f"stw_deadbeef_x{i}", client)
    assert _get(strict, EVENTS, None, client).status == 429
    assert _get(strict, "/health/live", None, client).status == 200


def test_counts_are_shared_through_redis_by_every_worker(database_url, tmp_path, keys):
    if not _redis_up():
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    shared = dict(steward_auth_fail_limit="3/minute", steward_services="events", redis_url=REDIS_URL)
    attacker = _address()
    with (
        _served(make_settings(database_url, tmp_path / "a", **shared)) as worker_a,
        _served(make_settings(database_url, tmp_path / "b", **shared)) as worker_b,
    ):
        assert _get(worker_a, EVENTS, "stw_deadbeef_a1", attacker).status == 401
        assert _get(worker_b, EVENTS, "stw_deadbeef_b1", attacker).status == 401
        assert _get(worker_a, EVENTS, "stw_deadbeef_a2", attacker).status == 401
        assert _get(worker_b, EVENTS, keys.read, attacker).status == 429
        assert _get(worker_b, EVENTS, keys.read, _address()).status == 200


def test_an_unreachable_redis_never_fails_authentication(database_url, tmp_path, keys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = make_settings(
        database_url, tmp_path, steward_services="events", redis_url=f"redis://127.0.0.1:{closed_port}/0"
    )
    client = _address()
    with _served(settings) as server:
        assert _get(server, EVENTS, "stw_deadbeef_nope", client).status == 401
        assert _get(server, EVENTS, keys.read, client).status == 200


def test_a_malformed_limit_stops_startup_naming_the_variable():
    from steward.core.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="STEWARD_AUTH_FAIL_LIMIT"):
        load_settings(_env_file=None, steward_auth_fail_limit="lots")


# ---- keys hashed and compared in constant time ------------------------------------------------
def test_no_plaintext_key_or_secret_is_stored(database_url):
    with psycopg.connect(database_url) as conn:
        made = [auth.create_key(conn, f"probe-{i}", ["read"])[1] for i in range(3)]
        rows = [r[0] for r in conn.execute("SELECT t::text FROM api_keys t")]
        hashes = {r[0] for r in conn.execute("SELECT key_hash FROM api_keys")}
    dump = "\n".join(rows)
    for plaintext in made:
        secret = plaintext.split("_", 2)[2]
        assert plaintext not in dump and secret not in dump and secret[:12] not in dump
        assert hashlib.sha256(plaintext.encode()).hexdigest() in hashes


def test_keys_are_compared_with_compare_digest_and_never_with_equality():
    tree = ast.parse(inspect.getsource(auth.lookup))
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    compares = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert not [c for c in compares if "hash" in c or "plaintext" in c], compares


# ---- bodies over the limit --------------------------------------------------------------------
def _raw(server: str, head: bytes, body: bytes = b"", timeout: float = 60) -> tuple[int, dict, bytes]:
    """Send `head` and part of a body, then read whatever the server answers without sending more."""
    host, port = server.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    head_part, _, rest = data.partition(b"\r\n\r\n")
                    length = _content_length(head_part)
                    if length is not None and len(rest) >= length:
                        break
        except (ConnectionResetError, TimeoutError):
            pass
    head_part, _, rest = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    headers = dict(line.decode().split(": ", 1) for line in head_part.split(b"\r\n")[1:] if b": " in line)
    return status, {k.lower(): v for k, v in headers.items()}, rest


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def _post_head(path: str, key: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: steward\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _server_of(live_server) -> str:
    return live_server.url.removeprefix("http://")


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(live_server, settings, keys):
    limit = settings.steward_max_body_bytes
    head = _post_head(EVENTS, keys.write, f"Content-Length: {limit + 1}\r\n")
    # Only the first kilobyte is sent: the answer can only come back if the rest is never awaited.
    status, headers, body = _raw(_server_of(live_server), head, b"{" + b" " * 1023)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert str(limit) in json.loads(body)["error"]["message"]


def test_a_chunked_body_without_length_is_cut_off_at_the_limit(live_server, settings, keys):
    limit = settings.steward_max_body_bytes
    head = _post_head(EVENTS, keys.write, "Transfer-Encoding: chunked\r\n")
    chunk = b" " * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // len(chunk) + 4))
    status, _, body = _raw(_server_of(live_server), head, b"1\r\n{\r\n" + chunks)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_chunked_body_within_the_limit_is_served(live_server, keys, client_id):
    event = json.dumps({"event_type": "ping", "event_source": "test", "client_id": client_id}).encode()
    head = _post_head(EVENTS, keys.write, "Transfer-Encoding: chunked\r\n")
    halves = (event[:10], event[10:])
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(h), h) for h in halves) + b"0\r\n\r\n"
    status, _, body = _raw(_server_of(live_server), head, chunked)
    assert status == 201, body
    assert json.loads(body)["client_id"] == client_id


def test_a_body_under_the_limit_still_works(api, client_id):
    padded = {"event_type": "ping", "event_source": "test", "client_id": client_id, "payload": {"pad": "x" * 500_000}}
    resp = api.post(EVENTS, json=padded)
    assert resp.status_code == 201, resp.text


# ---- documents are text, never a path or URL --------------------------------------------------
DOCS = "/api/v1/memory/docs"
LOCATIONS = ["file:///etc/passwd", "/etc/passwd", "http://169.254.169.254/latest/meta-data/"]


@pytest.mark.parametrize("field", ["path", "url", "file", "source", "source_url", "uri"])
def test_document_fields_that_name_a_location_are_refused(api, client_id, db, field):
    for location in LOCATIONS:
        resp = api.post(DOCS, json={"client_id": client_id, "text": "x", field: location})
        assert resp.status_code == 400, resp.text
        assert [d["field"] for d in resp.json()["error"]["details"]] == [field]
    assert db.execute("SELECT count(*) AS n FROM documents").fetchone()["n"] == 0


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_location_given_as_text_is_stored_as_that_text(api, client_id, db, location):
    resp = api.post(
        DOCS,
        json={"client_id": client_id, "text": location, "title": location, "provenance": {"source": location}},
    )
    assert resp.status_code == 201, resp.text
    stored = db.execute(
        "SELECT d.title, d.provenance, d.char_count, string_agg(c.text, '' ORDER BY c.position) AS text "
        "FROM documents d JOIN doc_chunks c ON c.document_id = d.id WHERE d.id = %s GROUP BY d.id",
        (resp.json()["id"],),
    ).fetchone()
    assert stored["text"] == location and stored["char_count"] == len(location)
    assert stored["title"] == location and stored["provenance"] == {"source": location}
    assert "root:" not in json.dumps(stored)


def test_ingestion_code_opens_no_file_and_fetches_no_url():
    """Nothing the documents route reaches opens a path or a URL (the request gives text only)."""
    memory = Path(auth.__file__).resolve().parents[1] / "memory"
    for path in memory.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                assert not name.endswith(("open", "read_text", "read_bytes", "urlopen", "urlretrieve")), (
                    f"{path.name}:{node.lineno} calls {name}"
                )
                assert not name.startswith(("requests.", "httpx.", "urllib.")), f"{path.name}:{node.lineno} {name}"
