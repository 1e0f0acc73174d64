"""Generate an SOP with the LLM: render `sop_generator`, ask for a `Sop`, check it is a DAG.

A schema fault is repaired inside the LLM layer (then 502). A graph fault (unknown dependency,
cycle, duplicate key) gets one repair round here with the problems named; a second faulty answer
is a 422 `invalid_sop` naming them, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from steward.core import prompts
from steward.core.errors import ApiError
from steward.core.llm import Completion, llm, repair_messages
from steward.planner import dag
from steward.planner.models import PlanIn, Sop

PROMPT = "sop_generator"


@dataclass
class Generated:
    sop: Sop
    model: str
    prompt_version: int
    calls: int = 0
    cached: bool = True
    repaired: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, answer: Completion[Sop]) -> None:
        self.calls += answer.calls
        self.cached = self.cached and answer.cached
        self.repaired = self.repaired or answer.repaired
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        self.cost_usd = round(self.cost_usd + answer.cost_usd, 6)


def render(
    conn: psycopg.Connection, body: PlanIn, preferences: list[str], similar: list[dict[str, Any]]
) -> tuple[int, str]:
    return prompts.render(
        conn,
        PROMPT,
        intent=body.intent,
        blueprint=body.blueprint.model_dump(exclude_none=True) if body.blueprint else None,
        workflow_id=body.workflow_id,
        engagement_id=body.engagement_id,
        process_template=body.process_template.model_dump(exclude_none=True) if body.process_template else None,
        context={k: v for k, v in (body.context or {}).items() if k != "preferences"} or None,
        preferences=preferences,
        similar_plans=similar,
    )


def generate(
    conn: psycopg.Connection, body: PlanIn, preferences: list[str], similar: list[dict[str, Any]]
) -> Generated:
    version, text = render(conn, body, preferences, similar)
    client = llm()
    answer = client.complete(
        [{"role": "user", "content": text}], Sop, purpose=PROMPT, prompt_version=version, client_id=body.client_id
    )
    made = Generated(sop=answer.value, model=answer.model, prompt_version=version)
    made.add(answer)
    problems = dag.problems(answer.value.steps)
    if problems:
        again = client.complete(
            repair_messages(answer.messages, answer.raw, [p.text() for p in problems]),
            Sop,
            purpose=f"{PROMPT}.repair",
            prompt_version=version,
            client_id=body.client_id,
        )
        made.add(again)
        made.repaired = True
        problems = dag.problems(again.value.steps)
        if problems:
            raise ApiError(
                f"the generated SOP is not a valid dependency graph after one repair: {problems[0].text()}",
                status=422,
                code="invalid_sop",
                details=[{"field": p.field, "problem": p.problem} for p in problems],
            )
        made.sop = again.value
    return made
