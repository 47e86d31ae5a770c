-- Deleting a published post from its platform: the target's deletion state, a queue of
-- deletion jobs beside `jobs` (same shape, plus its own attempt count), and the sandbox's record
-- of what it deleted. See docs/PROVIDERS.md ("Deleting a published post").

ALTER TABLE post_targets ADD COLUMN deletion_status TEXT
    CHECK (deletion_status IN ('pending', 'deleted', 'failed'));
ALTER TABLE post_targets ADD COLUMN deletion_requested_at INTEGER;
ALTER TABLE post_targets ADD COLUMN deleted_at INTEGER;
ALTER TABLE post_targets ADD COLUMN deletion_error_code TEXT;
ALTER TABLE post_targets ADD COLUMN deletion_error_message TEXT;

-- One row per target whose deletion is waiting or under way. Global like `jobs`: only ids,
-- times and the lease; what the worker reads and writes about the target is tenant-scoped.
CREATE TABLE deletion_jobs (
    workspace_id     BLOB    NOT NULL,
    target_id        BLOB    NOT NULL,
    channel_id       BLOB    NOT NULL,
    run_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    PRIMARY KEY (workspace_id, target_id),
    FOREIGN KEY (workspace_id, target_id) REFERENCES post_targets (workspace_id, id) ON DELETE CASCADE,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) STRICT;

CREATE INDEX deletion_jobs_due ON deletion_jobs (run_at);

ALTER TABLE sandbox_deliveries ADD COLUMN deleted_at INTEGER;
