"""pip-audit over requirements.lock, against PyPI's vulnerability data, with a reviewed allow-list.

Run by scripts/audit (CI runs it after the tests). Exit status: 0 when no known vulnerability is
left unexplained, or when the vulnerability service cannot be reached (then it says so loudly:
nothing was audited; STEWARD_AUDIT_REQUIRED=1 turns that into a failure); 1 for a vulnerability
not in the allow-list, or an allow-list entry that is malformed or past its review date.

Allow-list (security/pip-audit-allowlist.txt), one entry a line, `#` starts a comment:
    <vulnerability id> <package> <review-by YYYY-MM-DD> <why it does not affect Steward>
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
ALLOWLIST = ROOT / "security" / "pip-audit-allowlist.txt"
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
# pip-audit's default service reads https://pypi.org/pypi/<name>/<version>/json; probe one we pin.
PROBE = "https://pypi.org/pypi/{name}/{version}/json"
ENTRY = re.compile(r"^(?P<id>\S+)\s+(?P<package>\S+)\s+(?P<review>\d{4}-\d{2}-\d{2})\s+(?P<reason>\S.*)$")


@dataclass(frozen=True)
class Allowed:
    id: str
    package: str
    review_by: date
    reason: str


def read_allowlist(path: Path = ALLOWLIST) -> tuple[list[Allowed], list[str]]:
    """(entries, problems): a problem is a line that is not an entry, or an entry past its review."""
    entries, problems = [], []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = ENTRY.match(line)
        if match is None:
            problems.append(f"{path.name}:{number}: want '<id> <package> <review-by YYYY-MM-DD> <reason>': {raw}")
            continue
        try:
            review_by = date.fromisoformat(match["review"])
        except ValueError:
            problems.append(f"{path.name}:{number}: {match['review']} is not a date")
            continue
        entry = Allowed(match["id"], match["package"].lower(), review_by, match["reason"])
        if review_by < date.today():
            problems.append(f"{path.name}:{number}: {entry.id} ({entry.package}) was due for review on {review_by}")
        entries.append(entry)
    return entries, problems


def pinned(lock: Path = LOCK) -> list[tuple[str, str]]:
    """(name, version) per pinned line, local version labels dropped (torch 2.13.0+cpu is 2.13.0)."""
    pins = []
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;#+]+)", line.strip())
        if match:
            pins.append((match[1], match[2]))
    return pins


def service_reachable(name: str, version: str) -> str | None:
    """None when the vulnerability data answers, else why not."""
    url = PROBE.format(name=name, version=version)
    try:
        with urlopen(url, timeout=15) as response:  # noqa: S310 (a fixed https URL)
            if "vulnerabilities" not in json.load(response):
                return f"{url} answered without vulnerability data"
    except (URLError, OSError, ValueError) as exc:
        return f"{url}: {getattr(exc, 'code', None) or exc}"
    return None


def audit(pins: list[tuple[str, str]]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write("".join(f"{name}=={version}\n" for name, version in pins))
    try:
        done = subprocess.run(
            [str(PIP_AUDIT), "-r", requirements.name, "--no-deps", "--disable-pip", "--format", "json"]
            + ["--progress-spinner", "off"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        os.unlink(requirements.name)
    if not done.stdout.strip():
        raise SystemExit(f"pip-audit failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def main() -> int:
    allowed, problems = read_allowlist()
    for problem in problems:
        print(f"audit: {problem}")
    pins = pinned()
    name, version = next((p for p in pins if p[0].lower() == "flask"), pins[0])
    unreachable = service_reachable(name, version)
    if unreachable:
        print("audit: SKIPPED, NOTHING WAS AUDITED: the vulnerability service pip-audit uses (PyPI's JSON API)")
        print(f"audit: is not reachable from this machine ({unreachable}).")
        print("audit: run scripts/audit where https://pypi.org/pypi/<name>/<version>/json answers.")
        if os.environ.get("STEWARD_AUDIT_REQUIRED") == "1":
            return 1
        return 1 if problems else 0
    lines, failed = judge(audit(pins), allowed, len(pins))
    for line in lines:
        print(f"audit: {line}")
    return 1 if failed or problems else 0


def judge(report: dict, allowed: list[Allowed], pinned_count: int) -> tuple[list[str], bool]:
    """What to say about a pip-audit JSON report, and whether it fails the audit."""
    by_key = {(a.id, a.package): a for a in allowed}
    lines, used, found, skipped = [], set(), [], []
    for dep in report.get("dependencies", []):
        name = dep["name"].lower()
        if dep.get("skip_reason"):
            skipped.append(f"not audited: {dep['name']}: {dep['skip_reason']}")
        for vuln in dep.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            match = next((by_key[(i, name)] for i in ids if (i, name) in by_key), None)
            if match:
                used.add((match.id, match.package))
                lines.append(f"allowed {name} {dep['version']} {vuln['id']} until {match.review_by}: {match.reason}")
            else:
                fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
                found.append(f"VULNERABLE {name} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
    lines += skipped
    lines += [
        f"allow-list entry {a.id} ({a.package}) matches nothing now; remove it"
        for a in allowed
        if (a.id, a.package) not in used
    ]
    lines += found
    audited = len(report.get("dependencies", [])) - len(skipped)
    lines.append(f"{audited} of {pinned_count} pinned packages audited, {len(found)} unexplained vulnerabilities")
    if skipped and not audited:
        lines.append("SKIPPED, NOTHING WAS AUDITED: every package was skipped (see above)")
        return lines, os.environ.get("STEWARD_AUDIT_REQUIRED") == "1"
    return lines, bool(found)


if __name__ == "__main__":
    sys.exit(main())
