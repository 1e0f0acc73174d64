"""Which node types and typeVersions the pinned `n8n-nodes-base` ships.

The linter reads them from an installed n8n when there is one (`scripts/n8n install`), else from
`n8n_node_types.json`, committed next to this module so linting needs no Node. Regenerate that file
after changing the pinned n8n: `python -m steward.workflows.node_types` (or `scripts/n8n node-types`).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "n8n-nodes-base"
COMMITTED = Path(__file__).with_name("n8n_node_types.json")


@dataclass(frozen=True)
class NodeType:
    versions: tuple[float, ...]
    webhook: bool  # its description declares webhooks, so n8n registers URLs for it
    trigger: bool


def installed_package_dir() -> Path | None:
    """`n8n-nodes-base` inside the cache `scripts/n8n install` fills, if it is there."""
    cache = Path(os.environ.get("STEWARD_CACHE_DIR") or Path.home() / ".cache" / "steward")
    for candidate in sorted(cache.glob("n8n-*/app/node_modules/" + PACKAGE), reverse=True):
        if (candidate / "dist" / "types" / "nodes.json").is_file():
            return candidate
    return None


def from_package(package_dir: Path) -> dict:
    """The committed-file form, built from the package's own `dist/types/nodes.json`."""
    descriptions = json.loads((package_dir / "dist" / "types" / "nodes.json").read_text())
    version = json.loads((package_dir / "package.json").read_text())["version"]
    nodes: dict[str, dict] = {}
    for desc in descriptions:
        entry = nodes.setdefault(f"{PACKAGE}.{desc['name']}", {"versions": [], "webhook": False, "trigger": False})
        raw = desc.get("version", 1)
        entry["versions"] = sorted(set(entry["versions"]) | set(raw if isinstance(raw, list) else [raw]))
        entry["webhook"] = entry["webhook"] or bool(desc.get("webhooks"))
        entry["trigger"] = entry["trigger"] or "trigger" in desc.get("group", [])
    return {"package": PACKAGE, "version": version, "nodes": dict(sorted(nodes.items()))}


@functools.lru_cache(maxsize=1)
def load_catalog() -> tuple[str, dict[str, NodeType]]:
    """(source description, type name -> NodeType), preferring the installed package (read once)."""
    package_dir = installed_package_dir()
    if package_dir is not None:
        data, source = from_package(package_dir), str(package_dir)
    else:
        data, source = json.loads(COMMITTED.read_text()), COMMITTED.name
    types = {
        name: NodeType(tuple(float(v) for v in entry["versions"]), entry["webhook"], entry["trigger"])
        for name, entry in data["nodes"].items()
    }
    return f"{PACKAGE} {data['version']} ({source})", types


def main(argv: list[str] | None = None) -> int:
    """Rewrite the committed list from the installed package (or the directory given)."""
    args = sys.argv[1:] if argv is None else argv
    package_dir = Path(args[0]) if args else installed_package_dir()
    if package_dir is None:
        print("no installed n8n found; run `scripts/n8n install` or pass the n8n-nodes-base directory", file=sys.stderr)
        return 1
    data = from_package(package_dir)
    rows = ",\n".join(f"  {json.dumps(name)}: {json.dumps(entry)}" for name, entry in data["nodes"].items())
    head = json.dumps({"package": data["package"], "version": data["version"]})[:-1]
    COMMITTED.write_text(f'{head}, "nodes": {{\n{rows}\n}}}}\n')  # one line per type: reviewable diffs
    print(f"wrote {len(data['nodes'])} node types of {PACKAGE} {data['version']} to {COMMITTED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
