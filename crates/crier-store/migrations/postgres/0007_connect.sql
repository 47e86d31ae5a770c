-- Connected channels: who they publish as, and their sealed credentials; connect flows under way
-- (see crier_core::connect).
ALTER TABLE channels ADD COLUMN account jsonb;
ALTER TABLE channels ADD COLUMN credentials_secret_id uuid;
ALTER TABLE channels ADD FOREIGN KEY (workspace_id, credentials_secret_id) REFERENCES secrets (workspace_id, id);

CREATE TABLE connect_flows (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    id           uuid        NOT NULL,
    provider     text        NOT NULL,
    state_hash   bytea       NOT NULL,
    secret_id    uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, secret_id) REFERENCES secrets (workspace_id, id)
);

-- Global like `jobs`: the sweeper finds expired flows across workspaces; ids and times only.
CREATE TABLE connect_flow_expiry (
    workspace_id uuid        NOT NULL,
    flow_id      uuid        NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, flow_id),
    FOREIGN KEY (workspace_id, flow_id) REFERENCES connect_flows (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX connect_flow_expiry_due ON connect_flow_expiry (expires_at);

ALTER TABLE connect_flows ENABLE ROW LEVEL SECURITY;
ALTER TABLE connect_flows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON connect_flows
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON connect_flows, connect_flow_expiry TO crier_app;
    END IF;
END
$$;
