"""End-to-end fixtures: a real n8n 2.41.1 started by `scripts/n8n`, wired to the live Steward.

`scripts/n8n start` installs n8n on first use (minutes, cached in ~/.cache/steward), imports the
credentials from the environment built here, imports `n8n/workflows` plus `tests/e2e/workflows`
(test-only workflows), publishes them and waits until n8n is ready. Third parties are local fakes:
the Telegram credential's base URL points at `FakeTelegram`; Coda, Google Calendar and Todoist are
reached through the workflows' base-URL settings (`*_BASE_URL`), with the real credential types
(Google's OAuth2 credential carries an access token the fake accepts). Each session gets its own
n8n folder and ports, so a developer's own n8n on 5678 is left alone.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from fake_telegram import FakeTelegram

from fakes.coda_server import FakeCoda
from fakes.gcal_server import FakeGoogleCalendar
from fakes.todoist_server import TOKEN as TODOIST_TOKEN
from fakes.todoist_server import FakeTodoist

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "n8n"
TEST_WORKFLOWS = Path(__file__).with_name("workflows")
OPERATOR_CHAT_ID = "4242"
CLIENT_ID = "e2e-operator"
CALENDAR_ID = "operator@example.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class N8n:
    url: str
    api_key: str
    webhook_token: str
    telegram_secret: str
    folder: Path
    env: dict[str, str]
    client_id: str = CLIENT_ID
    calendar_id: str = CALENDAR_ID

    def webhook(
        self, path: str, body, headers: dict[str, str] | None = None, token: str | None = ""
    ) -> requests.Response:
        """POST to a production webhook, authenticated with the webhook token unless token=None."""
        sent = {"X-Webhook-Token": token or self.webhook_token} if token is not None else {}
        return requests.post(f"{self.url}/webhook/{path}", json=body, headers={**sent, **(headers or {})}, timeout=60)

    def execute(self, workflow_id: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a workflow once now through its "When called" trigger (`scripts/n8n execute`)."""
        return subprocess.run(
            [str(SCRIPT), "execute", workflow_id], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def executions(self, workflow_id: str, status: str | None = None) -> list[dict]:
        params = {"workflowId": workflow_id, "limit": 100, **({"status": status} if status else {})}
        found = requests.get(
            f"{self.url}/api/v1/executions", params=params, headers={"X-N8N-API-KEY": self.api_key}, timeout=30
        )
        found.raise_for_status()
        return found.json()["data"]

    def last_execution_id(self, workflow_id: str) -> int:
        return max((int(r["id"]) for r in self.executions(workflow_id)), default=0)

    def wait_for_runs(self, workflow_id: str, after: int, count: int = 1, timeout: float = 60) -> None:
        """Until `count` executions newer than id `after` succeeded; fails at once when one failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [r for r in self.executions(workflow_id) if int(r["id"]) > after]
            if any(r["status"] in ("error", "crashed") for r in runs):
                raise AssertionError(f"{workflow_id} failed:\n{self.failures()}")
            if sum(r["status"] == "success" for r in runs) >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"{workflow_id}: fewer than {count} successful executions within {timeout} s")

    def failures(self, limit: int = 3) -> str:
        """The latest failed executions (workflow, node, error), for assertion messages."""
        found = requests.get(
            f"{self.url}/api/v1/executions",
            params={"status": "error", "limit": limit, "includeData": "true"},
            headers={"X-N8N-API-KEY": self.api_key},
            timeout=30,
        )
        if found.status_code != 200:
            return f"(executions: {found.status_code})"
        lines = []
        for run in found.json().get("data", []):
            result = (run.get("data") or {}).get("resultData", {})
            error = result.get("error") or {}
            lines.append(
                f"{run.get('workflowId')} #{run.get('id')}: node {result.get('lastNodeExecuted')!r}: "
                f"{error.get('message')} {error.get('description') or ''}"
            )
        return "\n".join(lines) or "(no failed executions)"

    def log_tail(self, lines: int = 60) -> str:
        log = self.folder / "n8n.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_coda() -> Iterator[FakeCoda]:
    fake = FakeCoda().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_gcal() -> Iterator[FakeGoogleCalendar]:
    fake = FakeGoogleCalendar().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_todoist() -> Iterator[FakeTodoist]:
    fake = FakeTodoist().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def n8n(live_server, fake_telegram, fake_coda, fake_gcal, fake_todoist, tmp_path_factory) -> Iterator[N8n]:
    folder = tmp_path_factory.mktemp("n8n")
    webhook_token = secrets.token_urlsafe(24)
    telegram_secret = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "N8N_USER_FOLDER": str(folder),
        "N8N_PORT": str(_free_port()),
        "N8N_RUNNERS_BROKER_PORT": str(_free_port()),
        "N8N_EXTRA_WORKFLOWS": str(TEST_WORKFLOWS),
        "N8N_WEBHOOK_TOKEN": webhook_token,
        "TELEGRAM_WEBHOOK_SECRET": telegram_secret,
        "STEWARD_BASE_URL": live_server.url,
        "STEWARD_API_KEY": live_server.keys.write,
        "STEWARD_CLIENT_ID": CLIENT_ID,
        "TELEGRAM_BOT_TOKEN": fake_telegram.token,
        "TELEGRAM_API_BASE_URL": fake_telegram.url,
        "TELEGRAM_OPERATOR_CHAT_ID": OPERATOR_CHAT_ID,
        "CODA_API_TOKEN": fake_coda.token,
        "CODA_BASE_URL": f"{fake_coda.url}/apis/v1",
        "CODA_DOC_ID": fake_coda.doc_id,
        "GOOGLE_CLIENT_ID": "e2e-client.apps.googleusercontent.com",
        "GOOGLE_CLIENT_SECRET": "e2e-client-secret",
        "GOOGLE_CALENDAR_ACCESS_TOKEN": fake_gcal.token,
        "GOOGLE_CALENDAR_REFRESH_TOKEN": "e2e-refresh-token",
        "GOOGLE_CALENDAR_BASE_URL": fake_gcal.url,
        "GOOGLE_CALENDAR_ID": CALENDAR_ID,
        "TODOIST_API_TOKEN": TODOIST_TOKEN,
        "TODOIST_BASE_URL": fake_todoist.base_url,
    }
    started = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=1800)
    instance = N8n(
        url=started.stdout.strip().splitlines()[-1] if started.stdout.strip() else "",
        api_key=(folder / "api-key").read_text().strip() if (folder / "api-key").exists() else "",
        webhook_token=webhook_token,
        telegram_secret=telegram_secret,
        folder=folder,
        env=env,
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/n8n start failed ({started.returncode}):\n{started.stderr}\n{instance.log_tail()}")
        yield instance
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)


DAILY_THREAD_COLUMNS = [
    "Key",
    "Client",
    "Mode",
    "Date",
    "Period end",
    "Planned",
    "Completed",
    "Unplanned completed",
    "Slipped",
    "Carried over",
    "Completion rate %",
    "Planned hours",
    "Blocked hours",
    "Used hours",
    "Utilisation %",
    "Calendar busy hours",
    "Calendar load %",
    "Open drafts",
    "Goals advanced",
    "Goals stalled",
    "Sprint planned billable hours",
    "Sprint actual billable hours",
    "Sprint variance %",
    "Drifting patterns",
    "Narrative",
    "Suggestions",
]


@pytest.fixture
def coda_doc(fake_coda) -> FakeCoda:
    """The operator's Coda doc, emptied: the tables and columns the README documents."""
    fake_coda.reset()
    fake_coda.tables.clear()
    fake_coda.add_table(
        "grid-tasks",
        "Tasks",
        [
            "Title",
            "Task ID",
            "Status",
            "Priority",
            "Estimate minutes",
            "Due",
            "Planned for",
            "Completed at",
            "Project",
            "Billable",
            "Actual hours",
            "Plan ID",
            "Next block",
            "Calendar note",
        ],
    )
    fake_coda.add_table("grid-blueprints", "Blueprints", ["Name", "Description", "Deliverables"])
    fake_coda.add_table("grid-workflows", "Workflows", ["Name", "Stage", "Owner"])
    fake_coda.add_table("grid-templates", "Process templates", ["Name", "Description", "Steps"])
    fake_coda.add_table("grid-daily", "Daily Thread", DAILY_THREAD_COLUMNS, display="Key")
    return fake_coda


@pytest.fixture
def calendar(fake_gcal) -> FakeGoogleCalendar:
    """The operator's Google Calendar, emptied."""
    fake_gcal.reset()
    fake_gcal.add_calendar(CALENDAR_ID)
    return fake_gcal
