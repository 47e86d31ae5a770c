-- The vault's tables, the audit log, and row-level security on every tenant table.

-- Per-workspace data keys, each wrapped (encrypted) under a master key.
CREATE TABLE data_keys (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id),
    version       integer     NOT NULL,
    master_key_id text        NOT NULL,
    wrapped       bytea       NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, version)
);

-- Secrets sealed under a data key (platform tokens, webhook secrets, connect-flow state).
CREATE TABLE secrets (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    id           uuid        NOT NULL,
    purpose      text        NOT NULL,
    key_version  integer     NOT NULL,
    sealed       bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, key_version) REFERENCES data_keys (workspace_id, version)
);

CREATE INDEX secrets_by_key_version ON secrets (workspace_id, key_version);

-- Append-only, hash-chained per workspace (see crier_core::audit).
CREATE TABLE audit_events (
    workspace_id uuid        NOT NULL REFERENCES workspaces (id),
    seq          bigint      NOT NULL,
    id           uuid        NOT NULL,
    at           timestamptz NOT NULL,
    actor        text        NOT NULL,
    action       text        NOT NULL,
    target       text        NOT NULL,
    ip           text,
    user_agent   text,
    prev_hash    bytea       NOT NULL,
    hash         bytea       NOT NULL,
    PRIMARY KEY (workspace_id, seq)
);

CREATE FUNCTION crier_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION crier_refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION crier_refuse_audit_change();

-- Authentication must find a key before it knows the workspace, and api_keys is behind
-- row-level security; this global index holds only hashes and ids.
CREATE TABLE api_key_lookup (
    key_hash     bytea NOT NULL PRIMARY KEY,
    workspace_id uuid  NOT NULL,
    key_id       uuid  NOT NULL
);
INSERT INTO api_key_lookup (key_hash, workspace_id, key_id) SELECT key_hash, workspace_id, id FROM api_keys;

-- Row-level security: a tenant row is visible only inside a transaction that set
-- crier.workspace_id to its workspace (PgStore::tenant_tx does). FORCE applies it to the tables'
-- owner too; only superusers and BYPASSRLS roles escape it, so the service must not run as one.
CREATE FUNCTION crier_current_workspace() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('crier.workspace_id', true), '')::uuid
$$;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON data_keys
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON secrets
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

-- The application role: a NOLOGIN group that the service's login role is made a member of
-- (docs/SECURITY.md). Created here when the migrating role may create roles.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        BEGIN
            CREATE ROLE crier_app NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'cannot create role crier_app; create it and re-run the grants in docs/SECURITY.md';
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO crier_app', current_schema());
        GRANT SELECT, INSERT, UPDATE, DELETE ON workspaces, api_keys, api_key_lookup, data_keys, secrets TO crier_app;
        -- Append and read only: no UPDATE, DELETE or TRUNCATE on the audit log.
        GRANT SELECT, INSERT ON audit_events TO crier_app;
    END IF;
END
$$;
