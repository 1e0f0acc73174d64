"""POST /plan: recall, reuse before generate, validate, store as a draft.

1. recall the client's most similar stored plans and preferences (recall.py)
2. reuse: the best stored plan or the given process template at or above
   PLANNER_REUSE_THRESHOLD is adapted without an LLM call (adapt.py)
3. else generate with the LLM (generate.py); with no LLM, 503 llm_not_configured
4. check the SOP is a DAG (a template's faults are the caller's: 422), store it, log plan_created
"""

from __future__ import annotations

from typing import Any

import psycopg

from steward.core.errors import ApiError
from steward.core.llm import LLMNotConfigured, llm
from steward.core.processing import current_profile
from steward.core.runtime import runtime
from steward.planner import adapt, critic, dag, recall, store, tracking
from steward.planner.generate import Generated, generate
from steward.planner.models import GenerationOut, PlanCreated, PlanIn, ReuseOut, Sop
from steward.planner.present import plan_out


def _template_text(body: PlanIn) -> str | None:
    template = body.process_template
    if template is None or not template.steps:
        return None
    return " ".join(p for p in (template.name, template.description) if p) or " ".join(s.title for s in template.steps)


def _reuse(
    body: PlanIn,
    threshold: float,
    best: float | None,
    best_plan: recall.Similar | None,
    loaded: dict[str, dict[str, Any]],
    steps: dict[str, list[dict[str, Any]]],
    template_score: float | None,
) -> tuple[Sop, ReuseOut] | None:
    """The adapted SOP of the best candidate at or above the threshold (the template wins a tie)."""
    if best is None or best < threshold:
        return None
    template = body.process_template
    if template is not None and template_score == best:
        return adapt.from_template(body.intent, template, best), ReuseOut(
            kind="process_template", id=template.id, similarity=best
        )
    if best_plan is None:
        return None
    source = loaded[best_plan.plan_id]
    return adapt.from_plan(body.intent, source, steps[best_plan.plan_id], best), ReuseOut(
        kind="plan", id=best_plan.plan_id, similarity=best
    )


def create(conn: psycopg.Connection, body: PlanIn) -> PlanCreated:
    profile = current_profile()
    threshold = runtime().settings.planner_reuse_threshold
    similar = recall.similar_plans(conn, body.client_id, body.intent, max(profile.retrieval_budget, 1))
    loaded = {str(p["id"]): p for p in (store.get_plan(conn, s.plan_id) for s in similar) if p}
    steps = store.steps_of(conn, list(loaded))
    template_text = _template_text(body)
    template_score = recall.similarity(body.intent, template_text) if template_text else None

    best_plan = similar[0] if similar else None
    best = max([s for s in (best_plan.score if best_plan else None, template_score) if s is not None], default=None)
    made: Generated | None = None
    chosen = _reuse(body, threshold, best, best_plan, loaded, steps, template_score) if body.reuse else None
    sop, reused = chosen if chosen else (None, None)
    if sop is None:
        if not llm().configured:
            shown = f"{best:.2f}" if best is not None else "none"
            why = (
                "reuse=false was asked"
                if not body.reuse
                else f"no stored plan or process template is similar enough to reuse (best similarity {shown}, "
                f"PLANNER_REUSE_THRESHOLD={threshold})"
            )
            raise LLMNotConfigured(why)
        context = [
            {
                "title": loaded[s.plan_id]["title"],
                "similarity": s.score,
                "steps": [st["title"] for st in steps[s.plan_id]],
            }
            for s in similar
            if s.plan_id in loaded
        ]
        prefs = recall.preferences(conn, body.client_id, body.intent, profile.retrieval_budget, body.context)
        made = generate(conn, body, prefs, context)
        sop = made.sop

    from_template = reused is not None and reused.kind == "process_template"
    problems = dag.problems(sop.steps, prefix="process_template.steps" if from_template else "steps")
    if problems:
        raise ApiError(
            f"the {'process template' if from_template else 'SOP'} is not a valid dependency graph: "
            f"{problems[0].text()}",
            status=422,
            code="invalid_sop",
            details=[{"field": p.field, "problem": p.problem} for p in problems],
        )
    plan = _store(conn, body, sop, reused, made, profile.mode)
    tracking.created(conn, plan)
    out = plan_out(plan, store.steps_of(conn, [plan["id"]])[str(plan["id"])])
    return PlanCreated(
        **out.model_dump(),
        generation=GenerationOut(
            generated=made is not None,
            reused_from=reused,
            best_similarity=best,
            llm_calls=made.calls if made else 0,
            cached=bool(made and made.cached),
            repaired=bool(made and made.repaired),
            prompt_tokens=made.prompt_tokens if made else 0,
            completion_tokens=made.completion_tokens if made else 0,
            cost_usd=made.cost_usd if made else 0.0,
            warnings=critic.review(sop) if profile.critic else [],
        ),
    )


def _store(
    conn: psycopg.Connection, body: PlanIn, sop: Sop, reused: ReuseOut | None, made: Generated | None, mode: str
) -> dict[str, Any]:
    embedded = recall.embed(body.intent)
    inputs = {
        "blueprint": body.blueprint.model_dump(exclude_none=True) if body.blueprint else None,
        "process_template": body.process_template.model_dump(exclude_none=True) if body.process_template else None,
        "context": body.context,
    }
    return store.insert_plan(
        conn,
        sop,
        client_id=body.client_id,
        intent=body.intent,
        mode=mode,
        source="llm" if made else ("reused_plan" if reused and reused.kind == "plan" else "process_template"),
        engagement_id=body.engagement_id,
        workflow_id=body.workflow_id,
        blueprint_id=body.blueprint.id if body.blueprint else None,
        process_template_id=body.process_template.id if body.process_template else None,
        reused_from_plan_id=reused.id if reused and reused.kind == "plan" else None,
        reuse_similarity=reused.similarity if reused else None,
        llm_model=made.model if made else None,
        prompt_version=made.prompt_version if made else None,
        inputs={k: v for k, v in inputs.items() if v is not None},
        intent_embedding=embedded[0] if embedded else None,
        intent_embedding_model=embedded[1] if embedded else None,
    )
