"""The runbooks cover every situation the issue lists, and every command in them exists.

Commands are read from the fenced code blocks and the inline code of each runbook: `steward`
subcommands and their options are resolved in the real click group, `docker compose` service
names in compose/docker-compose.yml, Steward URLs in the app's routes, n8n public-API URLs and
their query parameters in the installed n8n's OpenAPI document (when `scripts/n8n install` ran),
links between runbooks, and every setting they tell the operator to change.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click
import pytest
import yaml
from werkzeug.exceptions import HTTPException

REPO = Path(__file__).resolve().parents[1]
RUNBOOKS = REPO / "runbooks"
SITUATIONS = {
    "first-time-setup",
    "rollout-and-rollback",
    "secrets-and-key-rotation",
    "backup-and-restore",
    "service-down",
    "readiness-failing",
    "llm-budget-exceeded",
    "todoist-sync-failing",
    "todoist-sync-drift",
    "n8n-execution-errors",
    "qdrant-out-of-sync",
    "disk-filling",
}
SECTIONS = ["Meaning", "Impact", "Diagnosis", "Mitigation"]
N8N_OPENAPI = Path.home() / ".cache/steward/n8n-2.41.1/app/node_modules/n8n/dist/public-api/v1/openapi.yml"
# Shell variables the runbooks ask the operator to hold in their shell, and placeholders.
SHELL_ONLY = {"N8N_API_KEY", "EXECUTION_ID", "NEW_HEX_PASSWORD", "STEWARD_CLIENT_ID", "STEWARD_ADMIN_KEY"}


def _texts() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(RUNBOOKS.glob("*.md")) if p.name != "README.md"}


def _commands() -> list[tuple[str, str]]:
    """(runbook, command line) from code blocks and inline code, continuation lines joined."""
    found = []
    for name, text in _texts().items():
        snippets = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
        snippets += re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
        for snippet in snippets:
            for line in snippet.replace("\\\n", " ").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    found.append((name, line.split(" #")[0].strip()))
    return found


def _segments(line: str, lead: str) -> list[list[str]]:
    """Each `lead ...` invocation in a shell line, as tokens, up to the next shell operator."""
    out = []
    for match in re.finditer(rf"(?:^|[\s$(;&|]){re.escape(lead)}\s", line):
        rest = re.split(r"\s(?:&&|\|\||\||;|>>?|2>&1)\s|\)", line[match.end() :])[0]
        try:
            out.append(shlex.split(rest))
        except ValueError:
            out.append(rest.split())
    return out


def test_there_is_one_runbook_per_situation_in_four_parts():
    texts = _texts()
    assert set(texts) == SITUATIONS, f"missing {SITUATIONS - set(texts)}, unexpected {set(texts) - SITUATIONS}"
    index = (RUNBOOKS / "README.md").read_text()
    for name, text in texts.items():
        assert f"({name}.md)" in index, f"runbooks/README.md does not list {name}.md"
        headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
        assert [h.split()[0] for h in headings] == SECTIONS, f"{name}: sections {headings}"
        parts = re.split(r"^## .+$", text, flags=re.MULTILINE)[1:]
        assert all(len(p.strip()) > 80 for p in parts), f"{name}: a section is empty"
        assert "```" in parts[2] or "`" in parts[2], f"{name}: Diagnosis has no command to paste"


def test_links_between_runbooks_resolve():
    for name, text in [*_texts().items(), ("README", (RUNBOOKS / "README.md").read_text())]:
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", text):
            assert (RUNBOOKS / target).exists(), f"{name} links to {target}, which does not exist"


TAKES_VALUE = {
    "--tail",
    "--since",
    "--entrypoint",
    "-e",
    "--env",
    "-u",
    "--user",
    "-f",
    "--file",
    "-w",
    "--workdir",
    "--profile",
}


def _split_compose(tokens: list[str]) -> tuple[str, list[str], list[str]]:
    """`docker compose SUB [options] SERVICES...` or `... run|exec [options] SERVICE COMMAND...`:
    (sub, services, the command run in the container)."""
    sub, rest = tokens[0], tokens[1:]
    named, skip = [], False
    for i, token in enumerate(rest):
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in TAKES_VALUE
        elif sub in ("run", "exec"):
            return sub, [token], rest[i + 1 :]
        else:
            named.append(token)
    return sub, named, []


def _steward_invocations() -> list[tuple[str, list[str]]]:
    """`steward ...` typed on the host or run inside a container by `docker compose run|exec`."""
    found = []
    for name, line in _commands():
        if line.startswith("steward "):
            found.append((name, shlex.split(line)[1:]))
        for tokens in _segments(line, "docker compose"):
            if tokens and tokens[0] in ("run", "exec"):
                _, _, command = _split_compose(tokens)
                if command[:1] == ["steward"]:
                    found.append((name, command[1:]))
    return found


def test_every_steward_command_exists_with_its_options():
    from steward import cli as steward_cli

    steward_cli._register_command_groups()
    checked = 0
    for name, tokens in _steward_invocations():
        node: click.Command = steward_cli.cli
        words = [t for t in tokens if not t.startswith("-")]
        for word in words:
            if not isinstance(node, click.Group):
                break
            sub = node.get_command(click.Context(node), word)
            assert sub is not None, f"{name}: `steward {' '.join(tokens)}`: no command {word!r}"
            node = sub
        if (node.context_settings or {}).get("ignore_unknown_options"):
            continue  # pass-through commands (workflows lint/push) parse their own arguments
        known = {opt for p in node.params for opt in (*p.opts, *p.secondary_opts)}
        for option in (t.split("=")[0] for t in tokens if t.startswith("--")):
            assert option in known, f"{name}: `steward {' '.join(tokens)}`: {option} is not an option"
        checked += 1
    assert checked >= 15


def test_every_compose_service_named_exists():
    services = set(yaml.safe_load((REPO / "compose/docker-compose.yml").read_text())["services"])
    checked = 0
    for name, line in _commands():
        for tokens in _segments(line, "docker compose"):
            if not tokens:
                continue
            sub, named, _ = _split_compose(tokens)
            if sub not in ("run", "exec", "up", "stop", "restart", "logs", "ps", "build", "pull", "start"):
                continue
            for service in named:
                assert service in services, f"{name}: `docker compose {' '.join(tokens)}`: no service {service!r}"
                checked += 1
    assert checked >= 30


def test_every_steward_url_is_a_route(app):
    adapter = app.url_map.bind("localhost")
    checked = 0
    for name, text in _texts().items():
        for line in text.splitlines():
            method = re.search(r"-X\s+([A-Z]+)", line) or re.search(r"`(GET|POST|PATCH|PUT|DELETE) /", line)
            urls = re.findall(r"localhost:8090(/[^\s\"'`)]*)", line) + re.findall(r"`[A-Z]+ (/[^`\s]+)`", line)
            for url in urls:
                path = urlsplit(url).path
                verb = method.group(1) if method else "GET"
                try:
                    adapter.match(path, method=verb)
                except HTTPException:
                    pytest.fail(f"{name}: {verb} {path} is not a Steward route")
                checked += 1
    assert checked >= 10


def test_every_n8n_api_call_exists_in_the_installed_n8n():
    if not N8N_OPENAPI.exists():
        pytest.skip("n8n is not installed here (scripts/n8n install); its API is checked where it is")
    spec = yaml.safe_load(N8N_OPENAPI.read_text())
    templates = {p: ops for p, ops in spec["paths"].items()}

    def resolve(node):
        return resolve(spec_lookup(node["$ref"])) if "$ref" in node else node

    def spec_lookup(ref: str):
        node = spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    for name, text in _texts().items():
        for url in re.findall(r"localhost:5678(/api/v1/[^\s\"']*)", text):
            parts = urlsplit(url)
            path = parts.path[len("/api/v1") :]
            match = next((t for t in templates if re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", t), path)), None)
            assert match, f"{name}: n8n has no GET /api/v1{path}"
            params = {resolve(p)["name"] for p in templates[match]["get"].get("parameters", [])}
            unknown = set(parse_qs(parts.query)) - params
            assert not unknown, f"{name}: n8n's {match} takes no {unknown}"


def test_every_setting_the_runbooks_mention_is_real():
    from steward.core.config import Settings

    compose_vars = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (REPO / "compose/.env.example").read_text(), flags=re.M))
    known = compose_vars | {f.upper() for f in Settings.model_fields} | SHELL_ONLY
    for name, text in _texts().items():
        for var in set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", text)):
            assert var in known, f"{name} mentions {var}, which neither compose nor Steward reads"
        for var in set(re.findall(r"\$([A-Z][A-Z0-9]*_[A-Z0-9_]+)", text)):
            assert var in known, f"{name} uses ${var}, which is not set anywhere the operator knows"
