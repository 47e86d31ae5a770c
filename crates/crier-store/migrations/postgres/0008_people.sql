-- People signed in to the dashboard (see crier_core::people): server-side sessions, the second
-- factor, and failed sign-ins. Global tables like `users`: a session is found by the hash of its
-- cookie before any tenant is known. Secrets are stored only as SHA-256 hashes, the TOTP secret
-- sealed in `secrets`.

ALTER TABLE users ADD COLUMN totp_workspace_id uuid;
ALTER TABLE users ADD COLUMN totp_secret_id uuid;
-- The last TOTP time step accepted, so a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_last_step bigint;

CREATE TABLE user_recovery_codes (
    user_id   uuid  NOT NULL REFERENCES users (id),
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE user_sessions (
    token_hash            bytea       NOT NULL PRIMARY KEY,
    id                    uuid        NOT NULL UNIQUE,
    user_id               uuid        NOT NULL REFERENCES users (id),
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id),
    pending_second_factor boolean     NOT NULL,
    created_at            timestamptz NOT NULL,
    last_seen_at          timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    ip                    text,
    user_agent            text
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);

-- One row per failed sign-in, by a hash of the subject (an e-mail address or an IP address).
CREATE TABLE login_failures (
    subject_hash bytea       NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (subject_hash, at);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON user_recovery_codes, user_sessions, login_failures TO crier_app;
    END IF;
END
$$;
