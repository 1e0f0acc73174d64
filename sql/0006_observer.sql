-- Resumable pipelines (named steps checkpointed as each finishes) and the observer's reflections.

-- One execution of a named pipeline. `dedupe_key` names the work (e.g. client:mode:period): a
-- re-trigger finds the current run for it; `force` supersedes that run and starts a new one.
CREATE TABLE pipeline_runs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pipeline       text NOT NULL CHECK (pipeline ~ '^[a-z][a-z0-9_.]{0,99}$'),
    client_id      text,
    dedupe_key     text CHECK (length(dedupe_key) BETWEEN 1 AND 500),
    input          jsonb NOT NULL DEFAULT '{}'::jsonb,
    input_hash     text NOT NULL,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'failed', 'completed')),
    error          jsonb,
    superseded_at  timestamptz,
    superseded_by  uuid REFERENCES pipeline_runs (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE UNIQUE INDEX pipeline_runs_current ON pipeline_runs (pipeline, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND superseded_at IS NULL;
CREATE INDEX pipeline_runs_unfinished ON pipeline_runs (updated_at) WHERE status <> 'completed';

-- A step's checkpoint. A worker claims a step with a lease (owner + expiry, renewed while it runs);
-- the output is written in the step's own transaction, only while the lease is still its own.
CREATE TABLE pipeline_steps (
    run_id            uuid NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    position          integer NOT NULL CHECK (position >= 0),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'failed', 'completed')),
    output            jsonb,
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_owner       text,
    lease_expires_at  timestamptz,
    error             text,
    started_at        timestamptz,
    finished_at       timestamptz,
    PRIMARY KEY (run_id, name),
    UNIQUE (run_id, position),
    CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK (status <> 'completed' OR output IS NOT NULL)
);

-- One reflection per (client, mode, period); a forced re-run replaces it in place.
CREATE TABLE reflections (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id     text NOT NULL,
    mode          text NOT NULL CHECK (mode IN ('daily', 'weekly')),
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    timezone      text NOT NULL,
    run_id        uuid NOT NULL REFERENCES pipeline_runs (id),
    figures       jsonb NOT NULL,
    narrative     text NOT NULL,
    suggestions   jsonb NOT NULL,
    narration     jsonb NOT NULL DEFAULT '{}'::jsonb,
    markdown      text NOT NULL,
    coda_row      jsonb NOT NULL,
    memory_id     uuid REFERENCES memories (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, mode, period_start),
    CHECK (period_end >= period_start),
    CHECK (mode <> 'weekly' OR (extract(isodow FROM period_start) = 1 AND period_end = period_start + 6)),
    CHECK (mode <> 'daily' OR period_end = period_start)
);
CREATE INDEX reflections_client_time ON reflections (client_id, period_start DESC, id DESC);
