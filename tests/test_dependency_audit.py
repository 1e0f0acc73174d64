"""requirements.lock pins what pyproject.toml asks for, and scripts/audit judges pip-audit's report
against the reviewed allow-list (the network part runs in CI, in scripts/audit, not here)."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from datetime import date, timedelta
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("steward_audit", ROOT / "scripts" / "lib" / "audit.py")
assert _spec and _spec.loader
audit = importlib.util.module_from_spec(_spec)
sys.modules["steward_audit"] = audit  # dataclasses look their module up while the class is built
_spec.loader.exec_module(audit)


def _locked() -> dict[str, Version]:
    found = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)$", line.strip())
        if match:
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


def test_the_lock_pins_every_dependency_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    locked = _locked()
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in locked:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{requirement.name}: locked {locked[name]} is outside {requirement.specifier}")
    assert not problems, "regenerate it with scripts/lock:\n" + "\n".join(problems)


def test_the_lock_is_only_exact_pins():
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.match(r"^[A-Za-z0-9._-]+==\S+$", line), f"not an exact pin: {line}"


def test_the_allowlist_is_well_formed_and_reviewed():
    _, problems = audit.read_allowlist()
    assert not problems


def test_an_allowlist_entry_needs_every_part_and_expires(tmp_path):
    past, future = date.today() - timedelta(days=1), date.today() + timedelta(days=30)
    path = tmp_path / "allow.txt"
    path.write_text(
        "# comment\n"
        f"GHSA-aaaa-bbbb-cccc torch {future} only torch.load of untrusted files; we load the bundled model\n"
        f"PYSEC-2020-1 jinja2 {past} sandbox escape; we render our own templates only\n"
        "CVE-2024-0001 flask no-date-or-reason\n"
    )
    entries, problems = audit.read_allowlist(path)
    assert [(e.id, e.package) for e in entries] == [("GHSA-aaaa-bbbb-cccc", "torch"), ("PYSEC-2020-1", "jinja2")]
    assert len(problems) == 2
    assert "due for review" in problems[0] and "want '<id>" in problems[1]


def test_a_report_fails_only_on_what_the_allowlist_does_not_explain():
    allowed = [audit.Allowed("GHSA-aaaa-bbbb-cccc", "torch", date.today(), "not reachable")]
    report = {
        "dependencies": [
            {"name": "torch", "version": "2.13.0", "vulns": [{"id": "PYSEC-1", "aliases": ["GHSA-aaaa-bbbb-cccc"]}]},
            {"name": "flask", "version": "3.1.3", "vulns": []},
        ]
    }
    lines, failed = audit.judge(report, allowed, 2)
    assert not failed and any(line.startswith("allowed torch") for line in lines)

    report["dependencies"][1]["vulns"] = [{"id": "GHSA-zzzz", "fix_versions": ["3.1.4"]}]
    lines, failed = audit.judge(report, allowed, 2)
    assert failed and "VULNERABLE flask 3.1.3: GHSA-zzzz (fixed in: 3.1.4)" in lines


def test_a_report_where_nothing_could_be_audited_says_so():
    report = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI"}]}
    lines, failed = audit.judge(report, [], 1)
    assert not failed and "NOTHING WAS AUDITED" in lines[-1]


def test_local_version_labels_are_audited_as_their_release(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\ntorch==2.13.0+cpu\nflask==3.1.3\n")
    assert audit.pinned(lock) == [("torch", "2.13.0"), ("flask", "3.1.3")]
