use std::fmt;

use crier_core::{SecretId, WorkspaceId};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::cipher;
use crate::secret::SecretBytes;

/// What a sealed secret is bound to. Changing any field makes the ciphertext unopenable.
#[derive(Debug, Clone, Copy)]
pub struct SecretAad<'a> {
    pub workspace: WorkspaceId,
    pub purpose: &'a str,
    pub row: SecretId,
    pub key_version: i32,
}

impl SecretAad<'_> {
    fn encode(&self) -> Vec<u8> {
        cipher::aad(&[
            b"crier.secret.v1",
            self.workspace.as_uuid().as_bytes(),
            self.purpose.as_bytes(),
            self.row.as_uuid().as_bytes(),
            &self.key_version.to_be_bytes(),
        ])
    }
}

/// A workspace's data key in the clear. Only ever held in memory, zeroed on drop.
pub struct DataKey {
    pub(crate) key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        Self { key }
    }

    pub fn seal(&self, plaintext: &[u8], aad: &SecretAad<'_>) -> Vec<u8> {
        cipher::seal(&self.key, plaintext, &aad.encode())
    }

    pub fn open(&self, sealed: &[u8], aad: &SecretAad<'_>) -> Option<SecretBytes> {
        cipher::open(&self.key, sealed, &aad.encode()).map(SecretBytes::new)
    }
}
