//! The blob store on the local folder and in memory: round trips at chunk edges, what reaches the
//! disk, and every way a stored object can be damaged or moved.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{expected_stored_len, feed, path, random, read_all, shares_a_32_byte_window, story};
use crier_blobs::{BlobError, BlobPath, BlobStore, ContentKey, S3Settings, encrypted_len};
use futures::{StreamExt, stream};

const CHUNK: usize = 65536;
const SEALED_CHUNK: usize = CHUNK + 16;
const HEADER: usize = 32;

fn local() -> (tempfile::TempDir, PathBuf, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data").join("blobs");
    let store = BlobStore::local(&root).unwrap();
    (dir, root, store)
}

/// Every regular file under `dir`, so tests can tell that nothing was left behind.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            found.extend(files_under(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}

async fn round_trip(size: usize) {
    let (_dir, root, store) = local();
    let key = ContentKey::generate();
    let plain = random(size);
    for piece in [1, 1000, 1 << 20] {
        let at = path(&format!("ws_1/media/med_{piece}"));
        assert_eq!(store.put(&at, Some(&key), feed(&plain, piece)).await.unwrap(), size as u64);
        let back = read_all(&store, &at, Some(&key)).await.unwrap();
        assert!(back == plain, "size {size}, pieces of {piece}: read back {} different bytes", back.len());

        let stored = std::fs::read(root.join(format!("ws_1/media/med_{piece}"))).unwrap();
        assert_eq!(stored.len(), expected_stored_len(size), "size {size}, pieces of {piece}");
        assert_eq!(encrypted_len(size as u64), stored.len() as u64);
        assert!(stored != plain[..]);
        assert!(!shares_a_32_byte_window(&stored, &plain), "size {size}: plaintext on disk");
    }
}

#[tokio::test]
async fn round_trip_0_bytes() {
    round_trip(0).await;
}

#[tokio::test]
async fn round_trip_1_byte() {
    round_trip(1).await;
}

#[tokio::test]
async fn round_trip_65535_bytes() {
    round_trip(CHUNK - 1).await;
}

#[tokio::test]
async fn round_trip_65536_bytes() {
    round_trip(CHUNK).await;
}

#[tokio::test]
async fn round_trip_65537_bytes() {
    round_trip(CHUNK + 1).await;
}

#[tokio::test]
async fn round_trip_5_mib_and_3_bytes() {
    round_trip(5 * 1024 * 1024 + 3).await;
}

/// A 4-chunk object (3 full, 1 short) on disk, for damaging by hand.
struct OnDisk {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: BlobStore,
    key: ContentKey,
    at: BlobPath,
    file: PathBuf,
    stored: Vec<u8>,
    plain: Bytes,
}

async fn on_disk() -> OnDisk {
    let (dir, root, store) = local();
    let key = ContentKey::generate();
    let plain = random(3 * CHUNK + 3392);
    let at = path("ws_1/media/med_1");
    store.put(&at, Some(&key), feed(&plain, 10_000)).await.unwrap();
    let file = root.join("ws_1/media/med_1");
    let stored = std::fs::read(&file).unwrap();
    assert_eq!(stored.len(), HEADER + 4 * 16 + plain.len());
    OnDisk { _dir: dir, root, store, key, at, file, stored, plain }
}

impl OnDisk {
    async fn read_with(&self, bytes: &[u8]) -> Result<Vec<u8>, BlobError> {
        std::fs::write(&self.file, bytes).unwrap();
        read_all(&self.store, &self.at, Some(&self.key)).await
    }
}

