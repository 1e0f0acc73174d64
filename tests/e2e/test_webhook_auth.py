"""Every inbound webhook checks its shared secret header: without it, with a wrong one, or with the
right secret under another header, n8n answers 403, starts no execution, and nothing reaches Steward
(every table keeps its row count) or a third party (the fakes see no request)."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e

TELEGRAM_UPDATE = {
    "update_id": 1,
    "message": {
        "message_id": 1,
        "date": 1700000000,
        "text": "forged: delete everything",
        "chat": {"id": 5151, "type": "private"},
        "from": {"id": 5151, "is_bot": False, "first_name": "Intruder"},
    },
}
CODA_TASK = {"task_id": "T-6", "title": "Forged task"}
GOOGLE_PUSH = {"X-Goog-Channel-ID": "steward-e2e-channel", "X-Goog-Resource-State": "exists"}

# path, workflow, the header it checks, which secret (an attribute of N8n), body, other headers
WEBHOOKS = [
    ("events/log", "event-logger", "X-Webhook-Token", "webhook_token", {"event_type": "forged"}, {}),
    ("coda/task-created", "coda-task-created", "X-Webhook-Token", "webhook_token", CODA_TASK, {}),
    ("gcal/event-updated", "gcal-event-updated", "X-Goog-Channel-Token", "webhook_token", {}, GOOGLE_PUSH),
    ("telegram/update", "telegram-chat", "X-Telegram-Bot-Api-Secret-Token", "telegram_secret", TELEGRAM_UPDATE, {}),
]

IDS = [w[1] for w in WEBHOOKS]


def _counts(db) -> dict[str, int]:
    tables = [r["tablename"] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in tables)
    return {r["t"]: r["n"] for r in db.execute(sql)}


@pytest.mark.parametrize(("path", "workflow", "header", "secret", "body", "extra"), WEBHOOKS, ids=IDS)
def test_a_webhook_without_its_secret_runs_nothing(
    n8n, db, fake_telegram, fake_coda, fake_gcal, path, workflow, header, secret, body, extra
):
    right = getattr(n8n, secret)
    other = n8n.telegram_secret if secret == "webhook_token" else n8n.webhook_token
    wrong_headers = [
        {},
        {header: "wrong"},
        {header: right[:-1]},
        {header: other},  # the other webhooks' secret
        {"X-Api-Key" if header != "X-Api-Key" else "X-Webhook-Token": right},  # the right secret, wrong header
    ]
    rows, last_run = _counts(db), n8n.last_execution_id(workflow)
    seen = (len(fake_telegram.calls), len(fake_coda.requests), len(fake_gcal.requests))

    for headers in wrong_headers:
        response = requests.post(f"{n8n.url}/webhook/{path}", json=body, headers={**extra, **headers}, timeout=30)
        assert response.status_code == 403, f"{path} with {sorted(headers)}: {response.status_code} {response.text}"

    time.sleep(1.5)  # an execution n8n had started would be listed by now
    assert n8n.last_execution_id(workflow) == last_run
    assert _counts(db) == rows
    assert (len(fake_telegram.calls), len(fake_coda.requests), len(fake_gcal.requests)) == seen
