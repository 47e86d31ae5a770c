//! The vault against a real store, on both backends: what opens, what must not, and rotations.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use crier_core::{Clock, ManualClock, SealedRow, SecretId, SystemClock};
use crier_testkit::{TestDb, on_both_backends};
use crier_vault::{Keyring, MasterKey, Vault, VaultError};

on_both_backends!(
    sealed_secrets_open_and_are_not_stored_in_clear,
    moved_ciphertexts_do_not_open,
    tampered_ciphertexts_do_not_open,
    a_wrong_master_key_is_named_at_check,
    master_rotation_rewraps_and_old_key_becomes_unneeded,
    workspace_rotation_resumes_and_every_secret_opens_throughout,
);

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

async fn sealed_secrets_open_and_are_not_stored_in_clear(db: TestDb) {
    let vault = db.vault(clock());
    let ws = db.workspace(clock(), "Acme").await;
    let id = vault.seal(ws, "channel_token", b"oauth-token-value").await.unwrap();
    assert_eq!(vault.open(ws, id).await.unwrap().expose(), b"oauth-token-value");
    let row = db.store.get_secret(ws, id).await.unwrap();
    assert!(!row.sealed.windows(17).any(|w| w == b"oauth-token-value"));
    assert_eq!(format!("{:?}", vault.open(ws, id).await.unwrap()), "SecretBytes(17 bytes)");
}

async fn moved_ciphertexts_do_not_open(db: TestDb) {
    let vault = db.vault(clock());
    let a = db.workspace(clock(), "A").await;
    let b = db.workspace(clock(), "B").await;
    let victim = vault.seal(a, "channel_token", b"a's token").await.unwrap();
    let row = db.store.get_secret(a, victim).await.unwrap();

    // Copied to another row of the same workspace.
    let other_row = SealedRow { id: SecretId::generate(), ..row.clone() };
    db.store.insert_secret(&other_row).await.unwrap();
    assert!(matches!(vault.open(a, other_row.id).await, Err(VaultError::OpenFailed)));

    // Relabelled with another purpose.
    let relabelled = SealedRow { id: SecretId::generate(), purpose: "webhook_secret".into(), ..row.clone() };
    db.store.insert_secret(&relabelled).await.unwrap();
    assert!(matches!(vault.open(a, relabelled.id).await, Err(VaultError::OpenFailed)));

    // Copied into another workspace under the same id.
    let moved = SealedRow { workspace_id: b, ..row.clone() };
    db.store.insert_secret(&moved).await.unwrap();
    assert!(matches!(vault.open(b, victim).await, Err(VaultError::OpenFailed)));

    // The original still opens.
    assert_eq!(vault.open(a, victim).await.unwrap().expose(), b"a's token");
}

async fn tampered_ciphertexts_do_not_open(db: TestDb) {
    let vault = db.vault(clock());
    let ws = db.workspace(clock(), "Acme").await;
    let id = vault.seal(ws, "channel_token", b"token").await.unwrap();
    let row = db.store.get_secret(ws, id).await.unwrap();
    // Flip one bit of the stored row in place (nonce, ciphertext, tag), then put it back: only
    // that bit differs between the failing and the succeeding open.
    for bit in [0, 8 * 12, row.sealed.len() * 8 - 1] {
        let mut sealed = row.sealed.clone();
        sealed[bit / 8] ^= 1 << (bit % 8);
        let tampered = SealedRow { sealed, ..row.clone() };
        assert!(db.store.reseal_secret(&tampered, row.key_version).await.unwrap());
        assert!(matches!(vault.open(ws, id).await, Err(VaultError::OpenFailed)), "bit {bit}");
        assert!(db.store.reseal_secret(&row, row.key_version).await.unwrap());
        assert_eq!(vault.open(ws, id).await.unwrap().expose(), b"token");
    }
    let truncated = SealedRow { id: SecretId::generate(), sealed: row.sealed[..10].to_vec(), ..row };
    db.store.insert_secret(&truncated).await.unwrap();
    assert!(matches!(vault.open(ws, truncated.id).await, Err(VaultError::OpenFailed)));
}