#[tokio::test]
async fn flipping_any_byte_is_detected() {
    let o = on_disk().await;
    assert_eq!(o.read_with(&o.stored).await.unwrap(), o.plain);
    let last = o.stored.len() - 1;
    let middle_chunk = HEADER + SEALED_CHUNK + 1000;
    let last_chunk = HEADER + 3 * SEALED_CHUNK + 5;
    let mut positions: Vec<usize> = (0..HEADER).collect();
    positions.extend([HEADER, middle_chunk, HEADER + 2 * SEALED_CHUNK - 1, last_chunk, last]);
    for at in positions {
        let mut damaged = o.stored.clone();
        damaged[at] ^= 0x01;
        let result = o.read_with(&damaged).await;
        if at < HEADER {
            assert!(
                matches!(
                    result,
                    Err(BlobError::Tampered | BlobError::BadKey | BlobError::UnsupportedVersion(_))
                ),
                "header byte {at}: {:?}",
                result.map(|b| b.len())
            );
        } else {
            assert!(matches!(result, Err(BlobError::Tampered)), "byte {at}: {:?}", result.map(|b| b.len()));
        }
    }
}

#[tokio::test]
async fn a_damaged_object_yields_verified_chunks_then_an_error() {
    let o = on_disk().await;
    let mut damaged = o.stored.clone();
    damaged[HEADER + 2 * SEALED_CHUNK + 7] ^= 0x80;
    std::fs::write(&o.file, &damaged).unwrap();
    let items: Vec<_> = o.store.get(&o.at, Some(&o.key)).await.unwrap().collect().await;
    assert_eq!(items.len(), 3, "two good chunks, one error, then the end");
    assert_eq!(items[0].as_ref().unwrap()[..], o.plain[..CHUNK]);
    assert_eq!(items[1].as_ref().unwrap()[..], o.plain[CHUNK..2 * CHUNK]);
    assert!(matches!(items[2], Err(BlobError::Tampered)));
}

#[tokio::test]
async fn truncating_or_extending_is_detected() {
    let o = on_disk().await;
    for cut in [HEADER + SEALED_CHUNK, HEADER + 2 * SEALED_CHUNK, HEADER + 3 * SEALED_CHUNK, HEADER, 20, 0] {
        let result = o.read_with(&o.stored[..cut]).await;
        assert!(matches!(result, Err(BlobError::Tampered)), "cut at {cut}: {:?}", result.map(|b| b.len()));
    }
    let cut = o.stored.len() - 1;
    assert!(matches!(o.read_with(&o.stored[..cut]).await, Err(BlobError::Tampered)));
    let mut extended = o.stored.clone();
    extended.extend_from_slice(&o.stored[HEADER + 3 * SEALED_CHUNK..]);
    assert!(matches!(o.read_with(&extended).await, Err(BlobError::Tampered)));
}

#[tokio::test]
async fn swapping_two_chunks_is_detected() {
    let o = on_disk().await;
    let first = HEADER..HEADER + SEALED_CHUNK;
    let second = HEADER + SEALED_CHUNK..HEADER + 2 * SEALED_CHUNK;
    let mut swapped = o.stored[..HEADER].to_vec();
    swapped.extend_from_slice(&o.stored[second.clone()]);
    swapped.extend_from_slice(&o.stored[first]);
    swapped.extend_from_slice(&o.stored[second.end..]);
    assert_eq!(swapped.len(), o.stored.len());
    assert!(matches!(o.read_with(&swapped).await, Err(BlobError::Tampered)));
}

#[tokio::test]
async fn an_object_copied_to_another_path_does_not_open() {
    let o = on_disk().await;
    for other in ["ws_1/media/med_2", "ws_2/media/med_1"] {
        let target = o.root.join(other);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&o.file, &target).unwrap();
        let result = read_all(&o.store, &path(other), Some(&o.key)).await;
        assert!(matches!(result, Err(BlobError::Tampered)), "{other}: {:?}", result.map(|b| b.len()));
    }
    assert_eq!(read_all(&o.store, &o.at, Some(&o.key)).await.unwrap(), o.plain);
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let o = on_disk().await;
    let wrong = ContentKey::generate();
    assert!(matches!(read_all(&o.store, &o.at, Some(&wrong)).await, Err(BlobError::BadKey)));
    let same = ContentKey::from_bytes(o.key.expose()).unwrap();
    assert_eq!(read_all(&o.store, &o.at, Some(&same)).await.unwrap(), o.plain);
}

