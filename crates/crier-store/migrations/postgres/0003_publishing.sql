-- The publishing pipeline: channels, posts and their targets, publish attempts, the durable job
-- queue, events, API idempotency keys and the sandbox provider's delivery record.

CREATE TABLE channels (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    id           uuid        NOT NULL,
    provider     text        NOT NULL,
    name         text        NOT NULL,
    config       jsonb       NOT NULL,
    status       text        NOT NULL CHECK (status IN ('active', 'needs_reauth')),
    paused_until timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE posts (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    id           uuid        NOT NULL,
    text         text        NOT NULL,
    scheduled_at timestamptz,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- One post on one channel. A target's lease is not stored here: it is read from its job.
-- Deleting a channel (allowed once all its targets are final) deletes its targets' history.
CREATE TABLE post_targets (
    workspace_id     uuid        NOT NULL,
    id               uuid        NOT NULL,
    post_id          uuid        NOT NULL,
    channel_id       uuid        NOT NULL,
    text             text,
    options          jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('scheduled', 'queued', 'publishing', 'published',
                                                            'retry_scheduled', 'failed', 'cancelled', 'unknown')),
    run_at           timestamptz NOT NULL,
    attempts         integer     NOT NULL,
    provider_post_id text,
    url              text,
    error_code       text,
    error_message    text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    published_at     timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
);

CREATE INDEX post_targets_by_post ON post_targets (workspace_id, post_id);
CREATE INDEX post_targets_by_channel ON post_targets (workspace_id, channel_id, status);

-- One try at publishing a target, written before the provider is called. outcome NULL: under way.
CREATE TABLE publish_attempts (
    workspace_id     uuid        NOT NULL,
    id               uuid        NOT NULL,
    target_id        uuid        NOT NULL,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    outcome          text        CHECK (outcome IN ('published', 'retry', 'rate_limited', 'failed',
                                                    'needs_reauth', 'unknown')),
    provider_post_id text,
    error_code       text,
    error_message    text,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, target_id) REFERENCES post_targets (workspace_id, id) ON DELETE CASCADE
);

CREATE INDEX publish_attempts_open ON publish_attempts (workspace_id, target_id) WHERE outcome IS NULL;

-- The queue: one row per target still to be published (waiting or under way). Global, without
-- row-level security: workers lease across workspaces, and it holds only ids and times. Whatever
-- a worker then reads or writes about the target runs in the target's own tenant transaction.
CREATE TABLE jobs (
    workspace_id     uuid        NOT NULL,
    target_id        uuid        NOT NULL,
    channel_id       uuid        NOT NULL,
    run_at           timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    PRIMARY KEY (workspace_id, target_id),
    FOREIGN KEY (workspace_id, target_id) REFERENCES post_targets (workspace_id, id) ON DELETE CASCADE,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

CREATE INDEX jobs_due ON jobs (run_at) WHERE lease_owner IS NULL;
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_by_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_by_channel ON jobs (workspace_id, channel_id);

-- Events for webhooks and the live stream, numbered 1, 2, 3… per workspace in commit order
-- (appends are serialised per workspace by an advisory lock).
CREATE TABLE events (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    seq          bigint      NOT NULL,
    kind         text        NOT NULL,
    subject      text        NOT NULL,
    data         jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);

CREATE TABLE idempotency_keys (
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id),
    key             text        NOT NULL,
    fingerprint     bytea       NOT NULL,
    status          text        NOT NULL CHECK (status IN ('in_flight', 'done')),
    locked_until    timestamptz NOT NULL,
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (workspace_id, expires_at);

-- What the sandbox provider "published": every call, duplicates included (no unique target_id).
CREATE TABLE sandbox_deliveries (
    workspace_id uuid        NOT NULL,
    channel_id   uuid        NOT NULL,
    id           uuid        NOT NULL,
    target_id    uuid        NOT NULL,
    attempt_id   uuid        NOT NULL,
    text         text        NOT NULL,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
);

CREATE INDEX sandbox_deliveries_by_channel ON sandbox_deliveries (workspace_id, channel_id, delivered_at);

-- Row-level security on every new tenant table (jobs is global, see above).
ALTER TABLE channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON channels
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE posts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON posts
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE post_targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_targets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON post_targets
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE publish_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE publish_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON publish_attempts
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE sandbox_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE sandbox_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sandbox_deliveries
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON channels, posts, post_targets, publish_attempts, jobs,
            idempotency_keys, sandbox_deliveries TO crier_app;
        -- Events are appended, never rewritten (a retention job, if any, would run as the owner).
        GRANT SELECT, INSERT ON events TO crier_app;
    END IF;
END
$$;
