-- Connected channels: who they publish as, and their sealed credentials; connect flows under way
-- (see crier_core::connect).
ALTER TABLE channels ADD COLUMN account TEXT;
ALTER TABLE channels ADD COLUMN credentials_secret_id BLOB;

CREATE TABLE connect_flows (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    id           BLOB    NOT NULL,
    provider     TEXT    NOT NULL,
    state_hash   BLOB    NOT NULL,
    secret_id    BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, secret_id) REFERENCES secrets (workspace_id, id)
) STRICT;


-- As on PostgreSQL, where it is the sweeper's only way across workspaces.
CREATE TABLE connect_flow_expiry (
    workspace_id BLOB    NOT NULL,
    flow_id      BLOB    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, flow_id),
    FOREIGN KEY (workspace_id, flow_id) REFERENCES connect_flows (workspace_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX connect_flow_expiry_due ON connect_flow_expiry (expires_at);
