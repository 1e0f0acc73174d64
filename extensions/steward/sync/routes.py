"""`/api/v1/sync/todoist`: the thin loop n8n runs against Todoist.

push   GET /outbox -> POST {batch.request} to Todoist -> POST /ack/batch (or /ack per operation)
pull   GET /state  -> POST {request} to Todoist       -> POST /pull (follow_up says what next)
check  GET /state  -> POST {reconcile.full_sync}, GET {reconcile.completed} pages -> POST /reconcile
       (daily, or when a pull's follow_up says "reconcile"), then push what it queued
watch  GET /status
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.sync import ack, commands, outbox, pull, reconcile, status, store
from steward.sync.merge import Context
from steward.sync.models import (
    AckBatchIn,
    AckBatchOut,
    AckIn,
    AckOut,
    ClientQuery,
    FollowUp,
    HttpRequestSpec,
    OutboxOut,
    OutboxQuery,
    PullIn,
    PullOut,
    ReconcileIn,
    ReconcileOut,
    ReconcileRequests,
    RetryIn,
    RetryOut,
    StateOut,
    StatusOut,
)

bp = Blueprint("sync", __name__, url_prefix="/api/v1/sync/todoist")


@endpoint(
    bp,
    "/outbox",
    methods=["GET"],
    scope="write",
    query=OutboxQuery,
    response=OutboxOut,
    summary="Lease due operations, oldest first, each with the exact Todoist request to send",
)
def lease_outbox(query: OutboxQuery):
    conn = get_db()
    rows = outbox.lease(conn, query.client_id, limit=query.limit, owner=query.worker, lease_seconds=query.lease_seconds)
    operations = [
        {
            "operation_id": r["id"],
            "item_id": r["item_id"],
            "operation": r["operation"],
            "kind": r["request"]["kind"],
            "attempt": r["attempts"],
            "command_uuid": r["command_uuid"],
            "temp_id": r["temp_id"],
            "lease_expires_at": r["lease_expires_at"],
            "commands": r["request"]["commands"],
            "request": commands.request_for(r["request"]["commands"]),
        }
        for r in rows
    ]
    batch = None
    if rows:
        every = [c for r in rows for c in r["request"]["commands"]]
        batch = {"operation_ids": [r["id"] for r in rows], "request": commands.request_for(every)}
    remaining = conn.execute(
        """SELECT count(*) AS n FROM todoist_outbox WHERE client_id = %s AND next_attempt_at <= now()
              AND (status IN ('pending', 'failed') OR (status = 'leased' AND lease_expires_at <= now()))""",
        (query.client_id,),
    ).fetchone()["n"]
    return OutboxOut.model_validate(
        {"client_id": query.client_id, "operations": operations, "batch": batch, "remaining": remaining}
    )


@endpoint(
    bp,
    "/ack",
    methods=["POST"],
    scope="write",
    body=AckIn,
    response=AckOut,
    responses={404: "operation_id names no outbox operation", 409: "The operation was never leased"},
    summary="Record Todoist's answer for one operation (acking twice is harmless)",
)
def ack_one(body: AckIn):
    return ack.ack(
        get_db(),
        body.operation_id,
        ok=body.status == "ok",
        todoist_id=body.todoist_id,
        response=body.response,
        http_status=body.http_status,
        error=body.error,
        retry_after=body.retry_after,
    )


@endpoint(
    bp,
    "/ack/batch",
    methods=["POST"],
    scope="write",
    body=AckBatchIn,
    response=AckBatchOut,
    responses={404: "An operation_id names no outbox operation", 409: "An operation was never leased"},
    summary="Record Todoist's answer to a batch request for every operation it carried",
)
def ack_batch(body: AckBatchIn):
    conn = get_db()
    ok = (body.http_status or 200) < 400 and body.error is None
    results = [
        ack.ack(
            conn,
            op_id,
            ok=ok,
            response=body.response,
            http_status=body.http_status,
            error=body.error,
            retry_after=body.retry_after,
        )
        for op_id in body.operation_ids
    ]
    return AckBatchOut.model_validate({"results": results})


@endpoint(
    bp,
    "/state",
    methods=["GET"],
    scope="read",
    query=ClientQuery,
    response=StateOut,
    summary="The stored sync token ('*' = full sync) and the Sync request to send with it",
)
def get_state(query: ClientQuery):
    st = store.state(get_db(), query.client_id)
    return StateOut(
        client_id=query.client_id,
        sync_token=st["sync_token"],
        full_sync=st["sync_token"] == "*",
        request=HttpRequestSpec.model_validate(pull.sync_request(st["sync_token"])),
        reconcile=ReconcileRequests.model_validate(reconcile.requests(datetime.now(UTC))),
        timezone=st["timezone"],
        inbox_project_id=st["inbox_project_id"],
    )


@endpoint(
    bp,
    "/pull",
    methods=["POST"],
    scope="write",
    body=PullIn,
    response=PullOut,
    responses={409: "since_token is not the stored token: another pull ran first"},
    summary="Apply a Sync response to local items and store its token",
)
def apply_pull(body: PullIn):
    conn = get_db()
    error = body.error if isinstance(body.error, dict) else {"error_tag": body.error_tag}
    failed = (body.http_status or 200) >= 400 or body.error is not None or body.error_tag is not None
    if failed and pull.token_refused(body.http_status, error):
        pull.reset(conn, body.client_id)
        follow = [
            FollowUp(
                action="pull",
                reason="Todoist refused the sync token; a full sync follows",
                request=HttpRequestSpec.model_validate(pull.sync_request("*")),
            )
        ]
        return PullOut(
            client_id=body.client_id, sync_token="*", full_sync=True, reset=True, applied={}, follow_up=follow
        )
    if failed:
        token = store.state(conn, body.client_id)["sync_token"]
        follow = [
            FollowUp(
                action="wait",
                reason=f"Todoist answered HTTP {body.http_status}; nothing applied, pull again on the next run",
            )
        ]
        return PullOut(
            client_id=body.client_id, sync_token=token, full_sync=False, reset=False, applied={}, follow_up=follow
        )
    assert body.sync_token is not None
    applied = pull.pull(
        conn,
        body.client_id,
        since_token=body.since_token,
        sync_token=body.sync_token,
        full_sync=body.full_sync,
        tasks=[t.model_dump() for t in body.items],
        projects=[p.model_dump() for p in body.projects],
        labels=[lb.model_dump() for lb in body.labels],
        user=body.user,
        completed=body.completed_tasks(),
    )
    follow = []
    if applied.missing:
        follow.append(
            FollowUp(
                action="reconcile",
                reason=f"{applied.missing} mapped open tasks are not in Todoist's full sync (completed or deleted "
                "meanwhile): POST /reconcile with a full sync and the completed tasks",
            )
        )
    elif reconcile.overdue(conn, body.client_id):
        follow.append(
            FollowUp(
                action="reconcile",
                reason="the last reconciliation is more than a day and a half old (the daily run was missed): "
                "POST /reconcile with a full sync and the completed tasks",
            )
        )
    due = status.status(conn, body.client_id)
    if due["pending"] or due["failed"]:
        follow.append(
            FollowUp(
                action="push",
                reason=f"{due['pending']} operations are waiting in the outbox",
                request=HttpRequestSpec(method="GET", path=f"/api/v1/sync/todoist/outbox?client_id={body.client_id}"),
            )
        )
    return PullOut(
        client_id=body.client_id,
        sync_token=body.sync_token,
        full_sync=body.full_sync,
        reset=False,
        applied=pull.summary(applied),
        problems=applied.problems,
        follow_up=follow,
    )


@endpoint(
    bp,
    "/reconcile",
    methods=["POST"],
    scope="write",
    body=ReconcileIn,
    response=ReconcileOut,
    summary="Compare every mapped item with a full Todoist snapshot; report and repair drift",
)
def run_reconcile(body: ReconcileIn):
    conn = get_db()
    store.state(conn, body.client_id, lock=True)  # never interleaved with a pull for the same client
    projects = [p.model_dump() for p in body.projects]
    pull.apply_user(conn, body.client_id, body.user, projects)
    ctx = Context.load(conn, body.client_id)
    counts = pull.Applied()
    for project in projects:
        pull.apply_project(conn, ctx, project, counts)
    report = reconcile.reconcile(conn, ctx, [t.model_dump() for t in body.items], body.completed_tasks())
    numbers = {
        k: getattr(report, k) for k in ("compared", "drift", "repaired", "remote_only", "local_only", "in_flight")
    }
    return ReconcileOut.model_validate({"reconciliation_id": report.id, **numbers, "records": report.records[:500]})


@endpoint(
    bp,
    "/status",
    methods=["GET"],
    scope="read",
    query=ClientQuery,
    response=StatusOut,
    summary="Last push, last pull, outbox counts and the drift found at the last reconciliation",
)
def get_status(query: ClientQuery):
    return status.status(get_db(), query.client_id)


@endpoint(
    bp,
    "/outbox/retry",
    methods=["POST"],
    scope="admin",
    body=RetryIn,
    response=RetryOut,
    summary="Requeue dead operations (after fixing what made Todoist refuse them)",
)
def retry_dead(body: RetryIn):
    return RetryOut(requeued=status.requeue(get_db(), body.client_id, body.operation_ids))
