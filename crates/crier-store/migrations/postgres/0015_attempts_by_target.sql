-- A post's timeline lists every attempt at its targets (the existing index covers only open ones).
CREATE INDEX publish_attempts_by_target ON publish_attempts (workspace_id, target_id, started_at);
