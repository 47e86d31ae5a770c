-- People who sign in, and OAuth 2.1 for MCP clients (see crier_core::oauth). Global tables, like
-- the API key look-up: authentication finds a code or token by its hash before any tenant is
-- known, and each row names its workspace. Codes and tokens are stored only as SHA-256 hashes.

CREATE TABLE users (
    id            BLOB NOT NULL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE workspace_members (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;

CREATE INDEX workspace_members_by_user ON workspace_members (user_id);

CREATE TABLE oauth_clients (
    client_id     TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    -- A JSON array of exact redirect URIs.
    redirect_uris TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE oauth_codes (
    code_hash      BLOB NOT NULL PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    workspace_id   BLOB NOT NULL REFERENCES workspaces (id),
    user_id        BLOB NOT NULL REFERENCES users (id),
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    resource       TEXT NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE oauth_tokens (
    token_hash   BLOB NOT NULL PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    grant_id     BLOB NOT NULL,
    client_id    TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    scopes       TEXT NOT NULL,
    resource     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    used_at      INTEGER
) STRICT;

CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);
