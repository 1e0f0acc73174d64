"""`steward workflows lint`: check workflow JSON against the pinned n8n and Steward's OpenAPI document.

`lint_paths(paths, openapi)` is what the test suite and the CLI call. Paths may be files or
directories; the other workflows in the same directories are loaded too, so cross-workflow rules
(error workflow, unique webhooks) see the whole set even when one file is linted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from steward.workflows.model import Context, Finding, Workflow
from steward.workflows.node_types import NodeType, load_catalog
from steward.workflows.rules import RULES, SHAPE

DEFAULT_DIR = Path("n8n/workflows")


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return files


def _load(path: Path) -> Workflow | Finding:
    try:
        return Workflow(path, json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        return Finding(str(path), "json", f"cannot read the file ({exc.strerror})")
    except ValueError as exc:
        return Finding(str(path), "json", f"not valid JSON ({exc}); re-export the workflow from n8n")


def lint_paths(
    paths: Iterable[str | Path], openapi: dict[str, Any], node_types: tuple[str, dict[str, NodeType]] | None = None
) -> list[Finding]:
    """Every finding for the given workflow files or directories; [] means clean."""
    targets = _expand(paths)
    source, types = node_types or load_catalog()
    ctx = Context(openapi=openapi, node_types=types, node_types_source=source)
    findings: list[Finding] = []
    loaded: dict[Path, Workflow] = {}
    for path in sorted(
        {p.resolve() for p in targets} | {s.resolve() for t in targets for s in t.parent.glob("*.json")}
    ):
        item = _load(path)
        if isinstance(item, Workflow) and not list(SHAPE.check(item, ctx)):
            loaded[path] = item
            ctx.workflows_by_id.setdefault(item.data["id"], item)
    for path in targets:
        item = _load(path)
        if isinstance(item, Finding):
            findings.append(item)
            continue
        shape = list(SHAPE.check(item, ctx))
        findings.extend(shape)
        if not shape:
            for rule in RULES:
                findings.extend(rule.check(item, ctx))
    return findings


def openapi_from_code() -> dict[str, Any]:
    """Build /openapi.json from the route declarations, without a database or a server."""
    from steward.app import create_app
    from steward.core.config import load_settings
    from steward.core.openapi import build_openapi
    from steward.core.runtime import Runtime

    settings = load_settings()
    app = create_app(settings, runtime=Runtime(settings=settings, pool=None, cache=None))  # type: ignore[arg-type]
    return build_openapi(app)


def load_openapi(source: str | None) -> dict[str, Any]:
    """From a URL (a running Steward), a file, or (None) the code itself."""
    if source is None:
        return openapi_from_code()
    if source.startswith(("http://", "https://")):
        import requests

        response = requests.get(source, timeout=10)
        response.raise_for_status()
        return response.json()
    return json.loads(Path(source).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="steward workflows lint", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(DEFAULT_DIR)], help="workflow files or directories")
    parser.add_argument("--openapi", help="URL or file of /openapi.json (default: built from the code)")
    args = parser.parse_args(argv)
    findings = lint_paths(args.paths, load_openapi(args.openapi))
    for finding in findings:
        print(finding)
    count = len(_expand(args.paths))
    print(f"{count} workflow(s), {len(findings)} finding(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
