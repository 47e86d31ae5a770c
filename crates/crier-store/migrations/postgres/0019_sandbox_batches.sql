-- The sandbox's record of publishes, several at once (PgStore::record_sandbox_deliveries): the
-- sandbox gathers the deliveries of concurrent publishes into one statement. Committed
-- asynchronously like the one-delivery function it replaces: see the comment in
-- postgres/sandbox.rs for why that is safe for this record alone.
DROP FUNCTION crier_record_sandbox_delivery(uuid, uuid, uuid, uuid, uuid, text, jsonb, timestamptz);

CREATE FUNCTION crier_record_sandbox_deliveries(
    workspace uuid, channels uuid[], deliveries uuid[], targets uuid[], attempts uuid[], texts text[],
    media jsonb[], delivered timestamptz[]
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('crier.workspace_id', workspace::text, true);
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO sandbox_deliveries (workspace_id, channel_id, id, target_id, attempt_id, text, media, delivered_at)
        SELECT workspace, d.channel, d.id, d.target, d.attempt, d.body, d.media, d.at
        FROM unnest(channels, deliveries, targets, attempts, texts, media, delivered)
            AS d(channel, id, target, attempt, body, media, at);
END
$$;
