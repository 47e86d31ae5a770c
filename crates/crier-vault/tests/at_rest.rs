//! Secrets at rest: after sealing, neither the SQLite files nor a `pg_dump` contain any secret's
//! plaintext, nor the master key. The scan is shown to see the rows by finding their purposes.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use crier_core::SystemClock;
use crier_testkit::{Backend, TestDb, contains, on_both_backends, pg_dump, sqlite_bytes};
use crier_vault::{MasterKey, MasterKeyFiles, read_key};

on_both_backends!(backend: no_secret_or_master_key_in_the_database);

async fn no_secret_or_master_key_in_the_database(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let vault = db.vault(Arc::new(SystemClock));
    let mut plaintexts = Vec::new();
    for w in 0..3 {
        let ws = db.workspace(Arc::new(SystemClock), &format!("W{w}")).await;
        for (purpose, plain) in [
            ("channel_token", format!("ya29.oauth-access-token-{w}-ZXhhbXBsZQ")),
            ("refresh_token", format!("1//refresh-token-{w}-c2VjcmV0")),
            ("webhook_secret", format!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw{w}")),
        ] {
            vault.seal(ws, purpose, plain.as_bytes()).await.unwrap();
            plaintexts.push(plain);
        }
        vault.rotate_workspace(ws).await.unwrap();
    }
    let dump = match backend {
        Backend::Sqlite => sqlite_bytes(db.sqlite_path.as_ref().unwrap()),
        Backend::Postgres => pg_dump(db.pg_schema.as_ref().unwrap()),
    };
    assert!(contains(&dump, b"refresh_token"), "the scan sees the secrets rows");
    for plain in &plaintexts {
        assert!(!contains(&dump, plain.as_bytes()), "a secret's plaintext is in the database");
    }
    let master_b64 = db.master_key.clone();
    let master_raw = base64::engine::general_purpose::STANDARD.decode(&master_b64).unwrap();
    assert!(
        !contains(&dump, master_b64.as_bytes()) && !contains(&dump, &master_raw),
        "the master key is in the database"
    );
}

#[test]
fn an_interrupted_key_file_swap_is_finished_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let files = MasterKeyFiles::new(dir.path().join("master.key"));
    let old = MasterKeyFiles::create(&files.current).unwrap();
    let next = files.next_key().unwrap();
    assert_eq!(files.next_key().unwrap().id(), next.id(), "a resumed rotation reuses its new key");

    // Crash before the swap: both keys load, old one current.
    let keyring = files.load().unwrap().unwrap();
    assert_eq!(keyring.current().id(), old.id());
    assert!(keyring.find(next.id()).is_some());

    // Crash between the two renames: the new key is promoted on load.
    std::fs::rename(&files.current, files.old()).unwrap();
    let keyring = files.load().unwrap().unwrap();
    assert_eq!(keyring.current().id(), next.id());
    assert_eq!(read_key(&files.current).unwrap().unwrap().id(), next.id());
    assert!(!files.next().exists());
    mode_is_private(&files.current);
}

fn mode_is_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn master_keys_parse_strictly_and_never_print() {
    let key = MasterKey::generate();
    let b64 = key.to_base64();
    assert_eq!(MasterKey::from_base64(&b64).unwrap().id(), key.id());
    assert!(!format!("{key:?}").contains(b64.as_str()));
    for bad in ["", "not base64!", "AAAA", &b64[..b64.len() - 4]] {
        assert!(MasterKey::from_base64(bad).is_err(), "{bad:?}");
    }
}
