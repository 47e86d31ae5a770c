-- People who sign in, and OAuth 2.1 for MCP clients (see crier_core::oauth). Global tables, like
-- the API key look-up: authentication finds a code or token by its hash before any tenant is
-- known, and each row names its workspace. Codes and tokens are stored only as SHA-256 hashes.

CREATE TABLE users (
    id            uuid NOT NULL PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE INDEX workspace_members_by_user ON workspace_members (user_id);

CREATE TABLE oauth_clients (
    client_id     text NOT NULL PRIMARY KEY,
    name          text NOT NULL,
    -- A JSON array of exact redirect URIs.
    redirect_uris text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE oauth_codes (
    code_hash      bytea NOT NULL PRIMARY KEY,
    client_id      text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    workspace_id   uuid NOT NULL REFERENCES workspaces (id),
    user_id        uuid NOT NULL REFERENCES users (id),
    redirect_uri   text NOT NULL,
    code_challenge text NOT NULL,
    scopes         text NOT NULL,
    resource       text NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE TABLE oauth_tokens (
    token_hash   bytea NOT NULL PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('access', 'refresh')),
    grant_id     uuid NOT NULL,
    client_id    text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    scopes       text NOT NULL,
    resource     text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    used_at      timestamptz
);

CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON users, workspace_members, oauth_clients, oauth_codes, oauth_tokens
            TO crier_app;
    END IF;
END
$$;
