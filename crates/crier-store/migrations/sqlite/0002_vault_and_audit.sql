-- The vault's tables and the audit log.

-- Per-workspace data keys, each wrapped (encrypted) under a master key.
CREATE TABLE data_keys (
    workspace_id  BLOB    NOT NULL REFERENCES workspaces (id),
    version       INTEGER NOT NULL,
    master_key_id TEXT    NOT NULL,
    wrapped       BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, version)
) STRICT;

-- Secrets sealed under a data key (platform tokens, webhook secrets, connect-flow state).
CREATE TABLE secrets (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    id           BLOB    NOT NULL,
    purpose      TEXT    NOT NULL,
    key_version  INTEGER NOT NULL,
    sealed       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, key_version) REFERENCES data_keys (workspace_id, version)
) STRICT;

CREATE INDEX secrets_by_key_version ON secrets (workspace_id, key_version);

-- Append-only, hash-chained per workspace (see crier_core::audit).
CREATE TABLE audit_events (
    workspace_id BLOB    NOT NULL REFERENCES workspaces (id),
    seq          INTEGER NOT NULL,
    id           BLOB    NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    prev_hash    BLOB    NOT NULL,
    hash         BLOB    NOT NULL,
    PRIMARY KEY (workspace_id, seq)
) STRICT;

-- Defence in depth only: whoever can write the file can drop these. The hash chain is what
-- detects tampering (`crier audit verify`).
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
