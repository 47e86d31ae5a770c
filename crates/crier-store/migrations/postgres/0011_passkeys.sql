-- WebAuthn passkeys of dashboard users (see crier_core::passkeys) and the short-lived state of a
-- ceremony between its two requests. Global tables like `users`: a passkey is found by its
-- credential id, a ceremony by the hash of the id its browser holds, before any tenant is known.
-- A passkey row holds only public data (public key, counter, backup state).

CREATE TABLE user_passkeys (
    id            uuid        NOT NULL PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id),
    credential_id bytea       NOT NULL UNIQUE,
    passkey       text        NOT NULL,
    name          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);
CREATE INDEX user_passkeys_by_user ON user_passkeys (user_id, created_at);

-- Single use (deleted when taken) and expiring within minutes.
CREATE TABLE webauthn_ceremonies (
    id_hash    bytea       NOT NULL PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('register', 'sign_in', 'second_factor')),
    user_id    uuid        REFERENCES users (id),
    state      text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON user_passkeys, webauthn_ceremonies TO crier_app;
    END IF;
END
$$;
