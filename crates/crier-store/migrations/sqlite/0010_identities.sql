-- Sign-in through another service (see crier_core::identity): the provider accounts linked to
-- people, and the short-lived state of sign-ins under way (only hashes of the random `state`
-- and of the browser's cookie; nothing secret). Global tables like `users`.
CREATE TABLE user_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    email      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
) STRICT;
CREATE INDEX user_identities_by_user ON user_identities (user_id);

CREATE TABLE sso_flows (
    state_hash   BLOB NOT NULL PRIMARY KEY,
    browser_hash BLOB NOT NULL,
    provider     TEXT NOT NULL,
    link_user_id BLOB REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_flows_by_expiry ON sso_flows (expires_at);
