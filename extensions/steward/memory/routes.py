"""`/api/v1/memory`: remember, recall, documents, graph, facts, similar events and compaction.

Views validate, call the in-process API (`service`, `documents`, `graph`, `facts`...) with the
request's transaction, and shape the answer. Every route takes `client_id` and never reads past it.
"""

from __future__ import annotations

from flask import Blueprint, Response, after_this_request

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.runtime import runtime
from steward.memory import caching, compaction, documents, facts, graph, service, similar
from steward.memory.models import (
    AssertOut,
    CompactIn,
    CompactOut,
    DocSearchOut,
    DocSearchQuery,
    DocumentIn,
    DocumentOut,
    EdgeIn,
    EdgeOut,
    FactHistoryOut,
    FactIn,
    FactInvalidateIn,
    FactOut,
    FactsOut,
    FactsQuery,
    MemoryLookup,
    MemoryOut,
    MergeGroup,
    Neighbor,
    NeighborsOut,
    NeighborsQuery,
    NodeIn,
    NodeOut,
    PathNode,
    PathOut,
    PathQuery,
    PathStep,
    RecallOut,
    RecallQuery,
    RememberBatchIn,
    RememberBatchOut,
    RememberIn,
    RememberOut,
    RetentionIn,
    RetentionOut,
    SimilarEvent,
    SimilarEventsOut,
    SimilarEventsQuery,
)

bp = Blueprint("memory", __name__, url_prefix="/api/v1/memory")


def _invalidate_after_commit(client_id: str) -> None:
    """Writes invalidate the client's cache at once; this repeats it once the response is closed
    (after the commit), so a recall racing the write cannot cache pre-commit results for long."""
    cache = runtime().cache

    @after_this_request
    def _hook(response: Response) -> Response:
        response.call_on_close(lambda: caching.invalidate(cache, client_id))
        return response


# ---- memories -------------------------------------------------------------------------------
@endpoint(
    bp,
    "/remember",
    methods=["POST"],
    scope="write",
    summary="Remember one thing",
    body=RememberIn,
    response=RememberOut,
    status=201,
    responses={200: "An identical memory was already stored; it is returned", 404: "supersedes names no memory"},
)
def remember(body: RememberIn):
    item = body.model_dump(exclude={"client_id"})
    out = service.remember_many(get_db(), runtime(), body.client_id, [service.MemoryItem(**item)])[0]
    _invalidate_after_commit(body.client_id)
    return out, 200 if out.duplicate else 201


@endpoint(
    bp,
    "/remember/batch",
    methods=["POST"],
    scope="write",
    summary="Remember up to 500 things at once",
    body=RememberBatchIn,
    response=RememberBatchOut,
    status=201,
    responses={404: "An item's supersedes names no memory"},
)
def remember_batch(body: RememberBatchIn):
    items = service.remember_many(get_db(), runtime(), body.client_id, body.items)
    _invalidate_after_commit(body.client_id)
    duplicates = sum(1 for i in items if i.duplicate)
    return RememberBatchOut(items=items, created=len(items) - duplicates, duplicates=duplicates)


@endpoint(
    bp,
    "/recall",
    methods=["GET"],
    scope="read",
    summary="Hybrid, time-aware recall",
    query=RecallQuery,
    response=RecallOut,
)
def recall(query: RecallQuery):
    return service.recall(get_db(), runtime(), **query.model_dump())


@endpoint(
    bp,
    "/memories/<uuid:memory_id>",
    methods=["GET"],
    scope="read",
    summary="One memory",
    query=MemoryLookup,
    response=MemoryOut,
)
def get_memory(memory_id, query: MemoryLookup):
    return MemoryOut.model_validate(service.get_memory(get_db(), query.client_id, str(memory_id)))


