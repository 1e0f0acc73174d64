"""`steward workflows push`: put the repo's workflows into an n8n you already run, via its public API.

For operators who bring their own n8n (`scripts/n8n` imports through the CLI instead, keeping ids).
The public API cannot choose a workflow's id (N8N_FACTS 4.3), so each workflow is upserted: by its
repo id if the instance has it, else by name, else created with the id n8n assigns. References to
other workflows (settings.errorWorkflow, Execute Workflow nodes) are rewritten to the ids in the
instance, which is why error workflows and sub-workflows are pushed first. Then each is published.
Credentials are matched by id, then by name and type; create them in n8n first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

# The keys `settings` may hold in POST/PUT /api/v1/workflows (n8n 2.41 public API, workflowSettings).
API_SETTINGS = {
    "saveExecutionProgress",
    "saveManualExecutions",
    "saveDataErrorExecution",
    "saveDataSuccessExecution",
    "executionTimeout",
    "errorWorkflow",
    "timezone",
    "executionOrder",
    "callerPolicy",
    "callerIds",
    "timeSavedMode",
    "timeSavedPerExecution",
    "redactionPolicy",
    "availableInMCP",
    "customTelemetryTags",
    "credentialResolverId",
}
FIRST = ("n8n-nodes-base.errorTrigger", "n8n-nodes-base.executeWorkflowTrigger")


class PushError(Exception):
    """n8n refused a call; the message carries its answer."""


@dataclass
class Pushed:
    repo_id: str
    instance_id: str
    action: str  # created | updated
    published: bool


class N8nApi:
    def __init__(self, url: str, api_key: str, timeout: float = 30) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers.update({"X-N8N-API-KEY": api_key, "Accept": "application/json"})
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        response = self.session.request(method, self.base + path, json=body, params=params, timeout=self.timeout)
        if response.status_code >= 400:
            raise PushError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def workflows(self) -> list[dict[str, Any]]:
        found, cursor = [], None
        while True:
            page = self.call("GET", "/workflows", params={"limit": 250, **({"cursor": cursor} if cursor else {})})
            found.extend(page["data"])
            cursor = page.get("nextCursor")
            if not cursor:
                return found


def _order(workflows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(wf: dict[str, Any]) -> int:
        types = {n.get("type") for n in wf.get("nodes", [])}
        return next((i for i, t in enumerate(FIRST) if t in types), len(FIRST))

    return sorted(workflows, key=rank)


def _remap(wf: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The API body: allowed keys only, with workflow references pointing at instance ids."""
    settings = {k: v for k, v in (wf.get("settings") or {}).items() if k in API_SETTINGS}
    if settings.get("errorWorkflow") in ids:
        settings["errorWorkflow"] = ids[settings["errorWorkflow"]]
    nodes = json.loads(json.dumps(wf["nodes"]))
    for node in nodes:
        if node.get("type") == "n8n-nodes-base.executeWorkflow":
            ref = node.get("parameters", {}).get("workflowId")
            if isinstance(ref, dict) and ref.get("value") in ids:
                ref["value"] = ids[ref["value"]]
            elif isinstance(ref, str) and ref in ids:
                node["parameters"]["workflowId"] = ids[ref]
    return {"name": wf["name"], "nodes": nodes, "connections": wf["connections"], "settings": settings}


def push(api: N8nApi, workflows: Iterable[dict[str, Any]], publish: bool = True) -> list[Pushed]:
    existing = api.workflows()
    by_id = {w["id"]: w for w in existing}
    by_name = {w["name"]: w for w in existing if not w.get("isArchived")}
    ids: dict[str, str] = {}
    results = []
    for wf in _order(list(workflows)):
        match = by_id.get(wf["id"]) or by_name.get(wf["name"])
        body = _remap(wf, ids)
        if match is not None:
            api.call("PUT", f"/workflows/{match['id']}", body)
            instance_id, action = match["id"], "updated"
        else:
            instance_id, action = api.call("POST", "/workflows", body)["id"], "created"
        ids[wf["id"]] = instance_id
        results.append(Pushed(wf["id"], instance_id, action, False))
    if publish:
        for result in results:
            api.call("POST", f"/workflows/{result.instance_id}/publish")
            result.published = True
    return results


def load(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="steward workflows push", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["n8n/workflows"], help="workflow files or directories")
    parser.add_argument("--url", default=os.environ.get("N8N_URL", "http://127.0.0.1:5678"), help="n8n base URL")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("N8N_API_KEY"),
        help="an n8n API key (Settings > n8n API), or set N8N_API_KEY",
    )
    parser.add_argument("--no-publish", action="store_true", help="upsert only; leave publishing to the editor")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key is required (or set N8N_API_KEY); create one in n8n under Settings > n8n API")
    try:
        results = push(N8nApi(args.url, args.api_key), load(args.paths), publish=not args.no_publish)
    except (PushError, requests.RequestException) as exc:
        print(f"push failed: {exc}", file=sys.stderr)
        return 1
    for r in results:
        moved = "" if r.instance_id == r.repo_id else f" as {r.instance_id}"
        print(f"{r.action} {r.repo_id}{moved}{', published' if r.published else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
