"""Output contracts: every call names a pydantic model, and the answer must validate against it.

The schema goes to the provider twice: as the `response_format` (JSON schema where the provider
supports it, JSON mode otherwise) and in a system message, because several local servers ignore
`response_format`. Parsing tolerates a Markdown code fence around the JSON and nothing else.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
Format = Literal["json_schema", "json_object"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def schema_of(output: type[BaseModel]) -> dict[str, Any]:
    return output.model_json_schema()


def response_format(output: type[BaseModel], kind: Format) -> dict[str, Any]:
    if kind == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": output.__name__, "schema": schema_of(output), "strict": False},
    }


def contract_message(output: type[BaseModel]) -> dict[str, str]:
    schema = json.dumps(schema_of(output), separators=(",", ":"))
    return {
        "role": "system",
        "content": "Answer with one JSON object only, no prose and no Markdown, that validates against this "
        f"JSON schema:\n{schema}",
    }


def parse(raw: str, output: type[M]) -> tuple[M | None, list[str]]:
    """(value, []) when `raw` satisfies the contract, else (None, problems a model can act on)."""
    fenced = _FENCE.match(raw or "")
    text = fenced.group(1) if fenced else (raw or "").strip()
    if not text:
        return None, ["the answer was empty; send the JSON object"]
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, [f"the answer is not valid JSON ({exc}); send one JSON object only"]
    if not isinstance(data, dict):
        return None, [f"the answer is a JSON {type(data).__name__}, not an object"]
    try:
        return output.model_validate(data), []
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()]


def repair_messages(messages: list[dict[str, str]], raw: str, problems: list[str]) -> list[dict[str, str]]:
    """The conversation plus the rejected answer and what was wrong with it, asking for a fix."""
    listed = "\n".join(f"- {p}" for p in problems[:20])
    return [
        *messages,
        {"role": "assistant", "content": raw},
        {
            "role": "user",
            "content": f"That answer was rejected:\n{listed}\nSend the corrected JSON object only, keeping "
            "everything that was right.",
        },
    ]
