-- Media for posts (see crier_core::media), the global index of unfinished uploads' expiry, and
-- the media a post carries.

CREATE TABLE media (
    workspace_id   uuid        NOT NULL REFERENCES workspaces (id),
    id             uuid        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('uploading', 'ready')),
    file_name      text,
    declared_type  text,
    alt_text       text,
    source_url     text,
    expected_size  bigint      NOT NULL CHECK (expected_size >= 0),
    received       bigint      NOT NULL CHECK (received >= 0 AND received <= expected_size),
    parts          integer     NOT NULL CHECK (parts >= 0),
    storage_prefix text        NOT NULL,
    content_key_id uuid,
    mime           text,
    kind           text        CHECK (kind IN ('image', 'video')),
    width          integer,
    height         integer,
    duration_ms    bigint,
    video_codec    text,
    audio_codec    text,
    sha256         text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, content_key_id) REFERENCES secrets (workspace_id, id),
    CHECK ((status = 'ready') = (mime IS NOT NULL AND kind IS NOT NULL AND sha256 IS NOT NULL))
);

-- Global like `jobs`: the sweeper finds expired uploads across workspaces; ids and times only.
CREATE TABLE media_upload_expiry (
    workspace_id uuid        NOT NULL,
    media_id     uuid        NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, media_id),
    FOREIGN KEY (workspace_id, media_id) REFERENCES media (workspace_id, id) ON DELETE CASCADE
);

CREATE INDEX media_upload_expiry_due ON media_upload_expiry (expires_at);

-- A JSON array of media ids ("med_…"), in the order the post shows them.
ALTER TABLE posts ADD COLUMN media jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(media) = 'array');
ALTER TABLE sandbox_deliveries ADD COLUMN media jsonb NOT NULL DEFAULT '[]';

ALTER TABLE media ENABLE ROW LEVEL SECURITY;
ALTER TABLE media FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media
    USING (workspace_id = crier_current_workspace()) WITH CHECK (workspace_id = crier_current_workspace());

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crier_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON media, media_upload_expiry TO crier_app;
    END IF;
END
$$;
