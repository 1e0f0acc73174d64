"""Request and response models of the memory gateway (HTTP and in-process callers share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool, StringConstraints, model_validator

from steward.core.api import StrictModel
from steward.core.types import ClientId, JsonObject, Name, Timestamp

MAX_TEXT = 8000
MAX_QUERY = 1000

Kind = Literal["note", "preference", "fact", "reflection", "message", "plan", "task", "summary", "event"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]

MemoryText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT), Field(description=f"1 to {MAX_TEXT} characters")
]
Query = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY)]
TopK = Annotated[int, Field(ge=1, le=50, description="Number of results, 1 to 50")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=300)]


def _ordered(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until < since:
        raise ValueError("until must not be before since")


# ---- memories -------------------------------------------------------------------------------
class MemoryItem(StrictModel):
    text: MemoryText
    kind: Kind = "note"
    metadata: JsonObject = Field(default_factory=dict)
    provenance: JsonObject = Field(default_factory=dict, description="Where it came from: source, message id...")
    occurred_at: Timestamp | None = Field(None, description="When it happened or was said; defaults to now")
    valid_from: Timestamp | None = Field(
        None, description="When it became true; defaults to occurred_at (or now, if that is later)"
    )
    supersedes: UUID | None = Field(None, description="A memory this one replaces (it stays, marked invalid)")


class RememberIn(MemoryItem):
    client_id: ClientId


class RememberBatchIn(StrictModel):
    client_id: ClientId
    items: list[MemoryItem] = Field(min_length=1, max_length=500)


class MemoryOut(BaseModel):
    id: UUID
    client_id: str
    kind: str
    text: str
    metadata: dict[str, Any]
    provenance: dict[str, Any]
    occurred_at: datetime
    valid_from: datetime
    invalid_at: datetime | None
    superseded_by: UUID | None
    merged_into: UUID | None = None
    created_at: datetime


class RememberOut(MemoryOut):
    duplicate: bool = Field(description="True when an identical memory existed and is returned instead")
    indexed: bool = Field(description="False when the vector could not be written yet (full-text still finds it)")


class RememberBatchOut(BaseModel):
    items: list[RememberOut]
    created: int
    duplicates: int


class RecallQuery(StrictModel):
    q: Query
    client_id: ClientId
    k: TopK = 10
    kinds: list[Kind] | None = None
    since: Timestamp | None = Field(None, description="Only memories that occurred at or after this time")
    until: Timestamp | None = Field(None, description="Only memories that occurred at or before this time")
    as_of: Timestamp | None = Field(None, description="The truth at this moment instead of now")
    include_superseded: bool = Field(False, description="Also return memories no longer valid")

    @model_validator(mode="after")
    def _window(self) -> RecallQuery:
        _ordered(self.since, self.until)
        return self


class RecallHit(MemoryOut):
    score: float = Field(description="Fused rank score (reciprocal rank fusion); compare within one answer")
    similarity: float | None = Field(None, description="Cosine similarity to the query, when found by vector")
    matched_by: list[str] = Field(description="Which retrievers found it: vector, text, time, recency")
    current: bool = Field(description="Valid at the reference time (now, or as_of)")


class TimeHint(BaseModel):
    expression: str
    since: datetime
    until: datetime


class RecallOut(BaseModel):
    query: str
    hits: list[RecallHit]
    degraded: bool = False
    degraded_reason: str | None = None
    cached: bool = False
    time_hint: TimeHint | None = None


class MemoryLookup(StrictModel):
    client_id: ClientId


# ---- documents ------------------------------------------------------------------------------
class DocumentIn(StrictModel):
    client_id: ClientId
    text: Annotated[str, StringConstraints(min_length=1, max_length=500_000)]
    title: Annotated[str, StringConstraints(max_length=300)] = ""
    format: Literal["text", "markdown"] = "markdown"
    external_id: Label | None = Field(None, description="Your id; re-sending it replaces the document")
    metadata: JsonObject = Field(default_factory=dict)
    provenance: JsonObject = Field(default_factory=dict)
    chunk_size: int = Field(1200, ge=200, le=8000, description="Target characters per chunk")
    overlap: int = Field(200, ge=0, le=2000, description="Characters repeated between neighbouring chunks")

    @model_validator(mode="after")
    def _overlap_smaller(self) -> DocumentIn:
        if self.overlap >= self.chunk_size // 2:
            raise ValueError("overlap must be less than half of chunk_size")
        return self


class DocumentOut(BaseModel):
    id: UUID
    client_id: str
    external_id: str | None
    title: str
    format: str
    char_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime
    duplicate: bool = False
    replaced: bool = False
    indexed: bool = True


class DocSearchQuery(StrictModel):
    q: Query
    client_id: ClientId
    k: TopK = 5
    document_id: UUID | None = None


class DocHit(BaseModel):
    chunk_id: UUID
    document_id: UUID
    document_title: str
    external_id: str | None
    position: int
    heading: str
    text: str
    start_char: int
    end_char: int
    score: float
    matched_by: list[str]


class DocSearchOut(BaseModel):
    query: str
    hits: list[DocHit]
    degraded: bool = False
    degraded_reason: str | None = None


# ---- graph ----------------------------------------------------------------------------------
class NodeIn(StrictModel):
    client_id: ClientId
    id: Name = Field(examples=["workflow:onboarding"])
    node_type: Name = Field(examples=["workflow"])
    name: Label
    properties: JsonObject = Field(default_factory=dict)


class NodeOut(BaseModel):
    id: str
    client_id: str
    node_type: str
    name: str
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created: bool = False


class EdgeIn(StrictModel):
    client_id: ClientId
    source_id: Name
    target_id: Name
    edge_type: Name = Field(examples=["instantiates"])
    weight: float = Field(1.0, ge=-1e6, le=1e6, allow_inf_nan=False)
    properties: JsonObject = Field(default_factory=dict)


class EdgeOut(BaseModel):
    id: UUID
    client_id: str
    source_id: str
    target_id: str
    edge_type: str
    weight: float
    properties: dict[str, Any]
    created_at: datetime
    created: bool = False


class NeighborsQuery(StrictModel):
    client_id: ClientId
    entity_id: Name
    depth: int = Field(1, ge=1, le=5)
    edge_types: list[Name] | None = None
    direction: Literal["both", "out", "in"] = "both"
    limit: int = Field(200, ge=1, le=1000)


class Neighbor(BaseModel):
    id: str
    node_type: str
    name: str
    edge_type: str
    direction: Literal["out", "in"]
    weight: float
    depth: int
    via: str


class NeighborsOut(BaseModel):
    entity_id: str
    neighbors: list[Neighbor]
    truncated: bool


class PathQuery(StrictModel):
    client_id: ClientId
    from_: Name = Field(alias="from")
    to: Name
    max_depth: int = Field(6, ge=1, le=10)
    edge_types: list[Name] | None = None


class PathStep(BaseModel):
    source_id: str
    target_id: str
    edge_type: str
    direction: Literal["out", "in"] = Field(description="'out' when the edge points along the path")


class PathNode(BaseModel):
    id: str
    node_type: str
    name: str


class PathOut(BaseModel):
    found: bool
    length: int | None
    nodes: list[PathNode]
    edges: list[PathStep]


# ---- facts ----------------------------------------------------------------------------------
Predicate = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_ -]+$"),
    Field(examples=["lives in", "prefers_meeting_time"]),
]


class FactIn(StrictModel):
    client_id: ClientId
    subject: Label
    predicate: Predicate
    object: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    valid_from: Timestamp | None = Field(None, description="When it became true; defaults to now")
    single_valued: StrictBool | None = Field(
        None, description="Declare the predicate single-valued (a new value supersedes) for this client"
    )
    metadata: JsonObject = Field(default_factory=dict)
    provenance: JsonObject = Field(default_factory=dict)


class FactOut(BaseModel):
    id: UUID
    client_id: str
    subject: str
    predicate: str
    object: str
    valid_from: datetime
    invalid_at: datetime | None
    superseded_by: UUID | None
    memory_id: UUID | None
    metadata: dict[str, Any]
    provenance: dict[str, Any]
    created_at: datetime
    current: bool


class AssertOut(BaseModel):
    fact: FactOut
    superseded: list[UUID] = Field(description="Facts this one ended (they stay, with invalid_at set)")
    unchanged: bool = Field(description="True when the same value was already current; nothing was written")


class FactsQuery(StrictModel):
    client_id: ClientId
    subject: Label | None = None
    predicate: Predicate | None = None
    as_of: Timestamp | None = None
    include_history: bool = False
    limit: int = Field(100, ge=1, le=500)


class FactsOut(BaseModel):
    facts: list[FactOut]


class FactInvalidateIn(StrictModel):
    client_id: ClientId
    invalid_at: Timestamp | None = Field(None, description="When it stopped being true; defaults to now")


class FactHistoryOut(BaseModel):
    subject: str
    predicate: str
    chain: list[FactOut] = Field(description="Every value in time order, the current one last")


# ---- similar events, compaction, retention -------------------------------------------------
class SimilarEventsQuery(StrictModel):
    client_id: ClientId
    event_id: UUID
    k: TopK = 5


class SimilarEvent(BaseModel):
    id: UUID
    event_type: str
    event_source: str
    payload: dict[str, Any]
    occurred_at: datetime
    score: float


class SimilarEventsOut(BaseModel):
    event_id: UUID
    hits: list[SimilarEvent]
    degraded: bool = False
    degraded_reason: str | None = None


class CompactIn(StrictModel):
    client_id: ClientId
    threshold: float = Field(0.95, ge=0.8, le=1.0, description="Cosine similarity above which memories merge")
    dry_run: StrictBool = False
    kinds: list[Kind] | None = None


class MergeGroup(BaseModel):
    survivor: UUID
    merged: list[UUID]


class CompactOut(BaseModel):
    merged: list[MergeGroup]
    expired: dict[str, int] = Field(description="Memories removed by retention, per kind")
    reindexed: int = Field(description="Memories whose pending vectors were written")
    dry_run: bool


class RetentionIn(StrictModel):
    client_id: ClientId
    kind: Kind
    retain_days: int | None = Field(None, ge=1, le=36500, description="Days to keep; null keeps forever")


class RetentionOut(BaseModel):
    client_id: str
    retention: dict[str, int]
