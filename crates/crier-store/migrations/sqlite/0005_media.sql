-- Media for posts (see crier_core::media), the global index of unfinished uploads' expiry, and
-- the media a post carries.

CREATE TABLE media (
    workspace_id   BLOB    NOT NULL REFERENCES workspaces (id),
    id             BLOB    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('uploading', 'ready')),
    file_name      TEXT,
    declared_type  TEXT,
    alt_text       TEXT,
    source_url     TEXT,
    expected_size  INTEGER NOT NULL CHECK (expected_size >= 0),
    received       INTEGER NOT NULL CHECK (received >= 0 AND received <= expected_size),
    parts          INTEGER NOT NULL CHECK (parts >= 0),
    storage_prefix TEXT    NOT NULL,
    content_key_id BLOB,
    mime           TEXT,
    kind           TEXT    CHECK (kind IN ('image', 'video')),
    width          INTEGER,
    height         INTEGER,
    duration_ms    INTEGER,
    video_codec    TEXT,
    audio_codec    TEXT,
    sha256         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, content_key_id) REFERENCES secrets (workspace_id, id),
    CHECK ((status = 'ready') = (mime IS NOT NULL AND kind IS NOT NULL AND sha256 IS NOT NULL))
) STRICT;

-- Global like `jobs`: the sweeper finds expired uploads across workspaces; ids and times only.
CREATE TABLE media_upload_expiry (
    workspace_id BLOB    NOT NULL,
    media_id     BLOB    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, media_id),
    FOREIGN KEY (workspace_id, media_id) REFERENCES media (workspace_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX media_upload_expiry_due ON media_upload_expiry (expires_at);

-- A JSON array of media ids ("med_…"), in the order the post shows them.
ALTER TABLE posts ADD COLUMN media TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(media));
ALTER TABLE sandbox_deliveries ADD COLUMN media TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(media));
