-- Platforms' deauthorization and data-deletion callbacks (Meta's signed_request) name a platform
-- user, not a workspace: as on PostgreSQL, their channels are found through this global index of
-- ids, kept by triggers for the providers that send such callbacks (an Instagram channel under the
-- Facebook user who connected it, whom Facebook Login's callbacks name).
CREATE TABLE channel_platform_accounts (
    provider     TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    workspace_id BLOB NOT NULL,
    channel_id   BLOB NOT NULL,
    PRIMARY KEY (workspace_id, channel_id),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX channel_platform_accounts_by_account ON channel_platform_accounts (provider, account_id);

CREATE TRIGGER channels_platform_account_insert AFTER INSERT ON channels
    WHEN NEW.provider IN ('facebook', 'threads', 'instagram') AND json_extract(NEW.account, '$.id') IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    VALUES (NEW.provider, CASE WHEN NEW.provider = 'instagram' THEN COALESCE(json_extract(NEW.config, '$.meta_user_id'), json_extract(NEW.account, '$.id')) ELSE json_extract(NEW.account, '$.id') END, NEW.workspace_id, NEW.id);
END;

CREATE TRIGGER channels_platform_account_update AFTER UPDATE OF provider, account, config ON channels
    WHEN NEW.provider IN ('facebook', 'threads', 'instagram') AND json_extract(NEW.account, '$.id') IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    VALUES (NEW.provider, CASE WHEN NEW.provider = 'instagram' THEN COALESCE(json_extract(NEW.config, '$.meta_user_id'), json_extract(NEW.account, '$.id')) ELSE json_extract(NEW.account, '$.id') END, NEW.workspace_id, NEW.id);
END;

INSERT INTO channel_platform_accounts (provider, account_id, workspace_id, channel_id)
    SELECT provider, CASE WHEN provider = 'instagram' THEN COALESCE(json_extract(config, '$.meta_user_id'), json_extract(account, '$.id')) ELSE json_extract(account, '$.id') END, workspace_id, id FROM channels
    WHERE provider IN ('facebook', 'threads', 'instagram') AND json_extract(account, '$.id') IS NOT NULL;

-- Data-deletion requests, for the status page the confirmation code opens: global, counts only.
CREATE TABLE data_deletion_requests (
    code_hash           BLOB    PRIMARY KEY,
    provider            TEXT    NOT NULL,
    received_at         INTEGER NOT NULL,
    channels            INTEGER NOT NULL,
    credentials_deleted INTEGER NOT NULL
) STRICT;