#[tokio::test]
async fn unencrypted_mode_stores_bytes_as_they_are() {
    let (_dir, root, store) = local();
    for size in [0, 1, CHUNK + 1, 3 * 1024 * 1024] {
        let plain = random(size);
        let at = path(&format!("ws_1/media/plain_{size}"));
        assert_eq!(store.put(&at, None, feed(&plain, 7777)).await.unwrap(), size as u64);
        assert!(read_all(&store, &at, None).await.unwrap() == plain, "size {size}");
        assert!(std::fs::read(root.join(format!("ws_1/media/plain_{size}"))).unwrap() == plain);
    }
}

/// 6 MiB of body (more than one upload part), then the client goes away.
fn failing_body() -> impl futures::Stream<Item = Result<Bytes, String>> + Send {
    let good = random(6 * 1024 * 1024);
    let pieces = (0..6).map(move |i| Ok(good.slice(i * 1024 * 1024..(i + 1) * 1024 * 1024)));
    stream::iter(pieces.chain([Err("client went away".to_owned())]))
}

#[tokio::test]
async fn a_failing_body_leaves_no_object() {
    let (_dir, root, store) = local();
    let key = ContentKey::generate();
    let at = path("ws_1/media/med_1");
    for key in [Some(&key), None] {
        let result = store.put(&at, key, failing_body()).await;
        assert!(matches!(&result, Err(BlobError::Body(m)) if m.contains("client went away")), "{result:?}");
        assert!(!store.exists(&at).await.unwrap());
        assert!(matches!(read_all(&store, &at, key).await, Err(BlobError::NotFound)));
        assert_eq!(files_under(&root), Vec::<PathBuf>::new());
    }
}

#[tokio::test]
async fn a_failing_replacement_keeps_the_previous_object() {
    let (_dir, root, store) = local();
    let key = ContentKey::generate();
    let at = path("ws_1/media/med_1");
    let before = random(100_000);
    store.put(&at, Some(&key), feed(&before, 65536)).await.unwrap();
    assert!(store.put(&at, Some(&key), failing_body()).await.is_err());
    assert_eq!(read_all(&store, &at, Some(&key)).await.unwrap(), before);
    assert_eq!(files_under(&root), vec![root.join("ws_1/media/med_1")]);
}

