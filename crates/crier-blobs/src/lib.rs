//! Crier's media bytes (images, videos up to 1 GiB) in object storage, streamed both ways with
//! bounded memory, and encrypted at rest when the caller gives a content key.
//!
//! The backend is a folder under the data dir by default ([`BlobStore::local`]) or an
//! S3-compatible bucket ([`BlobStore::s3`]), both through `object_store`. Uploads are multipart and
//! complete only at the end of the body, so a failed or abandoned upload leaves nothing behind.
//!
//! # Keys
//! The caller generates one random [`ContentKey`] per media object and seals it with the
//! workspace's data key in Crier's vault; this crate only sees the 32-byte content key. Two keys
//! are derived from it with HMAC-SHA256: the AES-256-GCM key (label `crier-blobs v1 encryption`)
//! and a key check (label `crier-blobs v1 key check`), so a wrong key is told apart from a
//! damaged object before any byte is decrypted, and no other key opens an object (AES-GCM alone
//! does not commit to its key). Without a key (the vault is optional in Crier), bytes are stored
//! as they are.
//!
//! # Encrypted object format, version 1
//! ```text
//! header, 32 bytes:
//!   0..4    magic "CRB1"
//!   4       format version, 1
//!   5..12   nonce prefix: 7 random bytes, fresh per object
//!   12..16  plaintext chunk size, u32 big-endian: 65536
//!   16..32  key check: the first 16 bytes of HMAC-SHA256(content key, "crier-blobs v1 key check")
//! then one or more chunks:
//!   AES-256-GCM(plaintext chunk) || 16-byte tag
//! ```
//! Chunks follow the STREAM construction (`aead::stream::EncryptorBE32`, nonce-based OAE2 after
//! Hoang, Reyhanitabar, Rogaway and Vizár, "Online Authenticated-Encryption and its
//! Nonce-Reuse Misuse-Resistance", 2015): chunk *i*'s 96-bit nonce is the prefix, *i* as a u32
//! big-endian, and a last-chunk flag byte. Every chunk but the last holds exactly 65536 plaintext
//! bytes; the last holds 0 to 65536 (an empty body is one empty last chunk), so an object of *n*
//! bytes stores `32 + n + 16 * max(1, ceil(n / 65536))` bytes ([`encrypted_len`]). The counter
//! makes reordered or dropped chunks fail, and the flag makes an object cut at a chunk boundary
//! fail instead of reading as a shorter one. Every chunk's associated data is the 32-byte header
//! followed by the object path, so a header edit, or an object copied to another media's path,
//! fails too.

mod error;
mod format;
mod key;
mod multipart;
mod path;
mod store;

pub use error::BlobError;
pub use format::encrypted_len;
pub use key::ContentKey;
pub use path::BlobPath;
pub use store::{BlobStore, S3Settings};
