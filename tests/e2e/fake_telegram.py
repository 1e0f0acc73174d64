"""A local Telegram Bot API on a real socket: `POST /bot<token>/<method>` with JSON or form bodies.

n8n's Telegram credential has a base URL, so the e2e suite points it here. Every call is recorded
(`calls`, `wait_for`); answers follow the Bot API's shapes ({"ok": true, "result": ...}, or
{"ok": false, "error_code", "description"}), including 401 for a wrong token.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from fakes.base import LocalFakeServer

ROUTE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
BOT = {"id": 7000001, "is_bot": True, "first_name": "Steward", "username": "steward_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class FakeTelegram(LocalFakeServer):
    def __init__(self, token: str = "123456:TEST-token-for-the-fake-bot-api") -> None:
        self.token = token
        self.calls: list[Call] = []
        self._ids = itertools.count(100)
        self._lock = threading.Lock()

    def wait_for(
        self, method: str, match: Callable[[dict[str, Any]], bool] = lambda p: True, timeout: float = 30
    ) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for call in self.calls:
                    if call.method == method and match(call.params):
                        return call
            time.sleep(0.2)
        raise AssertionError(f"no {method} call matched within {timeout} s; got {[c.method for c in self.calls]}")

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        message = {"message_id": next(self._ids), "date": int(time.time()), "from": BOT}
        if method in ("sendMessage", "editMessageText"):
            if not params.get("chat_id"):
                return 400, _error(400, "Bad Request: chat not found")
            if not str(params.get("text", "")).strip():
                return 400, _error(400, "Bad Request: message text is empty")
            chat = {
                "id": int(params["chat_id"]) if str(params["chat_id"]).lstrip("-").isdigit() else params["chat_id"],
                "type": "private",
            }
            return 200, {"ok": True, "result": {**message, "chat": chat, "text": params["text"]}}
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "getUpdates":
            return 200, {"ok": True, "result": []}
        if method == "getWebhookInfo":
            return 200, {"ok": True, "result": {"url": "", "pending_update_count": 0}}
        return 404, _error(404, "Not Found: method not found")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def _serve(self) -> None:
                path, _, query = self.path.partition("?")
                route = ROUTE.match(path)
                if route is None:
                    return self._send(404, _error(404, "Not Found"))
                if route["token"] != fake.token:
                    return self._send(401, _error(401, "Unauthorized"))
                params = dict(parse_qsl(query))
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if raw:
                    if "json" in (self.headers.get("Content-Type") or ""):
                        params.update(json.loads(raw))
                    else:
                        params.update(parse_qsl(raw.decode()))
                with fake._lock:
                    fake.calls.append(Call(route["method"], params))
                self._send(*fake.answer(route["method"], params))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}
