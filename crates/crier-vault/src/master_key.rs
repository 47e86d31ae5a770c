//! The master key: the one secret an operator must keep (and back up) outside the database.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use crier_core::WorkspaceId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cipher;
use crate::data_key::DataKey;
use crate::error::VaultError;

pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

fn wrap_aad(workspace: WorkspaceId, version: i32) -> Vec<u8> {
    cipher::aad(&[b"crier.data-key.v1", workspace.as_uuid().as_bytes(), &version.to_be_bytes()])
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        Self::from_bytes(key)
    }

    fn from_bytes(key: Zeroizing<[u8; 32]>) -> Self {
        let digest =
            Sha256::new().chain_update(b"crier.master-key-id.v1").chain_update(key.as_ref()).finalize();
        let id = format!("mk_{}", digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>());
        Self { id, key }
    }

    /// Parses 32 bytes written in standard or URL-safe base64 (padding optional).
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| VaultError::MalformedMasterKey)?,
        );
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| VaultError::MalformedMasterKey)?;
        Ok(Self::from_bytes(Zeroizing::new(bytes)))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.key.as_ref()))
    }

    /// A fingerprint that names the key without revealing it (8 bytes of a domain-separated hash).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A key for `purpose` derived from this one (SHA-256 over a domain label, the purpose and the
    /// key): for short-lived signatures every node holding the master key can check, such as media
    /// links. Rotating the master key changes it.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let digest = Sha256::new()
            .chain_update(b"crier.derived-key.v1\0")
            .chain_update(purpose.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.key.as_ref())
            .finalize();
        Zeroizing::new(digest.into())
    }

    pub fn wrap(&self, data_key: &DataKey, workspace: WorkspaceId, version: i32) -> Vec<u8> {
        cipher::seal(&self.key, data_key.key.as_ref(), &wrap_aad(workspace, version))
    }

    pub fn unwrap(
        &self,
        wrapped: &[u8],
        workspace: WorkspaceId,
        version: i32,
    ) -> Result<DataKey, VaultError> {
        let failed = || VaultError::UnwrapFailed { workspace, version, master: self.id.clone() };
        let plain = cipher::open(&self.key, wrapped, &wrap_aad(workspace, version)).ok_or_else(failed)?;
        let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| failed())?;
        Ok(DataKey { key: Zeroizing::new(key) })
    }
}

/// The master keys a process holds: the current one (wraps new data keys) and any others still
/// needed to open data keys not yet re-wrapped (during or after an interrupted rotation).
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    others: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey) -> Self {
        Self { current, others: Vec::new() }
    }

    pub fn with(mut self, other: MasterKey) -> Self {
        if other.id != self.current.id && !self.others.iter().any(|k| k.id == other.id) {
            self.others.push(other);
        }
        self
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    pub fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current).chain(&self.others).find(|key| key.id == id)
    }

    pub fn ids(&self) -> String {
        std::iter::once(&self.current)
            .chain(&self.others)
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The key file layout in the data directory: `master.key`, plus `master.key.next` while a
/// rotation is under way and `master.key.old` after one (to be destroyed once the new key is
/// backed up). Each file holds one base64 line and is created with mode 0600.
#[derive(Debug, Clone)]
pub struct MasterKeyFiles {
    pub current: PathBuf,
}

impl MasterKeyFiles {
    pub fn new(current: impl Into<PathBuf>) -> Self {
        Self { current: current.into() }
    }

    pub fn next(&self) -> PathBuf {
        with_suffix(&self.current, ".next")
    }

    pub fn old(&self) -> PathBuf {
        with_suffix(&self.current, ".old")
    }

    /// Loads the keyring from the files, finishing a rotation that was interrupted between its
    /// two renames. `Ok(None)` when there is no key file at all.
    pub fn load(&self) -> Result<Option<Keyring>, VaultError> {
        let next = read_key(&self.next())?;
        match (read_key(&self.current)?, next) {
            (Some(current), Some(next)) => Ok(Some(Keyring::new(current).with(next))),
            (Some(current), None) => Ok(Some(Keyring::new(current))),
            (None, Some(next)) => {
                // The rotation finished re-wrapping and moved the old key aside; promote the new one.
                std::fs::rename(self.next(), &self.current).map_err(|e| file_error(&self.current, e))?;
                Ok(Some(Keyring::new(next)))
            }
            (None, None) => Ok(None),
        }
    }

    /// Writes a fresh key to `path`, refusing to overwrite anything. The key is written and synced
    /// to a temporary file first, then linked into place, so `path` never exists half-written
    /// (a crash mid-write would otherwise leave a file no run can read).
    pub fn create(path: &Path) -> Result<MasterKey, VaultError> {
        let key = MasterKey::generate();
        let staging = with_suffix(path, &format!(".tmp-{}", std::process::id()));
        // A leftover of a crashed earlier attempt by a process with the same id.
        let _ = std::fs::remove_file(&staging);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&staging).map_err(|e| file_error(&staging, e))?;
        let mut line = key.to_base64();
        line.push('\n');
        let written = file.write_all(line.as_bytes()).and_then(|()| file.sync_all());
        // hard_link, unlike rename, fails if `path` exists: nothing is ever overwritten.
        let placed = written.and_then(|()| std::fs::hard_link(&staging, path));
        let _ = std::fs::remove_file(&staging);
        placed.map_err(|e| file_error(path, e))?;
        Ok(key)
    }

    /// The pending rotation's key: reused if a previous attempt created it, else created.
    pub fn next_key(&self) -> Result<MasterKey, VaultError> {
        match read_key(&self.next())? {
            Some(key) => Ok(key),
            None => Self::create(&self.next()),
        }
    }

    /// After every data key is wrapped by the next key: `master.key` -> `.old`, `.next` -> `master.key`.
    pub fn promote_next(&self) -> Result<(), VaultError> {
        std::fs::rename(&self.current, self.old()).map_err(|e| file_error(&self.current, e))?;
        std::fs::rename(self.next(), &self.current).map_err(|e| file_error(&self.next(), e))
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_error(path: &Path, err: std::io::Error) -> VaultError {
    VaultError::KeyFile { path: path.display().to_string(), reason: err.to_string() }
}

/// Reads one key file; `Ok(None)` if it does not exist.
pub fn read_key(path: &Path) -> Result<Option<MasterKey>, VaultError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "the master key file is readable by other users; chmod 600 it");
                }
            }
            MasterKey::from_base64(&text).map(Some).map_err(|_| VaultError::KeyFile {
                path: path.display().to_string(),
                reason: "does not hold a base64 32-byte key".to_owned(),
            })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(file_error(path, err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose_and_master_key() {
        let key = MasterKey::generate();
        assert_eq!(*key.derive("media-links"), *key.derive("media-links"));
        assert_ne!(*key.derive("media-links"), *key.derive("other"));
        assert_ne!(*key.derive("media-links"), *MasterKey::generate().derive("media-links"));
        assert_ne!(key.derive("media-links").as_slice(), key.key.as_slice());
    }
}
