-- Webhook endpoints, their deliveries (one per event and endpoint), each delivery's attempt log,
-- and the delivery queue.

CREATE TABLE webhook_endpoints (
    workspace_id               BLOB    NOT NULL REFERENCES workspaces (id),
    id                         BLOB    NOT NULL,
    url                        TEXT    NOT NULL,
    description                TEXT    NOT NULL,
    -- A JSON array of event types; empty: every type.
    event_types                TEXT    NOT NULL CHECK (json_type(event_types) = 'array'),
    enabled                    INTEGER NOT NULL,
    disabled_reason            TEXT,
    secret_id                  BLOB    NOT NULL,
    previous_secret_id         BLOB,
    previous_secret_expires_at INTEGER,
    failing_since              INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, secret_id) REFERENCES secrets (workspace_id, id),
    FOREIGN KEY (workspace_id, previous_secret_id) REFERENCES secrets (workspace_id, id),
    CHECK ((previous_secret_id IS NULL) = (previous_secret_expires_at IS NULL))
) STRICT;

CREATE TABLE webhook_deliveries (
    workspace_id     BLOB    NOT NULL,
    id               BLOB    NOT NULL,
    endpoint_id      BLOB    NOT NULL,
    event_seq        INTEGER NOT NULL,
    event_kind       TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, event_seq) REFERENCES events (workspace_id, seq)
) STRICT;

CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (workspace_id, endpoint_id, id);

CREATE TABLE webhook_delivery_attempts (
    workspace_id     BLOB    NOT NULL,
    delivery_id      BLOB    NOT NULL,
    number           INTEGER NOT NULL,
    attempted_at     INTEGER NOT NULL,
    status_code      INTEGER,
    latency_ms       INTEGER NOT NULL,
    response_excerpt TEXT    NOT NULL,
    error            TEXT,
    PRIMARY KEY (workspace_id, delivery_id, number),
    FOREIGN KEY (workspace_id, delivery_id) REFERENCES webhook_deliveries (workspace_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE webhook_jobs (
    workspace_id     BLOB    NOT NULL,
    delivery_id      BLOB    NOT NULL,
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    PRIMARY KEY (workspace_id, delivery_id),
    FOREIGN KEY (workspace_id, delivery_id) REFERENCES webhook_deliveries (workspace_id, id) ON DELETE CASCADE,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) STRICT;

CREATE INDEX webhook_jobs_due ON webhook_jobs (run_at) WHERE lease_owner IS NULL;
CREATE INDEX webhook_jobs_leased ON webhook_jobs (lease_expires_at) WHERE lease_owner IS NOT NULL;
