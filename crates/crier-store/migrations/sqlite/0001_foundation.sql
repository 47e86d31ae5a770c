-- Workspaces and API keys. Timestamps are microseconds since the Unix epoch (UTC), ids are the
-- 16 bytes of a UUID. Tenant tables lead their primary key with workspace_id.

CREATE TABLE workspaces (
    id         BLOB    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    id           BLOB    NOT NULL,
    name         TEXT    NOT NULL,
    mode         TEXT    NOT NULL CHECK (mode IN ('live', 'test')),
    scopes       TEXT    NOT NULL,
    key_hash     BLOB    NOT NULL UNIQUE,
    redacted     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    rotated_at   INTEGER,
    replaced_by  BLOB,
    PRIMARY KEY (workspace_id, id)
) STRICT;