# ---- documents ------------------------------------------------------------------------------
@endpoint(
    bp,
    "/docs",
    methods=["POST"],
    scope="write",
    summary="Ingest a document into chunks",
    body=DocumentIn,
    response=DocumentOut,
    status=201,
    responses={200: "The same document was already stored, or it replaced the one with its external_id"},
)
def ingest_document(body: DocumentIn):
    out = documents.ingest(get_db(), runtime(), body)
    _invalidate_after_commit(body.client_id)
    return out, 200 if out.duplicate or out.replaced else 201


@endpoint(
    bp,
    "/search/docs",
    methods=["GET"],
    scope="read",
    summary="Search document chunks (RAG)",
    query=DocSearchQuery,
    response=DocSearchOut,
)
def search_documents(query: DocSearchQuery):
    return documents.search(
        get_db(), runtime(), query.client_id, query.q, query.k, str(query.document_id) if query.document_id else None
    )


# ---- graph ----------------------------------------------------------------------------------
@endpoint(
    bp,
    "/graph/nodes",
    methods=["POST"],
    scope="write",
    summary="Create or update a node",
    body=NodeIn,
    response=NodeOut,
    status=201,
    responses={200: "The node existed and was updated", 409: "The id belongs to another client's node"},
)
def upsert_node(body: NodeIn):
    row = graph.upsert_node(get_db(), body.client_id, body.id, body.node_type, body.name, body.properties)
    return NodeOut.model_validate(row), 201 if row["created"] else 200


@endpoint(
    bp,
    "/graph/edges",
    methods=["POST"],
    scope="write",
    summary="Create or update an edge",
    body=EdgeIn,
    response=EdgeOut,
    status=201,
    responses={200: "The edge existed and was updated", 404: "source_id or target_id names no node"},
)
def upsert_edge(body: EdgeIn):
    row = graph.upsert_edge(
        get_db(), body.client_id, body.source_id, body.target_id, body.edge_type, body.weight, body.properties
    )
    return EdgeOut.model_validate(row), 201 if row["created"] else 200


@endpoint(
    bp,
    "/graph/neighbors",
    methods=["GET"],
    scope="read",
    summary="Neighbours of a node, to a depth",
    query=NeighborsQuery,
    response=NeighborsOut,
    responses={404: "entity_id names no node"},
)
def graph_neighbors(query: NeighborsQuery):
    rows, truncated = graph.neighbors(
        get_db(),
        query.client_id,
        query.entity_id,
        depth=query.depth,
        edge_types=query.edge_types,
        direction=query.direction,
        limit=query.limit,
    )
    return NeighborsOut(
        entity_id=query.entity_id, neighbors=[Neighbor.model_validate(r) for r in rows], truncated=truncated
    )


@endpoint(
    bp,
    "/graph/path",
    methods=["GET"],
    scope="read",
    summary="Shortest path between two nodes",
    query=PathQuery,
    response=PathOut,
    responses={404: "from or to names no node"},
)
def graph_path(query: PathQuery):
    found = graph.shortest_path(
        get_db(), query.client_id, query.from_, query.to, max_depth=query.max_depth, edge_types=query.edge_types
    )
    if found is None:
        return PathOut(found=False, length=None, nodes=[], edges=[])
    nodes, edges = found
    return PathOut(
        found=True,
        length=len(edges),
        nodes=[PathNode.model_validate(n) for n in nodes],
        edges=[PathStep.model_validate(e) for e in edges],
    )


# ---- facts ----------------------------------------------------------------------------------
@endpoint(
    bp,
    "/facts",
    methods=["POST"],
    scope="write",
    summary="Assert a fact (supersedes, never overwrites)",
    body=FactIn,
    response=AssertOut,
    status=201,
    responses={200: "The fact already held this value; nothing changed"},
)
def assert_fact(body: FactIn):
    out = facts.assert_fact(get_db(), runtime(), body)
    _invalidate_after_commit(body.client_id)
    return out, 200 if out.unchanged else 201


