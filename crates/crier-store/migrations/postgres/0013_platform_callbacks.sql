-- Platforms' deauthorization and data-deletion callbacks (Meta's signed_request) name a platform
-- user, not a workspace. Finding that user's channels is the one deliberately cross-tenant read
-- of channels: through this global index of ids (like `jobs`), kept by a trigger for the providers
-- that send such callbacks, never through an unscoped query on `channels` (which row-level
-- security would answer with nothing). Each channel found is then changed in its own workspace's
-- transaction.
CREATE TABLE channel_platform_accounts (
    provider     text NOT NULL,
    account_id   text NOT NULL,
    workspace_id uuid NOT NULL,
    channel_id   uuid NOT NULL,
    PRIMARY KEY (workspace_id, channel_id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX channel_platform_accounts_by_account ON channel_platform_accounts (provider, account_id);

-- The id Meta's callbacks name: the account's own (a Page's connecting user, a Threads user), but
-- for Instagram (connected through Facebook Login) the Facebook user who connected it.
CREATE FUNCTION crier_platform_account_id(provider text, account jsonb, config jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN provider = 'instagram' THEN COALESCE(config ->> 'meta_user_id', account ->> 'id')
                ELSE account ->> 'id' END
$$;

CREATE FUNCTION crier_index_platform_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.provider IN ('facebook', 'threads', 'instagram') AND NEW.account ->> 'id' IS NOT NULL THEN
        INSERT INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
        VALUES (NEW.provider, crier_platform_account_id(NEW.provider, NEW.account, NEW.config), NEW.workspace_id, NEW.id)
        ON CONFLICT (workspace_id, channel_id)
        DO UPDATE SET provider = EXCLUDED.provider, account_id = EXCLUDED.account_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER channels_platform_account AFTER INSERT OR UPDATE OF provider, account, config ON channels
    FOR EACH ROW EXECUTE FUNCTION crier_index_platform_account();

-- Channels connected before this migration (the owner reads past row-level security once).
ALTER TABLE channels NO FORCE ROW LEVEL SECURITY;
INSERT INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    SELECT provider, crier_platform_account_id(provider, account, config), workspace_id, id FROM channels
    WHERE provider IN ('facebook', 'threads', 'instagram') AND account ->> 'id' IS NOT NULL;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;

-- Data-deletion requests, for the status page the confirmation code opens: global, counts only.
CREATE TABLE data_deletion_requests (
    code_hash           bytea       PRIMARY KEY,
    provider            text        NOT NULL,
    received_at         timestamptz NOT NULL,
    channels            bigint      NOT NULL,
    credentials_deleted bigint      NOT NULL
);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON channel_platform_accounts TO crier_app;
        GRANT SELECT, INSERT ON data_deletion_requests TO crier_app;
    END IF;
END
$$;
