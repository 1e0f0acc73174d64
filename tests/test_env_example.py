"""`.env.example` documents every setting Steward reads, with its default."""

import re
from pathlib import Path

from steward.core.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_every_setting_is_documented():
    text = ENV_EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"add these to .env.example: {sorted(missing)}"


def test_documented_defaults_match_the_code():
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]+)=(.*)$", line)
        if not match:
            continue
        name, value = match.groups()
        field = Settings.model_fields.get(name.lower())
        assert field is not None, f"{name} in .env.example is not a setting"
        default = field.default
        shown = str(default).lower() if isinstance(default, bool) else ("" if default is None else str(default))
        assert value == shown, f"{name}: .env.example says {value!r}, the code defaults to {shown!r}"
