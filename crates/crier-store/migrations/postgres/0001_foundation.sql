-- Workspaces and API keys. Tenant tables lead their primary key with workspace_id, the sharding
-- key should the schema ever move to Citus.

CREATE TABLE workspaces (
    id         uuid        NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    mode         text        NOT NULL CHECK (mode IN ('live', 'test')),
    scopes       text        NOT NULL,
    key_hash     bytea       NOT NULL UNIQUE,
    redacted     text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    rotated_at   timestamptz,
    replaced_by  uuid,
    PRIMARY KEY (workspace_id, id)
);
