-- The publishing pipeline: channels, posts and their targets, publish attempts, the durable job
-- queue, events, API idempotency keys and the sandbox provider's delivery record.

CREATE TABLE channels (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    id           BLOB    NOT NULL,
    provider     TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    config       TEXT    NOT NULL CHECK (json_valid(config)),
    status       TEXT    NOT NULL CHECK (status IN ('active', 'needs_reauth')),
    paused_until INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) STRICT;

CREATE TABLE posts (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    id           BLOB    NOT NULL,
    text         TEXT    NOT NULL,
    scheduled_at INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) STRICT;

-- One post on one channel. A target's lease is not stored here: it is read from its job.
-- Deleting a channel (allowed once all its targets are final) deletes its targets' history.
CREATE TABLE post_targets (
    workspace_id     BLOB    NOT NULL,
    id               BLOB    NOT NULL,
    post_id          BLOB    NOT NULL,
    channel_id       BLOB    NOT NULL,
    text             TEXT,
    options          TEXT    NOT NULL CHECK (json_valid(options)),
    status           TEXT    NOT NULL CHECK (status IN ('scheduled', 'queued', 'publishing', 'published',
                                                        'retry_scheduled', 'failed', 'cancelled', 'unknown')),
    run_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    provider_post_id TEXT,
    url              TEXT,
    error_code       TEXT,
    error_message    TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    published_at     INTEGER,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX post_targets_by_post ON post_targets (workspace_id, post_id);
CREATE INDEX post_targets_by_channel ON post_targets (workspace_id, channel_id, status);

-- One try at publishing a target, written before the provider is called. outcome NULL: under way.
CREATE TABLE publish_attempts (
    workspace_id     BLOB    NOT NULL,
    id               BLOB    NOT NULL,
    target_id        BLOB    NOT NULL,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    outcome          TEXT    CHECK (outcome IN ('published', 'retry', 'rate_limited', 'failed',
                                                'needs_reauth', 'unknown')),
    provider_post_id TEXT,
    error_code       TEXT,
    error_message    TEXT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, target_id) REFERENCES post_targets (workspace_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX publish_attempts_open ON publish_attempts (workspace_id, target_id) WHERE outcome IS NULL;

-- The queue: one row per target still to be published (waiting or under way), across workspaces.
CREATE TABLE jobs (
    workspace_id     BLOB    NOT NULL,
    target_id        BLOB    NOT NULL,
    channel_id       BLOB    NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    PRIMARY KEY (workspace_id, target_id),
    FOREIGN KEY (workspace_id, target_id) REFERENCES post_targets (workspace_id, id) ON DELETE CASCADE,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) STRICT;

CREATE INDEX jobs_due ON jobs (run_at) WHERE lease_owner IS NULL;
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_by_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_by_channel ON jobs (workspace_id, channel_id);

-- Events for webhooks and the live stream, numbered 1, 2, 3… per workspace in commit order.
CREATE TABLE events (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    seq          INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    data         TEXT    NOT NULL CHECK (json_valid(data)),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, seq)
) STRICT;

CREATE TABLE idempotency_keys (
    workspace_id    BLOB    NOT NULL REFERENCES workspaces (id),
    key             TEXT    NOT NULL,
    fingerprint     BLOB    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('in_flight', 'done')),
    locked_until    INTEGER NOT NULL,
    response_status INTEGER,
    response_body   BLOB,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
) STRICT;

CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (workspace_id, expires_at);

-- What the sandbox provider "published": every call, duplicates included (no unique target_id).
CREATE TABLE sandbox_deliveries (
    workspace_id BLOB    NOT NULL,
    channel_id   BLOB    NOT NULL,
    id           BLOB    NOT NULL,
    target_id    BLOB    NOT NULL,
    attempt_id   BLOB    NOT NULL,
    text         TEXT    NOT NULL,
    delivered_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sandbox_deliveries_by_channel ON sandbox_deliveries (workspace_id, channel_id, delivered_at);
