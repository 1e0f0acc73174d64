"""The workflow linter: the repo's workflows are clean, and every rule fires on a broken sample."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from steward.workflows import contract, push
from steward.workflows.lint import lint_paths, main, openapi_from_code
from steward.workflows.node_types import COMMITTED, from_package, installed_package_dir

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "n8n" / "workflows"
E2E_WORKFLOWS = ROOT / "tests" / "e2e" / "workflows"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return openapi_from_code()


def _load(name: str) -> dict:
    return json.loads((WORKFLOWS / f"{name}.json").read_text())


def _node(wf: dict, name: str) -> dict:
    return next(n for n in wf["nodes"] if n["name"] == name)


def test_repo_workflows_are_clean(openapi):
    findings = lint_paths([WORKFLOWS, E2E_WORKFLOWS], openapi)

    assert [str(f) for f in findings] == []


def test_every_workflow_file_is_named_after_its_id():
    for path in WORKFLOWS.glob("*.json"):
        assert json.loads(path.read_text())["id"] == path.stem


def test_committed_node_types_match_the_installed_n8n():
    package = installed_package_dir()
    if package is None:
        pytest.skip("n8n is not installed (scripts/n8n install)")
    assert json.loads(COMMITTED.read_text())["nodes"] == from_package(package)["nodes"], (
        "regenerate with: scripts/n8n node-types"
    )


Mutation = Callable[[dict, dict], None]  # (event-logger, error-alert) -> None, edits in place


def _set(wf_name: str, node: str | None, **changes) -> Mutation:
    def apply(logger: dict, alert: dict) -> None:
        target = {"event-logger": logger, "error-alert": alert}[wf_name]
        target = _node(target, node) if node else target
        for dotted, value in changes.items():
            *parents, last = dotted.split("__")
            holder = target
            for key in parents:
                holder = holder.setdefault(key, {})
            if value is DELETE:
                holder.pop(last, None)
            else:
                holder[last] = value

    return apply


DELETE = object()
LOG_NODE = "Log event in Steward"
ALERT_NODE = "Log workflow_error"
ALERT_BODY = _node(_load("error-alert"), ALERT_NODE)["parameters"]["jsonBody"]


def _duplicate_webhook(logger: dict, alert: dict) -> None:
    alert["nodes"].append(copy.deepcopy(_node(logger, "Webhook")))
    alert["nodes"][-1]["name"] = "Second webhook"


CASES: list[tuple[str, Mutation]] = [
    ("shape", _set("event-logger", None, id="an-id-of-22-characters")),
    ("shape", _set("event-logger", "Validate", position=DELETE)),
    ("node-type", _set("event-logger", "Validate", type="n8n-nodes-base.codeNode")),
    ("node-type", _set("event-logger", LOG_NODE, typeVersion=4.9)),
    (
        "connections",
        _set("event-logger", None, connections__Validate__main=[[{"node": "Nope", "type": "main", "index": 0}]]),
    ),
    ("webhook-id", _set("event-logger", "Webhook", webhookId=DELETE)),
    ("webhook-id", _duplicate_webhook),
    ("webhook-path", _duplicate_webhook),
    ("webhook-auth", _set("event-logger", "Webhook", parameters__authentication="none")),
    (
        "no-secrets",
        _set(
            "event-logger",
            LOG_NODE,
            parameters__headerParameters__parameters=[
                {"name": "Idempotency-Key", "value": "={{ $json.idempotency_key }}"},
                {"name": "X-API-Key", "value": "plain-text-key"},
            ],
        ),
    ),
    (
        "no-secrets",
        _set(
            "error-alert",
            "Telegram the operator",
            parameters__text="bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9 says hi",
        ),
    ),
    (
        "no-secrets",
        _set(
            "error-alert",
            "Telegram the operator",
            credentials={"telegramApi": {"id": "telegramBot", "accessToken": "x"}},
        ),
    ),
    ("execution-order", _set("event-logger", None, settings__executionOrder=DELETE)),
    ("error-workflow", _set("event-logger", None, settings__errorWorkflow=DELETE)),
    ("error-workflow", _set("event-logger", None, settings__errorWorkflow="no-such-workflow")),
    ("error-workflow", _set("error-alert", None, settings__errorWorkflow="error-alert")),
    ("http-retry", _set("event-logger", LOG_NODE, retryOnFail=False)),
    ("steward-base-url", _set("event-logger", LOG_NODE, parameters__url="http://127.0.0.1:8090/api/v1/events")),
    ("steward-auth", _set("event-logger", LOG_NODE, parameters__authentication="none")),
    ("steward-route", _set("event-logger", LOG_NODE, parameters__url="={{ $env.STEWARD_BASE_URL }}/api/v1/evnts")),
    ("steward-route", _set("event-logger", LOG_NODE, parameters__method="DELETE")),
    (
        "steward-route",
        _set(
            "event-logger",
            LOG_NODE,
            parameters__method="GET",
            parameters__sendBody=False,
            parameters__url="={{ $env.STEWARD_BASE_URL }}/api/v1/events?clientid=x",
        ),
    ),
    ("steward-body", _set("error-alert", ALERT_NODE, parameters__jsonBody=ALERT_BODY.replace("event_type", "type"))),
    (
        "steward-body",
        _set("error-alert", ALERT_NODE, parameters__jsonBody=ALERT_BODY.replace('"n8n:error-alert"', '"has spaces!"')),
    ),
    ("steward-body", _set("error-alert", ALERT_NODE, parameters__jsonBody=ALERT_BODY.replace('",\n', '"\n', 1))),
    ("steward-body", _set("error-alert", ALERT_NODE, parameters__sendBody=False)),
    ("steward-idempotency", _set("error-alert", ALERT_NODE, parameters__sendHeaders=False)),
]


@pytest.mark.parametrize(("rule", "mutate"), CASES, ids=[f"{rule}-{i}" for i, (rule, _) in enumerate(CASES)])
def test_rule_fires_on_a_broken_sample(rule, mutate, openapi, tmp_path):
    logger, alert = _load("event-logger"), _load("error-alert")
    mutate(logger, alert)
    for wf in (logger, alert):
        (tmp_path / f"{wf['id'] if len(wf['id']) <= 21 else 'long'}.json").write_text(json.dumps(wf))

    findings = lint_paths([tmp_path], openapi)

    assert rule in {f.rule for f in findings}, [str(f) for f in findings]
    assert all(f.message for f in findings)


def test_unreadable_json_is_a_finding(openapi, tmp_path):
    (tmp_path / "broken.json").write_text("{ not json")

    [finding] = lint_paths([tmp_path / "broken.json"], openapi)

    assert finding.rule == "json" and "not valid JSON" in finding.message


def test_main_exit_codes(tmp_path, capsys):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(openapi_from_code()))
    assert main([str(WORKFLOWS), "--openapi", str(spec)]) == 0
    broken = _load("event-logger")
    broken["settings"].pop("executionOrder")
    (tmp_path / "wf").mkdir()
    for wf in (broken, _load("error-alert")):
        (tmp_path / "wf" / f"{wf['id']}.json").write_text(json.dumps(wf))
    assert main([str(tmp_path / "wf"), "--openapi", str(spec)]) == 1
    assert "[execution-order]" in capsys.readouterr().out


SPEC = {
    "paths": {
        "/api/v1/planner/plans/{plan_id}": {"get": {}, "delete": {}},
        "/api/v1/events": {"post": {}},
    },
    "components": {
        "schemas": {
            "In": {
                "type": "object",
                "additionalProperties": False,
                "required": ["n"],
                "properties": {
                    "n": {"type": "integer"},
                    "s": {"type": "string"},
                    "u": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                },
            }
        }
    },
}


def test_expression_segments_match_path_parameters():
    op = contract.find_operation(SPEC, "GET", "/api/v1/planner/plans/{{ $json.plan_id }}")
    assert isinstance(op, contract.Operation) and op.path == "/api/v1/planner/plans/{plan_id}"
    assert "has no POST" in contract.find_operation(SPEC, "POST", "/api/v1/planner/plans/x")
    assert "did you mean /api/v1/events" in contract.find_operation(SPEC, "POST", "/api/v1/event")


def test_templates_are_checked_around_their_expressions():
    schema = {"$ref": "#/components/schemas/In"}
    ok = contract.fill_template('{ "n": {{ $json.n }}, "s": "a {{ $json.s }} b", "u": {{ $json.u }} }')
    assert contract.body_problems(SPEC, schema, ok) == []
    assert contract.body_problems(SPEC, schema, contract.fill_template('{ "s": "x" }')) == [
        "body: 'n' is a required property"
    ]
    assert any("extra" in p for p in contract.body_problems(SPEC, schema, {"n": 1, "extra": 2}))
    assert contract.body_problems(SPEC, schema, {"n": "one"}) == ["n: 'one' is not of type 'integer'"]
    with pytest.raises(ValueError):
        contract.fill_template('{ "n": {{ $json.n }')


def test_push_orders_and_remaps_workflow_references():
    caller = {
        "id": "caller",
        "name": "caller",
        "connections": {},
        "settings": {"errorWorkflow": "error-alert", "executionOrder": "v1", "unknownKey": 1},
        "nodes": [
            {
                "type": "n8n-nodes-base.executeWorkflow",
                "parameters": {"workflowId": {"__rl": True, "mode": "id", "value": "sub"}},
            }
        ],
    }
    sub = {
        "id": "sub",
        "name": "sub",
        "connections": {},
        "settings": {},
        "nodes": [{"type": "n8n-nodes-base.executeWorkflowTrigger", "parameters": {}}],
    }
    alert = _load("error-alert")

    assert [w["id"] for w in push._order([caller, sub, alert])] == ["error-alert", "sub", "caller"]
    body = push._remap(caller, {"error-alert": "Ab12", "sub": "Cd34"})
    assert body["settings"] == {"errorWorkflow": "Ab12", "executionOrder": "v1"}
    assert body["nodes"][0]["parameters"]["workflowId"]["value"] == "Cd34"
    assert caller["nodes"][0]["parameters"]["workflowId"]["value"] == "sub"  # the input is untouched
    assert set(body) == {"name", "nodes", "connections", "settings"}
