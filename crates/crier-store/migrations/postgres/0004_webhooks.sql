-- Webhook endpoints, their deliveries (one per event and endpoint), each delivery's attempt log,
-- and the delivery queue.

CREATE TABLE webhook_endpoints (
    workspace_id               uuid        NOT NULL REFERENCES workspaces (id),
    id                         uuid        NOT NULL,
    url                        text        NOT NULL,
    description                text        NOT NULL,
    -- A JSON array of event types; empty: every type.
    event_types                jsonb       NOT NULL CHECK (jsonb_typeof(event_types) = 'array'),
    enabled                    boolean     NOT NULL,
    disabled_reason            text,
    secret_id                  uuid        NOT NULL,
    previous_secret_id         uuid,
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, secret_id) REFERENCES secrets (workspace_id, id),
    FOREIGN KEY (workspace_id, previous_secret_id) REFERENCES secrets (workspace_id, id),
    CHECK ((previous_secret_id IS NULL) = (previous_secret_expires_at IS NULL))
);

CREATE TABLE webhook_deliveries (
    workspace_id     uuid        NOT NULL,
    id               uuid        NOT NULL,
    endpoint_id      uuid        NOT NULL,
    event_seq        bigint      NOT NULL,
    event_kind       text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer     NOT NULL,
    next_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, event_seq) REFERENCES events (workspace_id, seq)
);

CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (workspace_id, endpoint_id, id);

CREATE TABLE webhook_delivery_attempts (
    workspace_id     uuid        NOT NULL,
    delivery_id      uuid        NOT NULL,
    number           integer     NOT NULL,
    attempted_at     timestamptz NOT NULL,
    status_code      integer,
    latency_ms       bigint      NOT NULL,
    response_excerpt text        NOT NULL,
    error            text,
    PRIMARY KEY (workspace_id, delivery_id, number),
    FOREIGN KEY (workspace_id, delivery_id) REFERENCES webhook_deliveries (workspace_id, id) ON DELETE CASCADE
);

-- Global like `jobs`: dispatchers lease across workspaces; it holds only ids and times.
CREATE TABLE webhook_jobs (
    workspace_id     uuid        NOT NULL,
    delivery_id      uuid        NOT NULL,
    run_at           timestamptz NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    PRIMARY KEY (workspace_id, delivery_id),
    FOREIGN KEY (workspace_id, delivery_id) REFERENCES webhook_deliveries (workspace_id, id) ON DELETE CASCADE,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

CREATE INDEX webhook_jobs_due ON webhook_jobs (run_at) WHERE lease_owner IS NULL;
CREATE INDEX webhook_jobs_leased ON webhook_jobs (lease_expires_at) WHERE lease_owner IS NOT NULL;

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE webhook_delivery_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_delivery_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_delivery_attempts
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries, webhook_jobs
            TO crier_app;
        -- The attempt log is appended to; it goes only with its delivery (ON DELETE CASCADE).
        GRANT SELECT, INSERT, DELETE ON webhook_delivery_attempts TO crier_app;
    END IF;
END
$$;
