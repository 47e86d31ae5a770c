-- Deleting a published post from its platform: the target's deletion state, a queue of
-- deletion jobs beside `jobs` (same shape, plus its own attempt count), and the sandbox's record
-- of what it deleted. See docs/PROVIDERS.md ("Deleting a published post").

ALTER TABLE post_targets ADD COLUMN deletion_status text
    CHECK (deletion_status IN ('pending', 'deleted', 'failed'));
ALTER TABLE post_targets ADD COLUMN deletion_requested_at timestamptz;
ALTER TABLE post_targets ADD COLUMN deleted_at timestamptz;
ALTER TABLE post_targets ADD COLUMN deletion_error_code text;
ALTER TABLE post_targets ADD COLUMN deletion_error_message text;

-- One row per target whose deletion is waiting or under way. Global like `jobs`: only ids,
-- times and the lease; what the worker reads and writes about the target is tenant-scoped.
CREATE TABLE deletion_jobs (
    workspace_id     uuid    NOT NULL,
    target_id        uuid    NOT NULL,
    channel_id       uuid    NOT NULL,
    run_at           timestamptz NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    PRIMARY KEY (workspace_id, target_id),
    FOREIGN KEY (workspace_id, target_id) REFERENCES post_targets (workspace_id, id) ON DELETE CASCADE,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

CREATE INDEX deletion_jobs_due ON deletion_jobs (run_at);

ALTER TABLE sandbox_deliveries ADD COLUMN deleted_at timestamptz;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON deletion_jobs TO crier_app;
    END IF;
END
$$;
