"""The todoist-sync workflow's loop, step for step, as the n8n workflow runs it.

Each step makes the same HTTP calls the workflow's nodes make, against the live Steward server and
the fake Todoist, and passes answers through unchanged:

    push       GET /outbox -> POST batch.request to Todoist -> POST /ack/batch; until nothing is due
    push_each  the same, one Sync request and one /ack per operation
    pull       GET /state -> POST state.request to Todoist -> POST /pull (since_token added);
               follows follow_up "pull" (after a refused token) at most twice, and "reconcile"
    reconcile  GET /state -> POST state.reconcile.full_sync + GET state.reconcile.completed pages
               -> POST /reconcile (the workflow's daily branch; it pushes what was queued after)

Requests to Todoist go out as Steward describes them: a Sync request's `encoded` body with its
`content_type` (form-encoded, as Todoist documents), a GET's `query` added to the path.
"""

from __future__ import annotations

from typing import Any

import requests

from fakes.todoist_server import TOKEN, FakeTodoist

SYNC = "/api/v1/sync/todoist"


class TodoistLoop:
    def __init__(self, api: Any, fake: FakeTodoist, client_id: str, limit: int = 100) -> None:
        self.api, self.fake, self.client_id, self.limit = api, fake, client_id, limit
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"  # n8n's Todoist credential

    # ---- the HTTP Request node to Todoist ------------------------------------------------
    def todoist(self, spec: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        """Send a request Steward described; returns (status, JSON body or None, headers)."""
        url = self.fake.base_url + spec["path"]
        if spec["method"] == "GET":
            resp = self.http.get(url, params=spec.get("query"), timeout=30)
        elif spec.get("encoded") is not None:
            headers = {"Content-Type": spec["content_type"]}
            resp = self.http.post(url, data=spec["encoded"].encode(), headers=headers, timeout=30)
        else:
            resp = self.http.post(url, json=spec.get("body"), timeout=30)
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        return resp.status_code, payload, dict(resp.headers)

    # ---- push ----------------------------------------------------------------------------
    def lease(self, limit: int | None = None, worker: str = "n8n") -> dict[str, Any]:
        resp = self.api.get(
            f"{SYNC}/outbox", params={"client_id": self.client_id, "limit": limit or self.limit, "worker": worker}
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def ack_batch(self, leased: dict[str, Any], status: int, payload: Any, headers: dict[str, str]) -> dict:
        body: dict[str, Any] = {"operation_ids": leased["batch"]["operation_ids"], "http_status": status}
        if status < 400 and isinstance(payload, dict):
            body["response"] = payload
        else:
            body["error"] = str((payload or {}).get("error") if isinstance(payload, dict) else payload)[:500]
            if headers.get("Retry-After"):
                body["retry_after"] = float(headers["Retry-After"])
        resp = self.api.post(f"{SYNC}/ack/batch", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def push(self, max_rounds: int = 50) -> list[dict[str, Any]]:
        """Lease, send the batch, ack it; until the outbox has nothing due. Returns the ack results."""
        results: list[dict[str, Any]] = []
        for _ in range(max_rounds):
            leased = self.lease()
            if not leased["operations"]:
                return results
            status, payload, headers = self.todoist(leased["batch"]["request"])
            results += self.ack_batch(leased, status, payload, headers)["results"]
        raise AssertionError("the outbox did not drain")

    def push_each(self) -> list[dict[str, Any]]:
        results = []
        for _ in range(50):
            leased = self.lease()
            if not leased["operations"]:
                return results
            for op in leased["operations"]:
                status, payload, _ = self.todoist(op["request"])
                body: dict[str, Any] = {
                    "operation_id": op["operation_id"],
                    "status": "ok" if status < 400 else "error",
                    "http_status": status,
                }
                if isinstance(payload, dict):
                    body["response"] = payload
                resp = self.api.post(f"{SYNC}/ack", json=body)
                assert resp.status_code == 200, resp.text
                results.append(resp.json())
        raise AssertionError("the outbox did not drain")

    # ---- pull ----------------------------------------------------------------------------
    def pull(self, completed: bool = False) -> list[dict[str, Any]]:
        answers = []
        for _ in range(3):
            state = self.api.get(f"{SYNC}/state", params={"client_id": self.client_id}).json()
            status, payload, _ = self.todoist(state["request"])
            if status >= 400:
                body = {"client_id": self.client_id, "http_status": status, "error": payload}
            else:
                body = {"client_id": self.client_id, "since_token": state["sync_token"], **(payload or {})}
                if completed:
                    body["completed"] = {"items": self.completed_tasks(state["reconcile"]["completed"])}
            resp = self.api.post(f"{SYNC}/pull", json=body)
            assert resp.status_code == 200, resp.text
            answer = resp.json()
            answers.append(answer)
            actions = {f["action"] for f in answer["follow_up"]}
            if "reconcile" in actions:
                answer["reconciled"] = self.reconcile()
            if "pull" not in actions:
                return answers
        raise AssertionError("pull kept asking for another pull")

    def completed_tasks(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of the completed-tasks request Steward described, following next_cursor."""
        rows, cursor = [], None
        while True:
            query = {**spec["query"], **({"cursor": cursor} if cursor else {})}
            status, page, _ = self.todoist({**spec, "query": query})
            assert status == 200, page
            rows += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return rows

    # ---- reconcile -----------------------------------------------------------------------
    def reconcile(self) -> dict[str, Any]:
        wanted = self.api.get(f"{SYNC}/state", params={"client_id": self.client_id}).json()["reconcile"]
        status, full, _ = self.todoist(wanted["full_sync"])
        assert status == 200, full
        body = {"client_id": self.client_id, **full, "completed": {"items": self.completed_tasks(wanted["completed"])}}
        resp = self.api.post(f"{SYNC}/reconcile", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def status(self) -> dict[str, Any]:
        resp = self.api.get(f"{SYNC}/status", params={"client_id": self.client_id})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def sync(self) -> None:
        """One scheduled run of the workflow: pull first, so both sides' edits meet in the merge and
        the policy settles conflicts, then push what Steward holds (its own edits, Steward-won fields)."""
        self.pull()
        self.push()
