"""event-logger and error-alert, run by a real n8n against the live Steward and a fake Telegram."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from steward.workflows import push

pytestmark = pytest.mark.e2e
WORKFLOWS = Path(__file__).resolve().parents[2] / "n8n" / "workflows"


def _events(api, **query) -> list[dict]:
    response = api.get("/api/v1/events", params=query)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _wait_for_events(api, timeout: float = 30, **query) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _events(api, **query)
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no event matching {query} within {timeout} s")


def test_webhook_event_lands_in_steward(n8n, api):
    client = f"client-{uuid.uuid4().hex[:8]}"
    body = {"event_type": "task_created", "client_id": client, "payload": {"task": "write e2e"}}

    response = n8n.webhook("events/log", body)

    assert response.status_code == 201, f"{response.status_code} {response.text}\n{n8n.log_tail()}"
    created = response.json()
    assert created["event_type"] == "task_created" and created["event_source"] == "n8n:event-logger"
    [stored] = _events(api, client_id=client)
    assert stored["id"] == created["id"]
    assert stored["payload"] == {"task": "write e2e"}
    assert stored["metadata"] == {"n8n_workflow_id": "event-logger"}


def test_client_id_defaults_to_the_n8n_setting(n8n, api):
    response = n8n.webhook("events/log", {"event_type": "ping"})

    assert response.status_code == 201, response.text
    assert response.json()["client_id"] == n8n.client_id


def test_callers_idempotency_key_is_forwarded(n8n, api):
    client = f"client-{uuid.uuid4().hex[:8]}"
    body = {"event_type": "task_created", "client_id": client}
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}

    first = n8n.webhook("events/log", body, headers=key)
    again = n8n.webhook("events/log", body, headers=key)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert len(_events(api, client_id=client)) == 1


def test_stewards_validation_error_reaches_the_caller(n8n, api):
    response = n8n.webhook("events/log", {"event_type": "has spaces!", "client_id": "c1"})

    assert response.status_code == 400
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert "event_type" in fields
    assert _events(api, client_id="c1") == []


def test_not_an_event_is_rejected_by_n8n(n8n):
    response = n8n.webhook("events/log", ["not", "an", "object"])

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "body"


def test_webhook_needs_the_token(n8n):
    assert n8n.webhook("events/log", {"event_type": "x"}, token=None).status_code == 403
    assert n8n.webhook("events/log", {"event_type": "x"}, token="wrong").status_code == 403


def test_failing_node_alerts_the_operator_and_logs_an_event(n8n, api, fake_telegram):
    marker = uuid.uuid4().hex[:8]

    response = n8n.webhook("e2e/fail", {"marker": marker})

    assert response.status_code == 200, response.text
    sent = fake_telegram.wait_for("sendMessage", lambda p: marker in str(p.get("text")))
    assert str(sent.params["chat_id"]) == "4242"
    text = sent.params["text"]
    assert "e2e-fail" in text and "Fail on purpose" in text and "/workflow/e2e-fail/executions/" in text
    assert "n8n.io" not in text  # no attribution footer
    [event] = [
        e
        for e in _wait_for_events(api, client_id=n8n.client_id, event_type="workflow_error")
        if marker in e["payload"]["message"]
    ]
    assert event["event_source"] == "n8n:error-alert"
    assert event["payload"]["workflow_id"] == "e2e-fail"
    assert event["payload"]["node"] == "Fail on purpose"
    assert event["payload"]["execution_url"].startswith(n8n.url)


def test_push_updates_the_running_instance_in_place(n8n):
    api = push.N8nApi(n8n.url, n8n.api_key)

    workflows = push.load([WORKFLOWS])
    results = push.push(api, workflows)

    assert {(r.repo_id, r.instance_id, r.action, r.published) for r in results} == {
        (wf["id"], wf["id"], "updated", True) for wf in workflows
    }
    deadline = time.monotonic() + 20
    while (status := n8n.webhook("events/log", ["x"]).status_code) != 400 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == 400  # still live after the update and republish
