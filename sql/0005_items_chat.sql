-- Items (tasks, notes, ideas, events, people, projects) and their links; the chat's users, one-time
-- link codes, chat bindings, drafts of proposed actions, and the Telegram updates already answered.

-- One structured thing the user keeps. Never hard-deleted: `deleted_at` is a tombstone that sync
-- honours (a tombstoned item is never resurrected). `version` grows on every update and
-- `content_updated_at` moves only when title or body change, so sync can tell edits apart.
-- A due date without a time (`due_has_time` false) is stored as 00:00 UTC of that calendar date.
CREATE TABLE items (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id           text NOT NULL,
    type                text NOT NULL CHECK (type IN ('task', 'note', 'idea', 'event', 'person', 'project')),
    status              text NOT NULL DEFAULT 'inbox' CHECK (status IN ('inbox', 'active', 'done', 'dropped')),
    title               text NOT NULL,
    body                text NOT NULL DEFAULT '',
    due                 timestamptz,
    due_has_time        boolean NOT NULL DEFAULT false,
    duration_minutes    integer CHECK (duration_minutes > 0),
    priority            text CHECK (priority IN ('p1', 'p2', 'p3', 'p4')),
    labels              text[] NOT NULL DEFAULT '{}',
    project_id          uuid REFERENCES items (id) ON DELETE SET NULL,
    recurrence          text,
    source              text NOT NULL DEFAULT 'chat',
    version             integer NOT NULL DEFAULT 1 CHECK (version > 0),
    content_updated_at  timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    deleted_at          timestamptz,
    search_tsv          tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || body)) STORED
);
CREATE INDEX items_client_type_status ON items (client_id, type, status);
CREATE INDEX items_client_updated ON items (client_id, updated_at DESC);
CREATE INDEX items_project ON items (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX items_search ON items USING gin (search_tsv);

CREATE TABLE item_links (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id       text NOT NULL,
    source_item_id  uuid NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    target_item_id  uuid NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    link_type       text NOT NULL CHECK (link_type IN ('relates_to', 'part_of', 'blocks', 'about_person')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_item_id, target_item_id, link_type),
    CHECK (source_item_id <> target_item_id)
);
CREATE INDEX item_links_target ON item_links (target_item_id);

-- The person Steward serves, by the client id every service uses, with the chat's settings.
CREATE TABLE chat_users (
    client_id   text PRIMARY KEY,
    timezone    text NOT NULL DEFAULT 'UTC',
    date_order  text NOT NULL DEFAULT 'DMY' CHECK (date_order IN ('DMY', 'MDY')),
    auto_apply  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One-time codes (`steward link create`): only the SHA-256 is stored; a code binds one chat once.
CREATE TABLE chat_link_codes (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code_hash        text NOT NULL UNIQUE,
    client_id        text NOT NULL REFERENCES chat_users (client_id) ON DELETE CASCADE,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    used_by_chat_id  bigint,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Proposed actions awaiting a decision. An edit makes a new row (revision + 1, `parent_id`) and
-- marks the old one superseded; `result` records what the executor did, for /undo.
CREATE TABLE chat_drafts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    short_id      text NOT NULL UNIQUE CHECK (short_id ~ '^[A-Za-z0-9]{6,16}$'),
    client_id     text NOT NULL,
    chat_id       bigint NOT NULL,
    message_id    bigint,
    revision      integer NOT NULL DEFAULT 1 CHECK (revision > 0),
    parent_id     uuid REFERENCES chat_drafts (id) ON DELETE SET NULL,
    status        text NOT NULL DEFAULT 'draft'
                  CHECK (status IN ('draft', 'executed', 'discarded', 'superseded', 'expired', 'undone')),
    source_text   text NOT NULL,
    plan          jsonb NOT NULL,
    review        jsonb NOT NULL DEFAULT '{}'::jsonb,
    planner       text NOT NULL CHECK (planner IN ('llm', 'quickadd')),
    mode          text NOT NULL CHECK (mode IN ('fast', 'default')),
    auto_applied  boolean NOT NULL DEFAULT false,
    result        jsonb,
    expires_at    timestamptz NOT NULL,
    decided_at    timestamptz,
    executed_at   timestamptz,
    undone_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_drafts_chat_time ON chat_drafts (chat_id, created_at DESC);
CREATE INDEX chat_drafts_executed ON chat_drafts (client_id, chat_id, executed_at DESC) WHERE status = 'executed';

-- A Telegram chat bound to a user. `awaiting_edit_draft_id`: after "Edit", the next message is the
-- correction for that draft.
CREATE TABLE chat_links (
    chat_id                 bigint PRIMARY KEY,
    client_id               text NOT NULL REFERENCES chat_users (client_id) ON DELETE CASCADE,
    telegram_user_id        bigint,
    awaiting_edit_draft_id  uuid REFERENCES chat_drafts (id) ON DELETE SET NULL,
    linked_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_links_client ON chat_links (client_id);

-- Updates already answered (`m:<message_id>`, `c:<callback id>`): a redelivery gets the stored answer.
CREATE TABLE chat_updates (
    chat_id     bigint NOT NULL,
    update_key  text NOT NULL,
    response    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, update_key)
);
CREATE INDEX chat_updates_created ON chat_updates (created_at);
