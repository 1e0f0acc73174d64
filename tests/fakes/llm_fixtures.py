"""Fixtures for the LLM layer and planner tests: the fake provider and apps configured to use it.

Test modules load them with `pytest_plugins = ["fakes.llm_fixtures"]`.
Apps are built once per distinct settings override and served on real sockets.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from fakes.llm_data import llm_settings
from fakes.openai_server import FakeOpenAI
from steward.app import create_app
from support import Api, Keys, make_settings


@dataclass
class Stack:
    app: Flask
    url: str
    keys: Keys

    def api(self, key: str | None = "write") -> Api:
        literal = getattr(self.keys, key, key) if key else None
        return Api(self.url, literal)

    def clear_cache(self) -> None:
        self.app.extensions["steward"].cache.delete_prefix("llm:")


@pytest.fixture(scope="session")
def fake_llm() -> Any:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake(fake_llm: FakeOpenAI) -> Any:
    """The session's fake provider, emptied before and after the test."""
    fake_llm.reset()
    fake_llm.latency.clear()
    yield fake_llm
    fake_llm.reset()
    fake_llm.latency.clear()


@pytest.fixture(scope="session")
def llm_stacks(database_url, tmp_path_factory, keys, fake_llm) -> Any:
    """`build(**settings_overrides)`: a served app using the fake LLM, one per distinct override.
    Each app gets its own data folder: Qdrant Edge lets one store hold a folder at a time."""
    built: dict[str, tuple[Stack, Any]] = {}

    def build(**overrides: Any) -> Stack:
        marker = repr(sorted(overrides.items()))
        if marker not in built:
            data_dir = tmp_path_factory.mktemp("llm-stack-data")
            settings = make_settings(database_url, data_dir, **llm_settings(fake_llm, **overrides))
            app = create_app(settings)
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            built[marker] = (Stack(app, f"http://127.0.0.1:{server.server_port}", keys), server)
        stack = built[marker][0]
        stack.clear_cache()
        return stack

    yield build
    for stack, server in built.values():
        server.shutdown()
        if "steward.llm" in stack.app.extensions:
            stack.app.extensions["steward.llm"].close()
        stack.app.extensions["steward"].close()


@pytest.fixture
def llm_stack(llm_stacks, fake) -> Stack:
    """The default LLM-configured app (models big-model / small-model, no budget), cache emptied."""
    return llm_stacks()