async fn a_wrong_master_key_is_named_at_check(db: TestDb) {
    let ws = db.workspace(clock(), "Acme").await;
    let right = db.vault(clock());
    let id = right.seal(ws, "channel_token", b"token").await.unwrap();
    assert_eq!(right.check().await.unwrap(), 1);

    let wrong = Vault::new(Keyring::new(MasterKey::generate()), db.store.clone(), clock());
    let err = wrong.check().await.unwrap_err();
    assert!(matches!(err, VaultError::MissingMasterKey { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(right.keyring().current().id()) && message.contains("CRIER_MASTER_KEY"),
        "{message}"
    );
    assert!(wrong.open(ws, id).await.is_err());
}

async fn master_rotation_rewraps_and_old_key_becomes_unneeded(db: TestDb) {
    let old = MasterKey::from_base64(&db.master_key).unwrap();
    let mut secrets = Vec::new();
    for i in 0..4 {
        let ws = db.workspace(clock(), &format!("W{i}")).await;
        let id = db.vault(clock()).seal(ws, "channel_token", format!("token {i}").as_bytes()).await.unwrap();
        secrets.push((ws, id, format!("token {i}")));
    }
    let new = MasterKey::generate();
    let new_b64 = new.to_base64().to_string();
    let rotating = Vault::new(Keyring::new(new).with(old), db.store.clone(), clock());
    let report = rotating.rotate_master(Duration::ZERO).await.unwrap();
    assert_eq!((report.workspaces, report.rewrapped), (4, 4));
    assert_eq!(rotating.rotate_master(Duration::ZERO).await.unwrap().rewrapped, 0, "idempotent");

    let only_new =
        Vault::new(Keyring::new(MasterKey::from_base64(&new_b64).unwrap()), db.store.clone(), clock());
    only_new.check().await.unwrap();
    for (ws, id, plain) in &secrets {
        assert_eq!(only_new.open(*ws, *id).await.unwrap().expose(), plain.as_bytes());
    }
    assert!(db.vault(clock()).check().await.is_err(), "the old key alone no longer opens anything");
}

async fn workspace_rotation_resumes_and_every_secret_opens_throughout(db: TestDb) {
    let manual = ManualClock::starting_now();
    let vault = db.vault(Arc::new(manual.clone()));
    let ws = db.workspace(clock(), "Acme").await;
    let mut secrets = Vec::new();
    for i in 0..7 {
        let plain = format!("secret {i}");
        secrets.push((vault.seal(ws, "channel_token", plain.as_bytes()).await.unwrap(), plain));
    }
    // A rotation interrupted after three secrets, as a crash would leave it.
    let step = vault.rotate_workspace_step(ws, 3).await.unwrap();
    assert_eq!((step.target_version, step.new_version, step.resealed, step.remaining), (2, true, 3, true));
    for (id, plain) in &secrets {
        assert_eq!(vault.open(ws, *id).await.unwrap().expose(), plain.as_bytes(), "mixed versions open");
    }
    // A new secret during the rotation goes under the new key.
    let during = vault.seal(ws, "channel_token", b"during").await.unwrap();
    assert_eq!(db.store.get_secret(ws, during).await.unwrap().key_version, 2);

    let resumed = vault.rotate_workspace(ws).await.unwrap();
    assert_eq!((resumed.target_version, resumed.new_version, resumed.resealed), (2, false, 4));
    assert!(db.store.secrets_below_version(ws, 2, 10).await.unwrap().is_empty());
    for (id, plain) in &secrets {
        assert_eq!(vault.open(ws, *id).await.unwrap().expose(), plain.as_bytes());
    }
    let next = vault.rotate_workspace(ws).await.unwrap();
    assert_eq!((next.target_version, next.new_version, next.resealed), (3, true, 8));
}
