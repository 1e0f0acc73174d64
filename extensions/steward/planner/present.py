"""Rows -> response models."""

from __future__ import annotations

from typing import Any

from steward.planner.models import PlanOut, Progress, ReuseOut, StepOut


def progress(steps: list[dict[str, Any]]) -> Progress:
    done = sum(1 for s in steps if s["status"] == "done")
    total = len(steps)
    return Progress(
        done=done,
        total=total,
        percent=round(100 * done / total, 1) if total else 0.0,
        estimate_minutes=sum(s["estimate_minutes"] for s in steps),
        actual_minutes=sum(s["actual_minutes"] or 0 for s in steps),
    )


def reuse_of(plan: dict[str, Any]) -> ReuseOut | None:
    if plan["source"] == "reused_plan":
        return ReuseOut(
            kind="plan",
            id=str(plan["reused_from_plan_id"]) if plan["reused_from_plan_id"] else None,
            similarity=plan["reuse_similarity"] or 0.0,
        )
    if plan["source"] == "process_template":
        return ReuseOut(
            kind="process_template", id=plan["process_template_id"], similarity=plan["reuse_similarity"] or 0.0
        )
    return None


def plan_out(plan: dict[str, Any], steps: list[dict[str, Any]]) -> PlanOut:
    sop = plan["sop"] or {}
    return PlanOut(
        **{
            k: plan[k]
            for k in (
                "id",
                "client_id",
                "intent",
                "title",
                "summary",
                "status",
                "source",
                "mode",
                "engagement_id",
                "workflow_id",
                "blueprint_id",
                "process_template_id",
                "llm_model",
                "prompt_version",
                "created_at",
                "updated_at",
                "activated_at",
                "finished_at",
            )
        },
        reused_from=reuse_of(plan),
        steps=[StepOut.model_validate(s) for s in steps],
        risks=list(sop.get("risks") or []),
        assumptions=list(sop.get("assumptions") or []),
        progress=progress(steps),
    )
