//! Crier's vault: envelope encryption for the secrets Crier holds in its users' names.
//!
//! ```text
//! MasterKey (outside the database: env or key file)
//!   └─ wraps ─> DataKey per workspace and version (stored wrapped, in data_keys)
//!                 └─ seals ─> SealedSecret (stored in secrets)
//! ```
//! Both layers are AES-256-GCM with random 96-bit nonces. Additional authenticated data binds a
//! data key to its workspace and version, and a secret to its workspace, purpose, row id and key
//! version, so a ciphertext copied anywhere else fails to open.

mod cipher;
mod data_key;
mod error;
mod master_key;
mod secret;
mod service;

pub use data_key::{DataKey, SecretAad};
pub use error::VaultError;
pub use master_key::{Keyring, MasterKey, MasterKeyFiles, read_key};
pub use secret::SecretBytes;
pub use service::{MasterRotation, Vault, WorkspaceRotation};
