-- Secondary indexes keyed by a post's or a channel's id no longer start with workspace_id: those
-- ids are unique on their own, and the prefix made the indexes a trap for the planner. On a young
-- table that has no statistics yet, every index looks as cheap, and PostgreSQL took
-- post_targets_by_channel (workspace_id, ...) with a filter on id for the foreign-key checks of
-- jobs and publish_attempts. A connection keeps that plan, so every job inserted read every
-- target of its workspace until the next ANALYZE: on a new database the accept path spent most
-- of its time there. With these indexes, a lookup by (workspace_id, id) can only use the primary
-- key. A test checks every foreign key's lookup on a freshly migrated database
-- (`tests/postgres_plans.rs`).
DROP INDEX post_targets_by_post;
CREATE INDEX post_targets_by_post ON post_targets (post_id);

DROP INDEX post_targets_by_channel;
CREATE INDEX post_targets_by_channel ON post_targets (channel_id, status);

DROP INDEX jobs_by_channel;
CREATE INDEX jobs_by_channel ON jobs (channel_id);
