-- One round trip, not three, for the hottest tenant statements (the accept path, and the
-- sandbox's record of a publish; see docs/PERFORMANCE.md). Inside PgStore::tenant_tx a
-- statement costs BEGIN + set_config, the statement and COMMIT. Each function below sets crier.workspace_id itself, local to the
-- transaction it runs in (the statement's own, when called outside one), then does its work.
-- They run as the caller (SECURITY INVOKER, the default), so row-level security still applies
-- exactly as in tenant_tx: the workspace named is the only one visible.

-- Authentication: the global hash index, then the key row inside its own workspace, checked
-- against the index's id (as find_api_key_by_hash did in two transactions).
CREATE FUNCTION crier_api_key_by_hash(hash bytea) RETURNS SETOF api_keys
LANGUAGE plpgsql AS $$
DECLARE
    indexed api_key_lookup;
BEGIN
    SELECT * INTO indexed FROM api_key_lookup WHERE key_hash = hash;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('crier.workspace_id', indexed.workspace_id::text, true);
    RETURN QUERY SELECT * FROM api_keys k
        WHERE k.workspace_id = indexed.workspace_id AND k.key_hash = hash AND k.id = indexed.key_id;
END
$$;

-- The channels a post names, read for validation.
CREATE FUNCTION crier_channels_by_ids(workspace uuid, ids uuid[]) RETURNS SETOF channels
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('crier.workspace_id', workspace::text, true);
    RETURN QUERY SELECT * FROM channels c WHERE c.workspace_id = workspace AND c.id = ANY (ids);
END
$$;

-- The idempotency claim's common case: a key not seen before. True when this call claimed it;
-- false sends the caller to the full compare-and-swap in a transaction.
CREATE FUNCTION crier_claim_idempotency_key(
    workspace uuid, claimed_key text, claimed_fingerprint bytea, claimed_until timestamptz,
    claimed_at timestamptz, claim_expires timestamptz
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    inserted integer;
BEGIN
    PERFORM set_config('crier.workspace_id', workspace::text, true);
    INSERT INTO idempotency_keys (workspace_id, key, fingerprint, status, locked_until, created_at, expires_at)
        VALUES (workspace, claimed_key, claimed_fingerprint, 'in_flight', claimed_until, claimed_at, claim_expires)
        ON CONFLICT (workspace_id, key) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted = 1;
END
$$;

-- The sandbox's record of one publish (PgStore::record_sandbox_delivery), committed
-- asynchronously: see the comment there for why that is safe for this record alone.
CREATE FUNCTION crier_record_sandbox_delivery(
    workspace uuid, channel uuid, delivery uuid, target uuid, attempt uuid, delivered_text text,
    delivered_media jsonb, at timestamptz
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('crier.workspace_id', workspace::text, true);
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO sandbox_deliveries (workspace_id, channel_id, id, target_id, attempt_id, text, media, delivered_at)
        VALUES (workspace, channel, delivery, target, attempt, delivered_text, delivered_media, at);
END
$$;
