"""End-to-end fixtures: a real n8n 2.41.1 started by `scripts/n8n`, wired to the live Steward.

`scripts/n8n start` installs n8n on first use (minutes, cached in ~/.cache/steward), imports the
credentials from the environment built here, imports `n8n/workflows` plus `tests/e2e/workflows`
(test-only workflows), publishes them and waits until n8n is ready. Third parties are local fakes:
the Telegram credential's base URL points at `FakeTelegram`. Each session gets its own n8n folder
and ports, so a developer's own n8n on 5678 is left alone.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "n8n"
TEST_WORKFLOWS = Path(__file__).with_name("workflows")
OPERATOR_CHAT_ID = "4242"
CLIENT_ID = "e2e-operator"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class N8n:
    url: str
    api_key: str
    webhook_token: str
    folder: Path
    client_id: str = CLIENT_ID

    def webhook(
        self, path: str, body, headers: dict[str, str] | None = None, token: str | None = ""
    ) -> requests.Response:
        """POST to a production webhook, authenticated with the webhook token unless token=None."""
        sent = {"X-Webhook-Token": token or self.webhook_token} if token is not None else {}
        return requests.post(f"{self.url}/webhook/{path}", json=body, headers={**sent, **(headers or {})}, timeout=60)

    def log_tail(self, lines: int = 60) -> str:
        log = self.folder / "n8n.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def n8n(live_server, fake_telegram, tmp_path_factory) -> Iterator[N8n]:
    folder = tmp_path_factory.mktemp("n8n")
    webhook_token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "N8N_USER_FOLDER": str(folder),
        "N8N_PORT": str(_free_port()),
        "N8N_RUNNERS_BROKER_PORT": str(_free_port()),
        "N8N_EXTRA_WORKFLOWS": str(TEST_WORKFLOWS),
        "N8N_WEBHOOK_TOKEN": webhook_token,
        "STEWARD_BASE_URL": live_server.url,
        "STEWARD_API_KEY": live_server.keys.write,
        "STEWARD_CLIENT_ID": CLIENT_ID,
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_BASE_URL": fake_telegram.url,
        "TELEGRAM_OPERATOR_CHAT_ID": OPERATOR_CHAT_ID,
    }
    started = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=1800)
    instance = N8n(
        url=started.stdout.strip().splitlines()[-1] if started.stdout.strip() else "",
        api_key=(folder / "api-key").read_text().strip() if (folder / "api-key").exists() else "",
        webhook_token=webhook_token,
        folder=folder,
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/n8n start failed ({started.returncode}):\n{started.stderr}\n{instance.log_tail()}")
        yield instance
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