#[tokio::test]
async fn a_dropped_upload_leaves_no_object() {
    let (_dir, root, store) = local();
    let key = ContentKey::generate();
    let at = path("ws_1/media/med_1");
    let (sent, all_sent) = tokio::sync::oneshot::channel::<()>();
    let good = random(6 * 1024 * 1024);
    let stalls = stream::once(async move {
        let _ = sent.send(());
        std::future::pending::<Result<Bytes, String>>().await
    });
    let body = feed(&good, 1024 * 1024).map(|item| item.map_err(|e| e.to_string())).chain(stalls);
    tokio::select! {
        result = store.put(&at, Some(&key), body) => panic!("the stalled upload ended: {result:?}"),
        _ = all_sent => {}
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !files_under(&root).is_empty() {
        assert!(Instant::now() < deadline, "staging files left: {:?}", files_under(&root));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!store.exists(&at).await.unwrap());
}

#[tokio::test]
async fn delete_and_delete_prefix() {
    let (_dir, root, store) = local();
    let key = ContentKey::generate();
    let body = random(1000);
    let names = ["ws_1/media/a", "ws_1/media/b", "ws_1/thumbs/a", "ws_10/media/a", "ws_2/media/a"];
    for name in names {
        store.put(&path(name), Some(&key), feed(&body, 1000)).await.unwrap();
    }
    store.delete(&path("ws_1/media/a")).await.unwrap();
    store.delete(&path("ws_1/media/a")).await.unwrap();
    store.delete(&path("ws_3/never/was")).await.unwrap();
    assert!(!store.exists(&path("ws_1/media/a")).await.unwrap());
    assert!(store.exists(&path("ws_1/media/b")).await.unwrap());

    store.delete_prefix(&path("ws_1")).await.unwrap();
    store.delete_prefix(&path("ws_404")).await.unwrap();
    for gone in &names[..3] {
        assert!(!store.exists(&path(gone)).await.unwrap(), "{gone}");
    }
    for kept in &names[3..] {
        assert_eq!(read_all(&store, &path(kept), Some(&key)).await.unwrap(), body, "{kept}");
    }
    assert!(!root.join("ws_1").exists(), "empty folders are cleaned up");
    assert!(root.is_dir());
}

#[tokio::test]
async fn the_story_holds_on_local_and_in_memory() {
    let (_dir, _root, local) = local();
    story(&local).await;
    story(&BlobStore::in_memory()).await;
}

#[tokio::test]
async fn uploads_and_downloads_can_run_on_spawned_tasks() {
    let store = BlobStore::in_memory();
    let plain = random(100_000);
    let task = {
        let (store, plain) = (store.clone(), plain.clone());
        tokio::spawn(async move {
            let key = ContentKey::generate();
            let at = path("ws_1/media/med_1");
            store.put(&at, Some(&key), feed(&plain, 5000)).await.unwrap();
            let stream = store.get(&at, Some(&key)).await.unwrap();
            tokio::spawn(stream.collect::<Vec<_>>()).await.unwrap()
        })
    };
    let chunks = task.await.unwrap();
    let back: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
    assert_eq!(back, plain);
}

#[test]
fn the_window_check_finds_plaintext_at_any_offset() {
    let plain = random(100_000);
    for (from, len, shift) in [(0, 32, 0), (1000, 32, 5), (4097, 40, 31), (99_968, 32, 16), (50_000, 31, 3)] {
        let mut stored = random(shift).to_vec();
        stored.extend_from_slice(&plain[from..from + len]);
        stored.extend_from_slice(&random(shift));
        assert_eq!(shares_a_32_byte_window(&stored, &plain), len >= 32, "{from}+{len} at {shift}");
    }
}

#[cfg(unix)]
#[test]
fn the_local_root_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, root, _store) = local();
    assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn blob_paths_refuse_anything_that_could_escape_or_mean_two_things() {
    for bad in [
        vec![],
        vec![".."],
        vec!["ws_1", ".."],
        vec!["ws_1", "..", "ws_2"],
        vec!["."],
        vec![""],
        vec!["ws_1", ""],
        vec!["ws_1/media"],
        vec!["/etc"],
        vec!["a\\b"],
        vec!["med#1"],
        vec!["med 1"],
        vec!["médias"],
        vec!["%2e%2e"],
    ] {
        assert!(matches!(BlobPath::new(&bad), Err(BlobError::InvalidPath(_))), "{bad:?}");
    }
    let long = "a".repeat(256);
    assert!(BlobPath::new(&[&long]).is_err());
    let ok = BlobPath::new(&["ws_01HZX", "media", "med_01HZX.v2=thumb-1"]).unwrap();
    assert_eq!(ok.as_str(), "ws_01HZX/media/med_01HZX.v2=thumb-1");
}

#[test]
fn keys_are_32_bytes_and_never_printed() {
    assert!(matches!(ContentKey::from_bytes(&[7; 31]), Err(BlobError::BadKey)));
    assert!(matches!(ContentKey::from_bytes(&[7; 33]), Err(BlobError::BadKey)));
    let key = ContentKey::from_bytes(&[7; 32]).unwrap();
    assert_eq!(key.expose(), &[7; 32]);
    assert_eq!(format!("{key:?}"), "ContentKey(<redacted>)");
    assert_ne!(ContentKey::generate().expose(), ContentKey::generate().expose());

    let settings = S3Settings {
        bucket: "media".into(),
        region: "us-east-1".into(),
        endpoint: None,
        access_key_id: Some("AKIDEXAMPLE".into()),
        secret_access_key: Some("wJalrXUtnFEMI-secret".into()),
        allow_http: false,
        path_style: false,
    };
    let printed = format!("{settings:?}");
    assert!(!printed.contains("wJalrXUtnFEMI-secret") && printed.contains("<redacted>"), "{printed}");
}
