"""Request and response models of the planner, and `Sop`, the LLM's output contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator, model_validator

from steward.core.api import StrictModel
from steward.core.processing import ProcessingIn
from steward.core.types import ClientId, JsonObject, Limit, Timestamp

StepKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,62}$")]
Minutes = Annotated[int, Field(ge=0, le=60 * 24 * 60, description="Minutes of work")]
PlanStatus = Literal["draft", "active", "completed", "failed", "cancelled"]
StepStatus = Literal["todo", "doing", "done", "blocked"]
Text = Annotated[str, StringConstraints(max_length=4000)]
Ref = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _dedupe(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(keys))


# ---- the LLM's output contract ---------------------------------------------------------------
class SopStep(BaseModel):
    key: StepKey = Field(description="Unique short id: lowercase letters, digits, underscores")
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Text = ""
    estimate_minutes: Minutes
    depends_on: list[StepKey] = Field(default_factory=list, description="Keys of steps that must be done first")
    role: Annotated[str, StringConstraints(max_length=200)] = ""
    deliverable: Annotated[str, StringConstraints(max_length=500)] = ""

    @field_validator("depends_on")
    @classmethod
    def _unique_deps(cls, value: list[str]) -> list[str]:
        return _dedupe(value)


class Sop(BaseModel):
    """A standard operating procedure: steps forming a dependency graph without cycles."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    summary: Text = ""
    steps: list[SopStep] = Field(min_length=1, max_length=40)
    risks: list[Text] = Field(default_factory=list, max_length=30)
    assumptions: list[Text] = Field(default_factory=list, max_length=30)


# ---- requests --------------------------------------------------------------------------------
class ContextRef(BaseModel):
    """A blueprint (or other record) n8n read from Coda; any fields, an optional id and name."""

    model_config = ConfigDict(extra="allow")

    id: Ref | None = None
    name: Ref | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class TemplateStep(BaseModel):
    """A process template's step; only the title is required (keys and a sequence are derived)."""

    model_config = ConfigDict(extra="allow")

    key: StepKey | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Text = ""
    estimate_minutes: Minutes | None = None
    depends_on: list[StepKey] | None = None
    role: Annotated[str, StringConstraints(max_length=200)] = ""
    deliverable: Annotated[str, StringConstraints(max_length=500)] = ""


class ProcessTemplateIn(ContextRef):
    description: Text = ""
    steps: list[TemplateStep] = Field(default_factory=list, max_length=40)


class PlanIn(StrictModel):
    intent: Annotated[str, StringConstraints(min_length=3, max_length=4000)] = Field(
        examples=["Onboard Acme: kickoff, access, first report"]
    )
    client_id: ClientId
    engagement_id: Ref | None = None
    workflow_id: Ref | None = None
    blueprint: ContextRef | None = None
    process_template: ProcessTemplateIn | None = None
    context: JsonObject | None = None
    processing: ProcessingIn | None = None
    reuse: StrictBool = Field(True, description="Adapt a similar stored plan or template before asking the LLM")


class PlanPatch(StrictModel):
    action: Literal["activate", "cancel"]
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None
    step_due: dict[StepKey, Timestamp] | None = Field(
        None, description="Deadlines by step key; a step blocked past its deadline fails the plan"
    )


class StepUpdate(StrictModel):
    status: StepStatus | None = None
    actual_minutes: Minutes | None = Field(None, description="Work actually spent; defaults to the time since start")
    due_at: Timestamp | None = None
    task_id: Ref | None = Field(None, description="The task this step became (Todoist, Coda...)")
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _something(self) -> StepUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of status, actual_minutes, due_at, task_id, note")
        return self


class PlanQuery(StrictModel):
    client_id: ClientId
    status: list[PlanStatus] | None = Field(None, description="Comma-separated statuses")
    limit: Limit = 50
    cursor: str | None = Field(None, max_length=400, description="next_cursor from the previous page")


# ---- responses -------------------------------------------------------------------------------
class StepOut(BaseModel):
    key: str
    title: str
    description: str
    estimate_minutes: int
    depends_on: list[str]
    role: str
    deliverable: str
    status: StepStatus
    actual_minutes: int | None
    due_at: datetime | None
    task_id: str | None
    note: str | None
    started_at: datetime | None
    finished_at: datetime | None


class Progress(BaseModel):
    done: int
    total: int
    percent: float
    estimate_minutes: int
    actual_minutes: int


class ReuseOut(BaseModel):
    kind: Literal["plan", "process_template"]
    id: str | None
    similarity: float


class PlanOut(BaseModel):
    id: UUID
    client_id: str
    intent: str
    title: str
    summary: str
    status: PlanStatus
    source: str = Field(description="llm, reused_plan or process_template")
    mode: str
    engagement_id: str | None
    workflow_id: str | None
    blueprint_id: str | None
    process_template_id: str | None
    reused_from: ReuseOut | None
    llm_model: str | None
    prompt_version: int | None
    steps: list[StepOut]
    risks: list[str]
    assumptions: list[str]
    progress: Progress
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    finished_at: datetime | None


class GenerationOut(BaseModel):
    """How the plan was made: reused (no LLM call) or generated, and what the generation cost."""

    generated: bool
    reused_from: ReuseOut | None
    best_similarity: float | None
    llm_calls: int
    cached: bool
    repaired: bool
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    warnings: list[str] = Field(description="The critic's notes (default mode)")


class PlanCreated(PlanOut):
    generation: GenerationOut


class PlanPage(BaseModel):
    items: list[PlanOut]
    next_cursor: str | None
