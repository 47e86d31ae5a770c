-- WebAuthn passkeys of dashboard users (see crier_core::passkeys) and the short-lived state of a
-- ceremony between its two requests. Global tables like `users`: a passkey is found by its
-- credential id, a ceremony by the hash of the id its browser holds, before any tenant is known.
-- A passkey row holds only public data (public key, counter, backup state).

CREATE TABLE user_passkeys (
    id            BLOB    NOT NULL PRIMARY KEY,
    user_id       BLOB    NOT NULL REFERENCES users (id),
    credential_id BLOB    NOT NULL UNIQUE,
    passkey       TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;
CREATE INDEX user_passkeys_by_user ON user_passkeys (user_id, created_at);

-- Single use (deleted when taken) and expiring within minutes.
CREATE TABLE webauthn_ceremonies (
    id_hash    BLOB    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('register', 'sign_in', 'second_factor')),
    user_id    BLOB    REFERENCES users (id),
    state      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
