-- Todoist two-way sync: an outbox of local changes that n8n pushes, the item <-> Todoist id mapping
-- with the state both sides last agreed on, the incremental sync token per client, reconciliation
-- reports, and tombstones so nothing deleted on either side comes back.

-- One row per local change to deliver. The row id is the stable operation id n8n acks; command_uuid
-- and temp_id are sent to Todoist's Sync endpoint, which runs a command uuid at most once, so a
-- retried or re-leased operation never creates a second task. The request itself is built at lease
-- time from the item's current state, so coalesced edits send one update.
CREATE TABLE todoist_outbox (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    client_id         text NOT NULL,
    item_id           uuid NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    operation         text NOT NULL CHECK (operation IN ('create', 'update', 'complete', 'reopen', 'delete')),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'leased', 'done', 'failed', 'dead')),
    command_uuid      uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    temp_id           uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_owner       text,
    lease_expires_at  timestamptz,
    item_version      integer,
    request           jsonb,
    outcome           text,
    last_error        text,
    last_http_status  integer,
    response          jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    done_at           timestamptz,
    CHECK ((status = 'leased') = (lease_expires_at IS NOT NULL))
);
-- Leasing scans due rows in `seq` order (creation order, even within one transaction); the per-item
-- index keeps "is an older operation on this item still open?" cheap.
CREATE INDEX todoist_outbox_due ON todoist_outbox (client_id, seq) WHERE status IN ('pending', 'leased', 'failed');
CREATE INDEX todoist_outbox_item ON todoist_outbox (item_id, seq);
CREATE INDEX todoist_outbox_client_status ON todoist_outbox (client_id, status);

-- A local item and the Todoist object it mirrors. `synced` is the field snapshot both sides last
-- agreed on (the merge base): a field that differs from it changed on that side since.
CREATE TABLE todoist_links (
    item_id            uuid PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    client_id          text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('task', 'project')),
    todoist_id         text NOT NULL,
    synced             jsonb NOT NULL DEFAULT '{}'::jsonb,
    synced_version     integer NOT NULL DEFAULT 0,
    remote_updated_at  timestamptz,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, kind, todoist_id)
);

-- Incremental pull position per client: '*' asks Todoist for a full sync. `timezone` is the Todoist
-- user's (it reads floating due times); tasks in `inbox_project_id` have no local project.
CREATE TABLE todoist_sync_state (
    client_id          text PRIMARY KEY,
    sync_token         text NOT NULL DEFAULT '*',
    timezone           text,
    inbox_project_id   text,
    full_sync_count    integer NOT NULL DEFAULT 0,
    token_resets       integer NOT NULL DEFAULT 0,
    last_pull_at       timestamptz,
    last_full_sync_at  timestamptz,
    last_push_at       timestamptz,
    last_reconcile_id  uuid,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- A full comparison of every mapped item against a full remote snapshot, and what it repaired.
CREATE TABLE todoist_reconciliations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id     text NOT NULL,
    compared      integer NOT NULL DEFAULT 0,
    drift         integer NOT NULL DEFAULT 0,
    repaired      integer NOT NULL DEFAULT 0,
    remote_only   integer NOT NULL DEFAULT 0,
    local_only    integer NOT NULL DEFAULT 0,
    in_flight     integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX todoist_reconciliations_client_time ON todoist_reconciliations (client_id, created_at DESC);

-- One row per field found to differ, with the side the written policy chose and what was done.
CREATE TABLE todoist_drift (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reconciliation_id  uuid NOT NULL REFERENCES todoist_reconciliations (id) ON DELETE CASCADE,
    client_id          text NOT NULL,
    item_id            uuid REFERENCES items (id) ON DELETE SET NULL,
    todoist_id         text,
    field              text NOT NULL,
    local_value        jsonb,
    remote_value       jsonb,
    winner             text NOT NULL CHECK (winner IN ('steward', 'todoist', 'none')),
    action             text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX todoist_drift_reconciliation ON todoist_drift (reconciliation_id);

-- Todoist ids deleted on either side: a later full sync that still lists one never re-imports it,
-- and a local item tombstoned here is never pushed again.
CREATE TABLE todoist_tombstones (
    client_id   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('task', 'project')),
    todoist_id  text NOT NULL,
    item_id     uuid REFERENCES items (id) ON DELETE SET NULL,
    deleted_by  text NOT NULL CHECK (deleted_by IN ('steward', 'todoist')),
    deleted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, kind, todoist_id)
);
