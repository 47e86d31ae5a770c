/// Everything that can go wrong storing or reading a blob.
///
/// Reading never yields silently wrong bytes: an encrypted object that was altered, cut short,
/// reordered or moved to another path surfaces as [`BlobError::Tampered`], mid-stream if need be.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no object at that path")]
    NotFound,
    #[error(
        "the stored object does not open: it was altered, truncated, reordered, moved from another path, \
         or is not an encrypted blob"
    )]
    Tampered,
    /// A content key of the wrong length, or (checked before any byte is decrypted) the wrong key.
    #[error("wrong content key: a content key is 32 bytes, and this object was sealed under another one")]
    BadKey,
    #[error("the encrypted object uses format version {0}, which this build cannot read")]
    UnsupportedVersion(u8),
    #[error("invalid blob path: {0}")]
    InvalidPath(String),
    /// The storage backend failed; the message names the operation, never credentials.
    #[error("object storage: {0}")]
    Storage(String),
    /// The caller's body stream failed, or is too large to encrypt.
    #[error("body: {0}")]
    Body(String),
}

impl BlobError {
    /// Maps a backend error, keeping "not found" distinct so callers can answer 404.
    pub(crate) fn storage(op: &str, err: object_store::Error) -> Self {
        match err {
            object_store::Error::NotFound { .. } => Self::NotFound,
            other => Self::Storage(format!("{op}: {other}")),
        }
    }
}
