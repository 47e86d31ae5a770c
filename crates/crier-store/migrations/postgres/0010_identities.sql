-- Sign-in through another service (see crier_core::identity): the provider accounts linked to
-- people, and the short-lived state of sign-ins under way (only hashes of the random `state`
-- and of the browser's cookie; nothing secret). Global tables like `users`.
CREATE TABLE user_identities (
    provider   text        NOT NULL,
    subject    text        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES users (id),
    email      text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

CREATE TABLE sso_flows (
    state_hash   bytea       NOT NULL PRIMARY KEY,
    browser_hash bytea       NOT NULL,
    provider     text        NOT NULL,
    link_user_id uuid        REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sso_flows_by_expiry ON sso_flows (expires_at);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON user_identities, sso_flows TO crier_app;
    END IF;
END
$$;
