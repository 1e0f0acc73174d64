"""Prompt templates: Jinja2 files in `prompts/`, versioned in `prompt_templates`.

`seed` (run by `steward migrate`) adds a new version whenever a file's content changed; the
runtime renders the newest version in the database, so an operator can improve a prompt without
a deploy. Rendering uses StrictUndefined: a missing variable is an error, never an empty string.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from jinja2 import Environment, StrictUndefined, TemplateError, UndefinedError

PROMPTS_DIR = Path(__file__).resolve().parents[3] / "prompts"

_env = Environment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False)


class PromptError(Exception):
    """A prompt is missing or could not be rendered; the message names the template and variable."""


def _hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def seed(url: str, prompts_dir: Path = PROMPTS_DIR) -> int:
    """Insert a new version for each prompt file whose content is not the newest stored version."""
    added = 0
    with psycopg.connect(url) as conn:
        for path in sorted(prompts_dir.glob("*.j2")):
            name, body = path.stem, path.read_text()
            # Compare with the newest *file* version, so an operator's own edit is not overwritten
            # on every migrate; a changed file still becomes the newest version.
            latest_file = conn.execute(
                "SELECT content_hash FROM prompt_templates WHERE name = %s AND source = 'file'"
                " ORDER BY version DESC LIMIT 1",
                (name,),
            ).fetchone()
            if latest_file and latest_file[0] == _hash(body):
                continue
            top = conn.execute("SELECT max(version) FROM prompt_templates WHERE name = %s", (name,)).fetchone()
            conn.execute(
                "INSERT INTO prompt_templates (name, version, body, content_hash) VALUES (%s, %s, %s, %s)",
                (name, (top[0] or 0) + 1, body, _hash(body)),
            )
            added += 1
    return added


def newest(conn: psycopg.Connection, name: str) -> tuple[int, str]:
    row = conn.execute(
        "SELECT version, body FROM prompt_templates WHERE name = %s ORDER BY version DESC LIMIT 1", (name,)
    ).fetchone()
    if row is None:
        raise PromptError(f"prompt template {name!r} is not in the database; run `steward migrate`")
    return (row["version"], row["body"]) if isinstance(row, dict) else (row[0], row[1])


def render(conn: psycopg.Connection, name: str, **variables: object) -> tuple[int, str]:
    """Render the newest version of `name`; returns (version, text)."""
    version, body = newest(conn, name)
    try:
        return version, _env.from_string(body).render(**variables)
    except UndefinedError as exc:
        raise PromptError(f"prompt {name!r} v{version} needs a variable that was not given: {exc.message}") from exc
    except TemplateError as exc:
        raise PromptError(f"prompt {name!r} v{version} is not a valid template: {exc}") from exc
