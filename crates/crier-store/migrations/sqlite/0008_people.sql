-- People signed in to the dashboard (see crier_core::people): server-side sessions, the second
-- factor, and failed sign-ins. Global tables like `users`: a session is found by the hash of its
-- cookie before any tenant is known. Secrets are stored only as SHA-256 hashes, the TOTP secret
-- sealed in `secrets`.

ALTER TABLE users ADD COLUMN totp_workspace_id BLOB;
ALTER TABLE users ADD COLUMN totp_secret_id BLOB;
-- The last TOTP time step accepted, so a code is never accepted twice.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

CREATE TABLE user_recovery_codes (
    user_id   BLOB NOT NULL REFERENCES users (id),
    code_hash BLOB NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

CREATE TABLE user_sessions (
    token_hash            BLOB NOT NULL PRIMARY KEY,
    id                    BLOB NOT NULL UNIQUE,
    user_id               BLOB NOT NULL REFERENCES users (id),
    workspace_id          BLOB NOT NULL REFERENCES workspaces (id),
    pending_second_factor INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    last_seen_at          INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    ip                    TEXT,
    user_agent            TEXT
) STRICT;
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);

-- One row per failed sign-in, by a hash of the subject (an e-mail address or an IP address).
CREATE TABLE login_failures (
    subject_hash BLOB NOT NULL,
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_by_subject ON login_failures (subject_hash, at);
