-- Slack's and TikTok's deauthorization callbacks (Slack's `app_uninstalled` and `tokens_revoked`,
-- TikTok's `authorization.removed`) find their channels through the same global index as Meta's
-- (migration 0013). The id each names: for Slack the team, which a Slack channel's account id
-- (`{team id}/{channel id}`) begins with; for TikTok the user's open_id, the account id itself.
CREATE OR REPLACE FUNCTION crier_platform_account_id(provider text, account jsonb, config jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN provider = 'instagram' THEN COALESCE(config ->> 'meta_user_id', account ->> 'id')
                WHEN provider = 'slack' THEN split_part(account ->> 'id', '/', 1)
                ELSE account ->> 'id' END
$$;

CREATE OR REPLACE FUNCTION crier_index_platform_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.provider IN ('facebook', 'threads', 'instagram', 'slack', 'tiktok') AND NEW.account ->> 'id' IS NOT NULL THEN
        INSERT INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
        VALUES (NEW.provider, crier_platform_account_id(NEW.provider, NEW.account, NEW.config), NEW.workspace_id, NEW.id)
        ON CONFLICT (workspace_id, channel_id)
        DO UPDATE SET provider = EXCLUDED.provider, account_id = EXCLUDED.account_id;
    END IF;
    RETURN NULL;
END
$$;

-- Slack and TikTok channels connected before this migration (the owner reads past row-level
-- security once).
ALTER TABLE channels NO FORCE ROW LEVEL SECURITY;
INSERT INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    SELECT provider, crier_platform_account_id(provider, account, config), workspace_id, id FROM channels
    WHERE provider IN ('slack', 'tiktok') AND account ->> 'id' IS NOT NULL
ON CONFLICT (workspace_id, channel_id) DO NOTHING;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;
