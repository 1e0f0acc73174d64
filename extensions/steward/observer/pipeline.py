"""The reflection as a resumable pipeline: gather -> aggregate -> narrate -> store.

    gather     Steward's records for the period (SQL), checkpointed as plain JSON
    aggregate  every figure, in Python, from the request's inputs and the gathered records
    narrate    prose + three suggestions (the LLM, paid once: its answer is the checkpoint)
    store      the memory (kind reflection, collection daily_threads), the reflection row and an
               event, in the step's own transaction, so they commit with the checkpoint or not at all

The steps need the Flask app (settings, runtime, LLM client); the route runs them in its request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from steward.core.pipelines import Pipeline, Step, StepContext
from steward.events import store as events
from steward.memory import service as memory
from steward.observer import gather, narrate, render, stats, store, weekly
from steward.observer.periods import Period

SOURCE = gather.SOURCE


def _period(ctx: StepContext) -> Period:
    return Period.from_dict(ctx.input["period"])


def gather_step(ctx: StepContext) -> dict[str, Any]:
    return gather.gather(ctx.conn, ctx.input["client_id"], _period(ctx))


def aggregate_step(ctx: StepContext) -> dict[str, Any]:
    period, inputs, gathered = _period(ctx), ctx.input["request"], ctx.outputs["gather"]
    figures = (
        weekly.weekly(inputs, gathered, period) if period.mode == "weekly" else stats.daily(inputs, gathered, period)
    )
    return figures.model_dump(mode="json")


def narrate_step(ctx: StepContext) -> dict[str, Any]:
    return narrate.narrate(
        ctx.conn, ctx.outputs["aggregate"], ctx.outputs["gather"], ctx.input["client_id"], ctx.input["processing_mode"]
    )


def _remember(ctx: StepContext, period: Period, figures: dict[str, Any], story: dict[str, Any]) -> Any:
    client_id = ctx.input["client_id"]
    _, end = period.bounds()
    title = render.title(figures)
    return memory.remember(
        ctx.conn,
        current_app.extensions["steward"],
        client_id=client_id,
        kind="reflection",
        text=render.memory_text(figures, story["narrative"], story["suggestions"]),
        metadata={
            "title": title,
            "mode": period.mode,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "run_id": str(ctx.run_id),
        },
        provenance={"source": SOURCE, "pipeline": REFLECTION.name, "run_id": str(ctx.run_id)},
        occurred_at=min(dt.datetime.now(dt.UTC), end - dt.timedelta(seconds=1)),
        supersedes=store.current_memory(ctx.conn, client_id, period),
    )


def store_step(ctx: StepContext) -> dict[str, Any]:
    run = ctx.conn.execute("SELECT superseded_at FROM pipeline_runs WHERE id = %s FOR SHARE", (ctx.run_id,)).fetchone()
    if run["superseded_at"] is not None:  # a forced re-run replaced this one: leave its result alone
        return {"superseded": True, "reflection_id": None, "memory_id": None}
    period, figures, story = _period(ctx), ctx.outputs["aggregate"], ctx.outputs["narrate"]
    client_id = ctx.input["client_id"]
    remembered = _remember(ctx, period, figures, story)
    row = store.upsert(
        ctx.conn,
        client_id,
        period,
        ctx.run_id,
        figures,
        story,
        markdown=render.markdown(figures, story["narrative"], story["suggestions"]),
        coda_row=render.coda_row(client_id, figures, story["narrative"], story["suggestions"]),
        memory_id=remembered.id,
    )
    events.append(
        ctx.conn,
        "reflection_created",
        SOURCE,
        client_id,
        {
            "reflection_id": str(row["id"]),
            "run_id": str(ctx.run_id),
            "mode": period.mode,
            "period_start": period.start.isoformat(),
            "narrated_by": story["narration"]["by"],
        },
    )
    return {
        "superseded": False,
        "reflection_id": str(row["id"]),
        "memory_id": str(remembered.id),
        "memory_duplicate": remembered.duplicate,
    }


REFLECTION = Pipeline(
    "observer.reflection",
    [
        Step("gather", gather_step),
        Step("aggregate", aggregate_step),
        Step("narrate", narrate_step),
        Step("store", store_step),
    ],
    lease_seconds=60.0,
)
