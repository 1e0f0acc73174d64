"""A local OpenAI-compatible server on a real socket, for tests and benchmarks.

It speaks `POST /v1/chat/completions` and `POST /v1/embeddings` as the OpenAI API documents them,
so Steward's real `openai` client talks to it over HTTP. It is scriptable:

    fake = FakeOpenAI(latency={"big": 0.2}).start()
    fake.enqueue({"title": ...})            # next completion answers this JSON (a str is sent as is)
    fake.fail(429, retry_after=0.1)         # next completion: HTTP 429 with Retry-After
    fake.hang(5)                            # next completion sleeps 5 s (past the client's timeout)
    fake.invalid_json()                     # next completion's content is not JSON
    fake.garbage("<html>", "text/html")     # next response: HTTP 200 whose body is this, not a completion
    fake.responder = lambda body: {...}     # answer when nothing is queued
    fake.json_schema = False                # refuse `response_format` json_schema with a 400, as some servers do
    fake.count(), fake.requests             # what arrived

Token usage is deterministic: prompt tokens = characters of all messages // 4, completion tokens =
characters of the answer // 4 (at least 1 each).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"


@dataclass
class Answer:
    content: str


@dataclass
class Fail:
    status: int
    retry_after: float | None = None
    message: str = "scripted failure"


@dataclass
class Hang:
    seconds: float


@dataclass
class Garbage:
    body: str
    content_type: str


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return max(1, sum(len(str(m.get("content") or "")) for m in messages) // 4)


def completion_tokens(content: str) -> int:
    return max(1, len(content) // 4)


class FakeOpenAI:
    def __init__(self, latency: dict[str, float] | None = None, dimension: int = 384, usage: bool = True) -> None:
        self.latency = dict(latency or {})
        self.dimension = dimension
        self.usage = usage
        self.json_schema = True
        self.responder: Callable[[dict[str, Any]], Any] | None = None
        self.requests: list[Recorded] = []
        self._script: deque[Answer | Fail | Hang | Garbage] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "call start() first"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    # ---- scripting -----------------------------------------------------------------------
    def enqueue(self, *answers: Any) -> None:
        with self._lock:
            for answer in answers:
                self._script.append(Answer(answer if isinstance(answer, str) else json.dumps(answer)))

    def fail(self, status: int = 500, times: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            self._script.extend(Fail(status, retry_after) for _ in range(times))

    def hang(self, seconds: float) -> None:
        with self._lock:
            self._script.append(Hang(seconds))

    def garbage(self, body: str, content_type: str = "application/json", times: int = 1) -> None:
        with self._lock:
            self._script.extend(Garbage(body, content_type) for _ in range(times))

    def invalid_json(self, times: int = 1) -> None:
        with self._lock:
            self._script.extend(Answer('{"title": "unfinished", ') for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.responder = None
        self.json_schema = True
        self.usage = True

    def count(self, path: str = CHAT) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if r.path == CHAT]

    # ---- serving -------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        try:
            body = json.loads(handler.rfile.read(length) or b"{}")
        except ValueError:
            return _send(handler, 400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(Recorded(path, body, dict(handler.headers)))
        if path == EMBEDDINGS:
            return _send(handler, 200, self._embeddings(body))
        if path != CHAT:
            return _send(handler, 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})
        if not self.json_schema and (body.get("response_format") or {}).get("type") == "json_schema":
            return _send(
                handler,
                400,
                {
                    "error": {
                        "message": "response_format of type json_schema is not supported",
                        "type": "invalid_request_error",
                        "param": "response_format",
                    }
                },
            )
        with self._lock:
            step = self._script.popleft() if self._script else None
        time.sleep(self.latency.get(str(body.get("model")), 0.0))
        if isinstance(step, Hang):
            time.sleep(step.seconds)
            step = Answer("{}")
        if isinstance(step, Garbage):
            return _send_raw(handler, 200, step.body.encode(), step.content_type)
        if isinstance(step, Fail):
            headers = {"Retry-After": _seconds(step.retry_after)} if step.retry_after is not None else {}
            return _send(handler, step.status, {"error": {"message": step.message, "type": "server_error"}}, headers)
        if step is None:
            if self.responder is None:
                return _send(handler, 500, {"error": {"message": "the fake has no scripted answer", "type": "x"}})
            produced = self.responder(body)
            step = Answer(produced if isinstance(produced, str) else json.dumps(produced))
        return _send(handler, 200, self._completion(body, step.content))

    def _completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "id": f"chatcmpl-{hashlib.sha1(content.encode()).hexdigest()[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        }
        if self.usage:
            p, c = prompt_tokens(body.get("messages") or []), completion_tokens(content)
            reply["usage"] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        return reply

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body.get("input") or []
        texts = [texts] if isinstance(texts, str) else texts
        data = [{"object": "embedding", "index": i, "embedding": self.vector(t)} for i, t in enumerate(texts)]
        tokens = sum(len(t) // 4 for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def vector(self, text: str) -> list[float]:
        """A deterministic unit vector per text (equal texts, equal vectors)."""
        raw = b""
        counter = 0
        while len(raw) < self.dimension:
            raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
            counter += 1
        values = [(b - 127.5) for b in raw[: self.dimension]]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _send(
    handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    _send_raw(handler, status, json.dumps(payload).encode(), "application/json", headers)


def _send_raw(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test)
