//! The per-object content key, and the two keys derived from it.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::BlobError;

/// A 32-byte key for one media object. The caller seals it with the workspace data key in the
/// vault; this crate only ever holds it in memory, zeroed on drop.
pub struct ContentKey(Zeroizing<[u8; 32]>);

impl ContentKey {
    /// A fresh random key from the thread-local CSPRNG (seeded from the OS).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        Self(key)
    }

    /// Wraps key bytes that were unsealed from the vault; anything but 32 bytes is [`BlobError::BadKey`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlobError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| BlobError::BadKey)?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The raw bytes, for sealing into the vault.
    pub fn expose(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// Subkeys from one HMAC-SHA256 each, so the AES key is never used for anything else and the
    /// header's key check reveals nothing about it.
    pub(crate) fn derive(&self) -> Result<DerivedKeys, BlobError> {
        Ok(DerivedKeys {
            encryption: self.prf(b"crier-blobs v1 encryption")?,
            check: self.prf(b"crier-blobs v1 key check")?,
        })
    }

    fn prf(&self, label: &[u8]) -> Result<Zeroizing<[u8; 32]>, BlobError> {
        // HMAC accepts keys of any length; the error arm is unreachable but costs nothing to keep.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.expose()).map_err(|_| BlobError::BadKey)?;
        mac.update(label);
        Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
    }
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(<redacted>)")
    }
}

pub(crate) struct DerivedKeys {
    pub(crate) encryption: Zeroizing<[u8; 32]>,
    pub(crate) check: Zeroizing<[u8; 32]>,
}
