-- Invitations to join a workspace (single use, expiring; only the link token's hash is kept),
-- and workspace security settings. Global like `workspace_members`: an invitation is found by
-- its token's hash before any tenant is known.
CREATE TABLE invitations (
    id           uuid        NOT NULL PRIMARY KEY,
    token_hash   bytea       NOT NULL UNIQUE,
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    email        text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_by   uuid        NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz
);
CREATE INDEX invitations_by_workspace ON invitations (workspace_id, created_at);

CREATE TABLE workspace_security (
    workspace_id           uuid    NOT NULL PRIMARY KEY REFERENCES workspaces (id),
    require_second_factor  boolean NOT NULL
);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON invitations, workspace_security TO crier_app;
    END IF;
END
$$;
