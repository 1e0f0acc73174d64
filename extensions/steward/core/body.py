"""Request bodies over STEWARD_MAX_BODY_BYTES are refused with 413 before anything parses them.

With a Content-Length over the limit, werkzeug raises 413 at the first read, before a byte of the
body is taken from the socket. A chunked body has no length up front, and werkzeug only stops
reading it at the limit: the cut-off JSON then failed as "malformed" (a misleading 400), or was
even accepted when its first bytes happened to parse. So a streamed body is read here, right after
authentication, at most one byte past the limit: over it is a 413; within it, the view gets the
bytes as an ordinary sized body.
"""

from __future__ import annotations

import io

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


def _read_at_most(stream: io.RawIOBase, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        data = stream.read(min(65536, size - len(out)))
        if not data:
            break
        out += data
    return bytes(out)


def cap_streamed_body() -> None:
    environ = request.environ
    if request.content_length is not None or not environ.get("wsgi.input_terminated"):
        return
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = _read_at_most(environ["wsgi.input"], limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    for cached in ("stream", "content_length"):  # werkzeug caches these on first use
        request.__dict__.pop(cached, None)


def init_app(app: Flask) -> None:
    app.before_request(cap_streamed_body)
