-- Memory: memories with validity and provenance, documents and their chunks, facts that are
-- superseded (never overwritten), and per-kind retention. Postgres is the truth; the Qdrant
-- collections agent_memories, daily_threads, doc_chunks and events are rebuilt from these tables.

-- One remembered thing. `content_hash` makes an exact repeat return the first row; validity
-- (`valid_from`, `invalid_at`, `superseded_by`) answers "what was true at a moment"; `merged_into`
-- marks a near-duplicate folded into another by compaction (kept, never deleted).
CREATE TABLE memories (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id         text NOT NULL,
    kind              text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    text              text NOT NULL CHECK (length(text) > 0),
    content_hash      text NOT NULL,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    provenance        jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at       timestamptz NOT NULL DEFAULT now(),
    valid_from        timestamptz NOT NULL DEFAULT now(),
    invalid_at        timestamptz,
    superseded_by     uuid REFERENCES memories (id) ON DELETE SET NULL,
    merged_into       uuid REFERENCES memories (id) ON DELETE SET NULL,
    fact_id           uuid,
    search_tsv        tsvector NOT NULL,
    mention_count     integer NOT NULL DEFAULT 1 CHECK (mention_count > 0),
    access_count      integer NOT NULL DEFAULT 0 CHECK (access_count >= 0),
    last_accessed_at  timestamptz,
    indexed_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, content_hash),
    CHECK (invalid_at IS NULL OR invalid_at >= valid_from)
);
CREATE INDEX memories_search ON memories USING gin (search_tsv);
CREATE INDEX memories_client_time ON memories (client_id, occurred_at DESC);
CREATE INDEX memories_client_kind_time ON memories (client_id, kind, occurred_at DESC);
CREATE INDEX memories_unindexed ON memories (created_at) WHERE indexed_at IS NULL;
CREATE INDEX memories_fact ON memories (fact_id) WHERE fact_id IS NOT NULL;

-- Per-client declarations of which predicates hold one value at a time ("lives_in"): a new value
-- supersedes the old. Predicates not declared here fall back to the defaults in steward/memory/facts.py.
CREATE TABLE fact_predicates (
    client_id      text NOT NULL,
    predicate      text NOT NULL CHECK (predicate ~ '^[a-z0-9_]{1,100}$'),
    single_valued  boolean NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, predicate)
);

-- A statement about the world with a validity interval. Superseding sets `invalid_at` and
-- `superseded_by` on the old row; nothing is deleted, so the history is the chain of rows.
CREATE TABLE facts (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id      text NOT NULL,
    subject        text NOT NULL CHECK (length(subject) > 0),
    subject_key    text GENERATED ALWAYS AS (lower(subject)) STORED,
    predicate      text NOT NULL CHECK (predicate ~ '^[a-z0-9_]{1,100}$'),
    object         text NOT NULL CHECK (length(object) > 0),
    valid_from     timestamptz NOT NULL DEFAULT now(),
    invalid_at     timestamptz,
    superseded_by  uuid REFERENCES facts (id) ON DELETE SET NULL,
    memory_id      uuid REFERENCES memories (id) ON DELETE SET NULL,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    provenance     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (invalid_at IS NULL OR invalid_at >= valid_from)
);
CREATE INDEX facts_chain ON facts (client_id, subject_key, predicate, valid_from);
CREATE INDEX facts_current ON facts (client_id, subject_key) WHERE invalid_at IS NULL;

-- An ingested document (text or Markdown); re-sending the same `external_id` replaces its chunks.
CREATE TABLE documents (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id     text NOT NULL,
    external_id   text,
    title         text NOT NULL DEFAULT '',
    format        text NOT NULL CHECK (format IN ('text', 'markdown')),
    content_hash  text NOT NULL,
    char_count    integer NOT NULL,
    chunk_count   integer NOT NULL DEFAULT 0,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    provenance    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, content_hash)
);
CREATE UNIQUE INDEX documents_external ON documents (client_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE doc_chunks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id  uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    client_id    text NOT NULL,
    position     integer NOT NULL CHECK (position >= 0),
    heading      text NOT NULL DEFAULT '',
    text         text NOT NULL,
    start_char   integer NOT NULL,
    end_char     integer NOT NULL,
    search_tsv   tsvector NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, position)
);
CREATE INDEX doc_chunks_search ON doc_chunks USING gin (search_tsv);
CREATE INDEX doc_chunks_client ON doc_chunks (client_id);

-- How long memories of a kind are kept, per client; no row means forever.
CREATE TABLE memory_retention (
    client_id    text NOT NULL,
    kind         text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    retain_days  integer NOT NULL CHECK (retain_days > 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, kind)
);

CREATE INDEX graph_edges_client_type ON graph_edges (client_id, edge_type);
