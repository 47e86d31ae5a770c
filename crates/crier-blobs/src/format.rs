//! The encrypted object format (described in the crate docs): a header, then STREAM chunks.
//!
//! Both directions are push-based state machines over byte buffers, so the store can feed them
//! whatever chunking the body or the backend happens to use, with memory bounded by one chunk.

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use bytes::{Bytes, BytesMut};
use rand::RngCore;

use crate::key::DerivedKeys;
use crate::{BlobError, BlobPath, ContentKey};

pub(crate) const MAGIC: &[u8; 4] = b"CRB1";
pub(crate) const VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 32;
/// Plaintext bytes per chunk: big enough that the 16-byte tags cost 0.02 %, small enough that a
/// reader holds little and a damaged video fails close to the damage.
pub(crate) const CHUNK_LEN: usize = 64 * 1024;
pub(crate) const TAG_LEN: usize = 16;
const NONCE_PREFIX_LEN: usize = 7;
const KEY_CHECK_LEN: usize = 16;
/// The largest chunk size a reader accepts from a header, so a forged header cannot make it
/// buffer without bound before the first tag is checked.
const MAX_CHUNK_LEN: usize = 1024 * 1024;

/// Bytes an encrypted object takes for `plaintext_len` bytes of media: the header, plus a tag per
/// chunk (an empty body still has one, empty, last chunk).
pub fn encrypted_len(plaintext_len: u64) -> u64 {
    let chunk = CHUNK_LEN as u64;
    let chunks = plaintext_len.div_ceil(chunk).max(1);
    HEADER_LEN as u64 + plaintext_len + chunks * TAG_LEN as u64
}

/// Every chunk's associated data: the whole header, then the object path. The header has a fixed
/// length, so the concatenation is unambiguous.
fn chunk_aad(header: &[u8], path: &BlobPath) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + path.as_str().len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(path.as_str().as_bytes());
    aad
}

fn cipher(keys: &DerivedKeys) -> Aes256Gcm {
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(keys.encryption.as_ref()))
}

/// Turns plaintext into the header and sealed chunks.
pub(crate) struct Sealer {
    encryptor: EncryptorBE32<Aes256Gcm>,
    aad: Vec<u8>,
    pending: BytesMut,
}

impl Sealer {
    /// A sealer with a fresh random nonce prefix, and the header to store before its chunks.
    pub(crate) fn new(key: &ContentKey, path: &BlobPath) -> Result<(Self, Bytes), BlobError> {
        let keys = key.derive()?;
        let mut prefix = [0u8; NONCE_PREFIX_LEN];
        rand::rng().fill_bytes(&mut prefix);
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        header.extend_from_slice(&prefix);
        header.extend_from_slice(&(CHUNK_LEN as u32).to_be_bytes());
        header.extend_from_slice(&keys.check[..KEY_CHECK_LEN]);
        let encryptor = EncryptorBE32::from_aead(cipher(&keys), prefix.as_ref().into());
        let aad = chunk_aad(&header, path);
        Ok((Self { encryptor, aad, pending: BytesMut::new() }, Bytes::from(header)))
    }

    pub(crate) fn push(&mut self, plaintext: &[u8]) {
        self.pending.extend_from_slice(plaintext);
    }

    /// The next complete non-last chunk, if one is buffered. A full chunk is held back until at
    /// least one more byte arrives, because only the end of the body tells which chunk is last.
    pub(crate) fn next_sealed(&mut self) -> Result<Option<Bytes>, BlobError> {
        if self.pending.len() <= CHUNK_LEN {
            return Ok(None);
        }
        let chunk = self.pending.split_to(CHUNK_LEN);
        let sealed = self
            .encryptor
            .encrypt_next(Payload { msg: &chunk, aad: &self.aad })
            // The only failure is the 32-bit chunk counter running out: 256 TiB.
            .map_err(|_| BlobError::Body("the body is too large to encrypt".into()))?;
        Ok(Some(Bytes::from(sealed)))
    }

