//! The blob store against a real S3-compatible peer: moto's server, started by the test.
//!
//! Needs python3 with moto's server extra: `pip install 'moto[server]'`. Without it this test
//! fails (it does not skip), so a CI that forgot the install step is caught.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{expected_stored_len, feed, path, random, read_all, shares_a_32_byte_window, story};
use crier_blobs::{BlobError, BlobStore, ContentKey, S3Settings};
use futures::StreamExt;

const INSTALL: &str = "install it with: pip install 'moto[server]'";
const BUCKET: &str = "crier-media";

/// A moto S3 server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    log: tempfile::NamedTempFile,
    port: u16,
}

impl Moto {
    async fn start() -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 for the S3 test peer ({e}); {INSTALL}"));
        let mut moto = Self { child, log, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = moto.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(moto.log.path()).unwrap_or_default();
                panic!("the moto S3 server exited ({status}); {INSTALL}\n{log}");
            }
            assert!(Instant::now() < deadline, "the moto S3 server did not listen within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        moto
    }

    fn url(&self, rest: &str) -> String {
        format!("http://127.0.0.1:{}/{rest}", self.port)
    }

    fn settings(&self) -> S3Settings {
        S3Settings {
            bucket: BUCKET.into(),
            region: "us-east-1".into(),
            endpoint: Some(self.url("")),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            allow_http: true,
            path_style: true,
        }
    }

    /// Multipart uploads that were started and neither completed nor aborted.
    async fn uploads_in_progress(&self, http: &reqwest::Client) -> usize {
        let listing = http.get(self.url(&format!("{BUCKET}?uploads"))).send().await.unwrap();
        listing.text().await.unwrap().matches("<Upload>").count()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn s3_round_trips_a_12_mib_encrypted_object_through_multipart() {
    let moto = Moto::start().await;
    let http = reqwest::Client::new();
    let created = http.put(moto.url(BUCKET)).send().await.unwrap();
    assert!(created.status().is_success(), "create bucket: {}", created.status());
    let store = BlobStore::s3(&moto.settings()).unwrap();

    let key = ContentKey::generate();
    let plain = random(12 * 1024 * 1024);
    let at = path("ws_9/media/med_video");
    assert_eq!(store.put(&at, Some(&key), feed(&plain, 1024 * 1024)).await.unwrap(), plain.len() as u64);
    assert!(read_all(&store, &at, Some(&key)).await.unwrap() == plain);

    // What the bucket holds, fetched around the crate: ciphertext, uploaded in three parts.
    let raw = http.get(moto.url(&format!("{BUCKET}/ws_9/media/med_video"))).send().await.unwrap();
    assert!(raw.status().is_success());
    let etag = raw.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.ends_with("-3\""), "a 3-part multipart upload has an ETag ending in -3: {etag}");
    let stored = raw.bytes().await.unwrap();
    assert_eq!(stored.len(), expected_stored_len(plain.len()));
    assert!(!shares_a_32_byte_window(&stored, &plain), "plaintext in the bucket");
    assert!(matches!(read_all(&store, &at, Some(&ContentKey::generate())).await, Err(BlobError::BadKey)));

    // A body that fails after a part went up aborts the upload: no object, no orphaned parts.
    let failed = path("ws_9/media/med_failed");
    let good = random(6 * 1024 * 1024);
    let body = futures::stream::iter([Ok(good), Err("client went away")]);
    assert!(matches!(store.put(&failed, Some(&key), body).await, Err(BlobError::Body(_))));
    assert!(!store.exists(&failed).await.unwrap());
    assert_eq!(moto.uploads_in_progress(&http).await, 0);

    // So does an upload whose future is dropped (a client that disconnects while its body stalls).
    let (sent, all_sent) = tokio::sync::oneshot::channel::<()>();
    let stalls = futures::stream::once(async move {
        let _ = sent.send(());
        std::future::pending::<Result<Bytes, String>>().await
    });
    let body = futures::stream::iter([Ok(random(6 * 1024 * 1024))]).chain(stalls);
    tokio::select! {
        result = store.put(&failed, Some(&key), body) => panic!("the stalled upload ended: {result:?}"),
        _ = all_sent => {}
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while moto.uploads_in_progress(&http).await > 0 {
        assert!(Instant::now() < deadline, "the dropped upload was not aborted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!store.exists(&failed).await.unwrap());

    story(&store).await;
}
