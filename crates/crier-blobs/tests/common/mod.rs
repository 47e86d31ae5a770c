//! Helpers shared by the local, in-memory and S3 tests, and the story every backend must tell.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;
use crier_blobs::{BlobError, BlobPath, BlobStore, ContentKey};
use futures::{Stream, TryStreamExt, stream};
use rand::RngCore;

pub fn random(len: usize) -> Bytes {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    Bytes::from(bytes)
}

pub fn path(s: &str) -> BlobPath {
    BlobPath::new(&s.split('/').collect::<Vec<_>>()).unwrap()
}

/// `data` as a body stream of `piece`-byte items (the last one shorter), without copying.
pub fn feed(data: &Bytes, piece: usize) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + use<> {
    let data = data.clone();
    let starts = (0..data.len()).step_by(piece);
    stream::iter(starts.map(move |start| Ok(data.slice(start..(start + piece).min(data.len())))))
}

/// The whole object, or the first error its stream yields.
pub async fn read_all(
    store: &BlobStore,
    at: &BlobPath,
    key: Option<&ContentKey>,
) -> Result<Vec<u8>, BlobError> {
    store
        .get(at, key)
        .await?
        .try_fold(Vec::new(), |mut all, bytes| async move {
            all.extend_from_slice(&bytes);
            Ok(all)
        })
        .await
}

/// The size the crate docs promise: header, plaintext, a tag per 64 KiB chunk (at least one).
pub fn expected_stored_len(plaintext_len: usize) -> usize {
    32 + plaintext_len + 16 * plaintext_len.div_ceil(65536).max(1)
}

/// Whether any 32-byte window of `plaintext` occurs anywhere in `stored`.
///
/// Exact, and fast enough unoptimized: a 32-byte match always contains one of the plaintext's
/// 16-byte blocks at an offset divisible by 16, so only those blocks are indexed (by their first
/// 8 bytes), and each hit is widened to the 32-byte windows around it.
pub fn shares_a_32_byte_window(stored: &[u8], plaintext: &[u8]) -> bool {
    const W: usize = 32;
    const B: usize = 16;
    let word = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let mut blocks: HashMap<u64, Vec<usize>, BuildHasherDefault<Identity>> = HashMap::default();
    for a in (0..plaintext.len().saturating_sub(B - 1)).step_by(B) {
        blocks.entry(word(plaintext, a)).or_default().push(a);
    }
    (0..stored.len().saturating_sub(B - 1)).any(|q| {
        let Some(starts) = blocks.get(&word(stored, q)) else { return false };
        starts.iter().any(|&a| {
            (a.saturating_sub(W - B)..=a).any(|p| {
                let shift = a - p;
                p + W <= plaintext.len()
                    && q >= shift
                    && q - shift + W <= stored.len()
                    && stored[q - shift..q - shift + W] == plaintext[p..p + W]
            })
        })
    })
}

/// The random plaintext's own bytes are hash enough for the window index.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// What every backend must do: encrypted and plain round trips, refusals, deletes.
pub async fn story(store: &BlobStore) {
    let key = ContentKey::generate();
    let plain = random(200_000);
    let video = path("ws_1/media/med_video");
    assert!(!store.exists(&video).await.unwrap());
    assert!(matches!(read_all(store, &video, Some(&key)).await, Err(BlobError::NotFound)));

    assert_eq!(store.put(&video, Some(&key), feed(&plain, 4096)).await.unwrap(), 200_000);
    assert!(store.exists(&video).await.unwrap());
    assert_eq!(read_all(store, &video, Some(&key)).await.unwrap(), plain);
    let stored = read_all(store, &video, None).await.unwrap();
    assert_eq!(stored.len(), expected_stored_len(plain.len()));
    assert!(!shares_a_32_byte_window(&stored, &plain));
    let wrong = ContentKey::generate();
    assert!(matches!(read_all(store, &video, Some(&wrong)).await, Err(BlobError::BadKey)));

    let avatar = path("ws_1/media/med_avatar");
    let small = random(1000);
    assert_eq!(store.put(&avatar, None, feed(&small, 333)).await.unwrap(), 1000);
    assert_eq!(read_all(store, &avatar, None).await.unwrap(), small);
    assert!(matches!(read_all(store, &avatar, Some(&key)).await, Err(BlobError::Tampered)));

    let other_workspace = path("ws_10/media/med_video");
    store.put(&other_workspace, Some(&key), feed(&small, 1000)).await.unwrap();
    store.delete(&avatar).await.unwrap();
    store.delete(&avatar).await.unwrap();
    assert!(!store.exists(&avatar).await.unwrap());
    store.delete_prefix(&path("ws_1")).await.unwrap();
    assert!(!store.exists(&video).await.unwrap());
    assert_eq!(read_all(store, &other_workspace, Some(&key)).await.unwrap(), small);
    store.delete_prefix(&path("ws_10")).await.unwrap();
    assert!(!store.exists(&other_workspace).await.unwrap());
}