    /// Seals what remains (possibly nothing) as the last chunk. Call after `next_sealed` is drained.
    pub(crate) fn finish(self) -> Result<Bytes, BlobError> {
        let sealed = self
            .encryptor
            .encrypt_last(Payload { msg: &self.pending, aad: &self.aad })
            .map_err(|_| BlobError::Body("the body is too large to encrypt".into()))?;
        Ok(Bytes::from(sealed))
    }
}

/// Turns a stored object back into plaintext, failing on the first chunk that does not verify.
pub(crate) struct Opener {
    keys: DerivedKeys,
    path: BlobPath,
    body: Option<Body>,
    pending: BytesMut,
}

struct Body {
    decryptor: DecryptorBE32<Aes256Gcm>,
    aad: Vec<u8>,
    sealed_chunk_len: usize,
}

impl Opener {
    pub(crate) fn new(key: &ContentKey, path: &BlobPath) -> Result<Self, BlobError> {
        Ok(Self { keys: key.derive()?, path: path.clone(), body: None, pending: BytesMut::new() })
    }

    pub(crate) fn push(&mut self, stored: &[u8]) {
        self.pending.extend_from_slice(stored);
    }

    /// The next verified plaintext chunk, if a complete non-last one is buffered.
    pub(crate) fn next_opened(&mut self) -> Result<Option<Bytes>, BlobError> {
        if self.body.is_none() {
            if self.pending.len() < HEADER_LEN {
                return Ok(None);
            }
            let header = self.pending.split_to(HEADER_LEN);
            self.body = Some(self.read_header(&header)?);
        }
        let Some(body) = self.body.as_mut() else { return Ok(None) };
        if self.pending.len() <= body.sealed_chunk_len {
            return Ok(None);
        }
        let sealed = self.pending.split_to(body.sealed_chunk_len);
        let plain = body
            .decryptor
            .decrypt_next(Payload { msg: &sealed, aad: &body.aad })
            .map_err(|_| BlobError::Tampered)?;
        Ok(Some(Bytes::from(plain)))
    }

    /// Opens the remaining bytes as the last chunk: a stream cut at a chunk boundary fails here,
    /// because the chunk it ends on was not sealed as the last one. Call after `next_opened` is drained.
    pub(crate) fn finish(mut self) -> Result<Bytes, BlobError> {
        let body = self.body.take().ok_or(BlobError::Tampered)?;
        if self.pending.len() < TAG_LEN || self.pending.len() > body.sealed_chunk_len {
            return Err(BlobError::Tampered);
        }
        let plain = body
            .decryptor
            .decrypt_last(Payload { msg: &self.pending, aad: &body.aad })
            .map_err(|_| BlobError::Tampered)?;
        Ok(Bytes::from(plain))
    }

    fn read_header(&self, header: &[u8]) -> Result<Body, BlobError> {
        let (magic, rest) = header.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(BlobError::Tampered);
        }
        let (version, rest) = rest.split_at(1);
        if version[0] != VERSION {
            return Err(BlobError::UnsupportedVersion(version[0]));
        }
        let (prefix, rest) = rest.split_at(NONCE_PREFIX_LEN);
        let (chunk_len, key_check) = rest.split_at(4);
        let chunk_len = u32::from_be_bytes(chunk_len.try_into().map_err(|_| BlobError::Tampered)?) as usize;
        if chunk_len == 0 || chunk_len > MAX_CHUNK_LEN {
            return Err(BlobError::Tampered);
        }
        // The check value is public (it is in every object sealed under this key), so a plain
        // comparison leaks nothing worth a constant-time one.
        if key_check != &self.keys.check[..KEY_CHECK_LEN] {
            return Err(BlobError::BadKey);
        }
        let decryptor = DecryptorBE32::from_aead(cipher(&self.keys), prefix.into());
        Ok(Body { decryptor, aad: chunk_aad(header, &self.path), sealed_chunk_len: chunk_len + TAG_LEN })
    }
}
