-- LLM call accounting, and the planner's steps, reuse and goal-tracking columns.

-- One row per LLM call: billed completions, cache hits (cost 0) and budget refusals alike.
CREATE TABLE llm_calls (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    service            text NOT NULL,
    route              text NOT NULL DEFAULT '',
    purpose            text NOT NULL DEFAULT '',
    prompt_version     integer,
    client_id          text,
    mode               text NOT NULL CHECK (mode IN ('fast', 'default')),
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens  integer NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    tokens_estimated   boolean NOT NULL DEFAULT false,
    cost_usd           numeric(14, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    priced             boolean NOT NULL DEFAULT true,
    latency_ms         integer NOT NULL DEFAULT 0,
    attempts           integer NOT NULL DEFAULT 0,
    cache_hit          boolean NOT NULL DEFAULT false,
    repair             boolean NOT NULL DEFAULT false,
    outcome            text NOT NULL CHECK (outcome IN ('ok', 'invalid_output', 'error', 'timeout', 'refused')),
    error              text
);
CREATE INDEX llm_calls_time ON llm_calls (created_at);
CREATE INDEX llm_calls_mode_time ON llm_calls (mode, created_at);

-- What produced a plan and when it moved; `inputs` keeps the blueprint, workflow, template and
-- context the request carried, so a plan says which ones it used.
ALTER TABLE plans
    ADD COLUMN mode                    text NOT NULL DEFAULT 'default' CHECK (mode IN ('fast', 'default')),
    ADD COLUMN reused_from_plan_id     uuid REFERENCES plans (id) ON DELETE SET NULL,
    ADD COLUMN reuse_similarity        real,
    ADD COLUMN llm_model               text,
    ADD COLUMN prompt_version          integer,
    ADD COLUMN inputs                  jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN intent_embedding        real[],
    ADD COLUMN intent_embedding_model  text,
    ADD COLUMN activated_at            timestamptz,
    ADD COLUMN finished_at             timestamptz;
CREATE INDEX plans_client_time ON plans (client_id, created_at DESC);

-- The steps of a plan's SOP, tracked one by one (the SOP itself stays in plans.sop as generated).
CREATE TABLE plan_steps (
    plan_id           uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    key               text NOT NULL,
    position          integer NOT NULL,
    title             text NOT NULL,
    description       text NOT NULL DEFAULT '',
    estimate_minutes  integer NOT NULL CHECK (estimate_minutes >= 0),
    depends_on        text[] NOT NULL DEFAULT '{}',
    role              text NOT NULL DEFAULT '',
    deliverable       text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'doing', 'done', 'blocked')),
    actual_minutes    integer CHECK (actual_minutes >= 0),
    due_at            timestamptz,
    task_id           text,
    note              text,
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, key)
);
CREATE INDEX plan_steps_blocked_due ON plan_steps (due_at) WHERE status = 'blocked';
