//! Object paths that mean the same thing on disk and as S3 keys.

use object_store::path::Path;

use crate::BlobError;

/// Longest part accepted: the usual file-name limit, so the local backend never hits ENAMETOOLONG.
const MAX_PART_LEN: usize = 255;

/// A validated object path such as `ws_01H…/media/med_01H…`.
///
/// Parts are restricted to ASCII letters, digits and `-_.=`: Crier builds these paths from its own
/// ids, and a narrow alphabet means no part is ever percent-encoded differently by the local and S3
/// backends, none can climb out of the root (`..`), and none collides with the local backend's
/// `name#N` staging files for uploads in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPath(Path);

impl BlobPath {
    /// Joins `parts` with `/`; refuses no parts, empty parts, `.`, `..`, and any other character.
    pub fn new(parts: &[&str]) -> Result<Self, BlobError> {
        if parts.is_empty() {
            return Err(BlobError::InvalidPath("a blob path needs at least one part".into()));
        }
        for part in parts {
            check_part(part)?;
        }
        let joined = parts.join("/");
        Path::parse(&joined).map(Self).map_err(|e| BlobError::InvalidPath(e.to_string()))
    }

    /// The path as stored: parts joined by `/`. It is also bound into every encrypted chunk.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    pub(crate) fn object_path(&self) -> &Path {
        &self.0
    }
}

impl std::fmt::Display for BlobPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn check_part(part: &str) -> Result<(), BlobError> {
    let invalid = |why: &str| Err(BlobError::InvalidPath(format!("{part:?}: {why}")));
    if part.is_empty() {
        return invalid("empty part");
    }
    if part == "." || part == ".." {
        return invalid("relative parts are not allowed");
    }
    if part.len() > MAX_PART_LEN {
        return invalid("part longer than 255 bytes");
    }
    if let Some(c) = part.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')))
    {
        return invalid(&format!("character {c:?} is not allowed (only ASCII letters, digits and -_.=)"));
    }
    Ok(())
}
