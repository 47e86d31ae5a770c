-- Slack's and TikTok's deauthorization callbacks find their channels through the same global
-- index as Meta's (migration 0013): the triggers are remade with the two providers added. The id
-- each names: for Slack the team, which a Slack channel's account id (`{team id}/{channel id}`)
-- begins with; for TikTok the user's open_id, the account id itself.
DROP TRIGGER channels_platform_account_insert;
DROP TRIGGER channels_platform_account_update;

CREATE TRIGGER channels_platform_account_insert AFTER INSERT ON channels
    WHEN NEW.provider IN ('facebook', 'threads', 'instagram', 'slack', 'tiktok') AND json_extract(NEW.account, '$.id') IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    VALUES (NEW.provider, CASE WHEN NEW.provider = 'instagram' THEN COALESCE(json_extract(NEW.config, '$.meta_user_id'), json_extract(NEW.account, '$.id'))
                               WHEN NEW.provider = 'slack' AND instr(json_extract(NEW.account, '$.id'), '/') > 0 THEN substr(json_extract(NEW.account, '$.id'), 1, instr(json_extract(NEW.account, '$.id'), '/') - 1)
                               ELSE json_extract(NEW.account, '$.id') END, NEW.workspace_id, NEW.id);
END;

CREATE TRIGGER channels_platform_account_update AFTER UPDATE OF provider, account, config ON channels
    WHEN NEW.provider IN ('facebook', 'threads', 'instagram', 'slack', 'tiktok') AND json_extract(NEW.account, '$.id') IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    VALUES (NEW.provider, CASE WHEN NEW.provider = 'instagram' THEN COALESCE(json_extract(NEW.config, '$.meta_user_id'), json_extract(NEW.account, '$.id'))
                               WHEN NEW.provider = 'slack' AND instr(json_extract(NEW.account, '$.id'), '/') > 0 THEN substr(json_extract(NEW.account, '$.id'), 1, instr(json_extract(NEW.account, '$.id'), '/') - 1)
                               ELSE json_extract(NEW.account, '$.id') END, NEW.workspace_id, NEW.id);
END;

INSERT OR IGNORE INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    SELECT provider, CASE WHEN provider = 'slack' AND instr(json_extract(account, '$.id'), '/') > 0 THEN substr(json_extract(account, '$.id'), 1, instr(json_extract(account, '$.id'), '/') - 1)
                          ELSE json_extract(account, '$.id') END, workspace_id, id FROM channels
    WHERE provider IN ('slack', 'tiktok') AND json_extract(account, '$.id') IS NOT NULL;
