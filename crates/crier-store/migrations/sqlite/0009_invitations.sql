-- Invitations to join a workspace (single use, expiring; only the link token's hash is kept),
-- and workspace security settings. Global like `workspace_members`: an invitation is found by
-- its token's hash before any tenant is known.
CREATE TABLE invitations (
    id           BLOB NOT NULL PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    invited_by   BLOB NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    accepted_at  INTEGER
) STRICT;
CREATE INDEX invitations_by_workspace ON invitations (workspace_id, created_at);

CREATE TABLE workspace_security (
    workspace_id           BLOB NOT NULL PRIMARY KEY REFERENCES workspaces (id),
    require_second_factor  INTEGER NOT NULL
) STRICT;