@endpoint(
    bp,
    "/facts",
    methods=["GET"],
    scope="read",
    summary="Facts true now (or as_of), or all with history",
    query=FactsQuery,
    response=FactsOut,
)
def list_facts(query: FactsQuery):
    return FactsOut(facts=facts.list_facts(get_db(), **query.model_dump()))


@endpoint(
    bp,
    "/facts/<uuid:fact_id>/history",
    methods=["GET"],
    scope="read",
    summary="A fact's chain of values",
    query=MemoryLookup,
    response=FactHistoryOut,
)
def fact_history(fact_id, query: MemoryLookup):
    fact, chain = facts.history(get_db(), query.client_id, str(fact_id))
    return FactHistoryOut(subject=fact["subject"], predicate=fact["predicate"], chain=chain)


@endpoint(
    bp,
    "/facts/<uuid:fact_id>/invalidate",
    methods=["POST"],
    scope="write",
    summary="End a fact without a successor",
    body=FactInvalidateIn,
    response=FactOut,
)
def invalidate_fact(fact_id, body: FactInvalidateIn):
    out = facts.invalidate(get_db(), runtime(), body.client_id, str(fact_id), body.invalid_at)
    _invalidate_after_commit(body.client_id)
    return out


# ---- similar events, compaction, retention --------------------------------------------------
@endpoint(
    bp,
    "/similar/events",
    methods=["GET"],
    scope="read",
    summary="Events similar to a given one",
    query=SimilarEventsQuery,
    response=SimilarEventsOut,
    responses={404: "event_id names no event of this client"},
)
def similar_events(query: SimilarEventsQuery):
    hits, reason = similar.similar_events(get_db(), runtime(), query.client_id, str(query.event_id), query.k)
    return SimilarEventsOut(
        event_id=query.event_id,
        hits=[SimilarEvent.model_validate(h) for h in hits],
        degraded=reason is not None,
        degraded_reason=reason,
    )


@endpoint(
    bp,
    "/compact",
    methods=["POST"],
    scope="write",
    summary="Merge near-duplicates, apply retention, index pending vectors",
    body=CompactIn,
    response=CompactOut,
)
def compact(body: CompactIn):
    result = compaction.compact(
        get_db(),
        runtime(),
        body.client_id,
        threshold=body.threshold,
        dry_run=body.dry_run,
        kinds=list(body.kinds) if body.kinds else None,
    )
    if not body.dry_run:
        _invalidate_after_commit(body.client_id)
    groups = [MergeGroup.model_validate({"survivor": s, "merged": m}) for s, m in result.merged]
    return CompactOut(merged=groups, expired=result.expired, reindexed=result.reindexed, dry_run=body.dry_run)


def _retention(client_id: str) -> RetentionOut:
    rows = (
        get_db()
        .execute("SELECT kind, retain_days FROM memory_retention WHERE client_id = %s ORDER BY kind", (client_id,))
        .fetchall()
    )
    return RetentionOut(client_id=client_id, retention={r["kind"]: r["retain_days"] for r in rows})


@endpoint(
    bp,
    "/retention",
    methods=["PUT"],
    scope="write",
    summary="Set how long a kind of memory is kept",
    body=RetentionIn,
    response=RetentionOut,
)
def set_retention(body: RetentionIn):
    if body.retain_days is None:
        get_db().execute("DELETE FROM memory_retention WHERE client_id = %s AND kind = %s", (body.client_id, body.kind))
    else:
        get_db().execute(
            """INSERT INTO memory_retention (client_id, kind, retain_days) VALUES (%s, %s, %s)
               ON CONFLICT (client_id, kind) DO UPDATE SET retain_days = excluded.retain_days, updated_at = now()""",
            (body.client_id, body.kind, body.retain_days),
        )
    return _retention(body.client_id)


@endpoint(
    bp,
    "/retention",
    methods=["GET"],
    scope="read",
    summary="Retention per kind",
    query=MemoryLookup,
    response=RetentionOut,
)
def get_retention(query: MemoryLookup):
    return _retention(query.client_id)
