"""Request and response models of /api/v1/sync/todoist.

Bodies that carry a Todoist response (`/pull`, `/reconcile`, the `response` of an ack) accept the
response as n8n received it: the resources Steward reads are validated, any other keys Todoist
adds (sections, notes, day_orders...) are ignored rather than refused, so a Todoist release that
adds a resource does not break the workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from steward.core.api import StrictModel
from steward.core.types import ClientId

TodoistId = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), Field(min_length=1, max_length=100)
]
OperationName = Literal["create", "update", "complete", "reopen", "delete"]


class TodoistObject(BaseModel):
    """A task, project or label as Todoist sends it; only `id` is required here."""

    model_config = ConfigDict(extra="allow")

    id: TodoistId


class TodoistResponse(BaseModel):
    """Keys Steward does not read are ignored (see the module docstring)."""

    model_config = ConfigDict(extra="ignore")


class ClientQuery(StrictModel):
    client_id: ClientId


class OutboxQuery(StrictModel):
    client_id: ClientId
    limit: int = Field(50, ge=1, le=100, description="Operations to lease (Todoist takes 100 commands a request)")
    lease_seconds: int = Field(
        120, ge=10, le=3600, description="How long the lease holds before another worker may retry"
    )
    worker: str = Field("n8n", min_length=1, max_length=100, description="Who holds the lease, for diagnosis")


class HttpRequestSpec(BaseModel):
    method: Literal["GET", "POST"]
    path: str = Field(description="Appended to https://api.todoist.com")
    query: dict[str, str] | None = Field(default=None, description="Query parameters to add to the path")
    content_type: str = Field(
        default="application/json",
        description="The Sync endpoint takes application/x-www-form-urlencoded, as Todoist documents it",
    )
    body: dict[str, Any] | None = Field(default=None, description="The body's fields, decoded (for reading)")
    encoded: str | None = Field(
        default=None,
        description="The body exactly as sent, encoded as content_type says (lists and objects as JSON)",
    )


class Command(BaseModel):
    type: str
    uuid: str
    temp_id: str | None = None
    args: dict[str, Any]


class OutboxOperation(BaseModel):
    operation_id: UUID
    item_id: UUID
    operation: OperationName
    kind: Literal["task", "project"]
    attempt: int
    command_uuid: UUID
    temp_id: UUID
    lease_expires_at: datetime
    commands: list[Command]
    request: HttpRequestSpec = Field(description="This operation alone, as one Sync request")


class OutboxBatch(BaseModel):
    operation_ids: list[UUID]
    request: HttpRequestSpec = Field(description="Every leased operation in one Sync request, in order")


class OutboxOut(BaseModel):
    client_id: str
    operations: list[OutboxOperation]
    batch: OutboxBatch | None = Field(description="Send this, then POST /ack/batch; null when nothing is due")
    remaining: int = Field(description="Operations still due after this lease (loop while > 0)")


class AckIn(StrictModel):
    operation_id: UUID
    status: Literal["ok", "error"]
    todoist_id: TodoistId | None = None
    response: dict[str, Any] | None = Field(None, description="Todoist's answer (sync_status, temp_id_mapping)")
    http_status: int | None = Field(None, ge=0, le=599, description="0 when no answer arrived")
    error: str | None = Field(None, max_length=2000)
    retry_after: float | None = Field(None, ge=0, le=86400, description="Todoist's Retry-After, seconds")


class AckBatchIn(StrictModel):
    operation_ids: list[UUID] = Field(min_length=1, max_length=100)
    http_status: int | None = Field(None, ge=0, le=599)
    response: dict[str, Any] | None = None
    error: str | None = Field(None, max_length=2000)
    retry_after: float | None = Field(None, ge=0, le=86400)


class AckOut(BaseModel):
    operation_id: UUID
    item_id: UUID
    status: Literal["pending", "leased", "done", "failed", "dead"]
    outcome: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    duplicate: bool = Field(description="True when this operation had already been settled")
    todoist_id: str | None


class AckBatchOut(BaseModel):
    results: list[AckOut]


class ReconcileRequests(BaseModel):
    """What the daily reconciliation reads from Todoist before POST /reconcile."""

    full_sync: HttpRequestSpec = Field(
        description="Every active task (sync_token '*'): its answer is /reconcile's body"
    )
    completed: HttpRequestSpec = Field(
        description="Tasks completed in the last days, page by page (add `cursor` = the previous page's "
        "next_cursor until it is null); every page's `items` go in /reconcile's `completed`"
    )


class StateOut(BaseModel):
    client_id: str
    sync_token: str
    full_sync: bool = Field(description="True when the next pull is a full sync (token '*')")
    request: HttpRequestSpec = Field(description="The Sync request to send; post its answer to /pull")
    reconcile: ReconcileRequests
    timezone: str | None
    inbox_project_id: str | None


class PullIn(TodoistResponse):
    client_id: ClientId
    since_token: str | None = Field(None, max_length=500, description="The token the request was sent with")
    sync_token: str | None = Field(None, min_length=1, max_length=500)
    full_sync: bool = False
    items: list[TodoistObject] = Field(default_factory=list)
    projects: list[TodoistObject] = Field(default_factory=list)
    labels: list[TodoistObject] = Field(default_factory=list)
    user: dict[str, Any] | None = None
    completed: list[TodoistObject] | dict[str, Any] | None = Field(
        None, description="tasks/completed/by_completion_date: its `items` list, or the whole answer"
    )
    http_status: int | None = Field(None, ge=0, le=599, description="Set when Todoist refused the request")
    error: dict[str, Any] | str | None = None
    error_tag: str | None = None

    @model_validator(mode="after")
    def _token_when_ok(self) -> PullIn:
        failed = (self.http_status or 200) >= 400 or self.error is not None or self.error_tag is not None
        if not failed and self.sync_token is None:
            raise ValueError("sync_token is required in a successful Sync response")
        return self

    def completed_tasks(self) -> list[dict[str, Any]]:
        return completed_tasks(self.completed)


class FollowUp(BaseModel):
    action: Literal["pull", "push", "reconcile", "wait"]
    reason: str
    request: HttpRequestSpec | None = None


class PullOut(BaseModel):
    client_id: str
    sync_token: str
    full_sync: bool
    reset: bool = Field(description="The token was refused and reset to '*': pull again (a full sync)")
    applied: dict[str, int]
    problems: list[dict[str, str]] = Field(default_factory=list, description="Objects not applied, and why")
    follow_up: list[FollowUp]


class ReconcileIn(TodoistResponse):
    client_id: ClientId
    items: list[TodoistObject] = Field(description="Every active task: a full sync (sync_token '*')")
    projects: list[TodoistObject] = Field(default_factory=list)
    user: dict[str, Any] | None = None
    completed: list[TodoistObject] | dict[str, Any] | None = None
    sync_token: str | None = None
    full_sync: bool | None = None

    def completed_tasks(self) -> list[dict[str, Any]]:
        return completed_tasks(self.completed)


def completed_tasks(completed: list[TodoistObject] | dict[str, Any] | None) -> list[dict[str, Any]]:
    """Completed tasks given as a list, or as the tasks/completed answer ({items, next_cursor})."""
    if completed is None:
        return []
    rows = completed.get("items", []) if isinstance(completed, dict) else completed
    return [TodoistObject.model_validate(r).model_dump() if isinstance(r, dict) else r.model_dump() for r in rows]


class DriftRecord(BaseModel):
    item_id: UUID | None
    todoist_id: str | None
    field: str
    local_value: Any
    remote_value: Any
    winner: Literal["steward", "todoist", "none"]
    action: str


class ReconcileOut(BaseModel):
    reconciliation_id: UUID
    compared: int
    drift: int
    repaired: int
    remote_only: int
    local_only: int
    in_flight: int
    records: list[DriftRecord] = Field(description="At most 500; the rest are in todoist_drift")


class ReconciliationSummary(BaseModel):
    id: UUID
    at: datetime
    compared: int
    drift: int
    repaired: int
    remote_only: int
    local_only: int
    in_flight: int


class StatusOut(BaseModel):
    client_id: str
    last_push_at: datetime | None
    last_pull_at: datetime | None
    last_full_sync_at: datetime | None
    sync_token_is_full: bool
    token_resets: int
    pending: int = Field(description="Waiting to be sent for the first time")
    leased: int
    failed: int = Field(description="Failed at least once and waiting for their next attempt")
    dead: int = Field(description="Gave up: need an operator (see runbooks/todoist-sync.md)")
    done: int
    oldest_pending_seconds: float | None
    mapped_tasks: int
    mapped_projects: int
    tombstones: int
    last_reconciliation: ReconciliationSummary | None
    drift: int | None = Field(description="Drift found by the last reconciliation")


class RetryIn(StrictModel):
    client_id: ClientId
    operation_ids: list[UUID] | None = Field(None, max_length=1000, description="Default: every dead operation")


class RetryOut(BaseModel):
    requeued: int
