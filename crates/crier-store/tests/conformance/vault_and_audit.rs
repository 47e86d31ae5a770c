//! Conformance for the vault's tables and the audit log (storage only; the cryptography is
//! tested in crier-vault).

use std::sync::Arc;

use crier_core::{
    Actor, ChainVerifier, Clock, ManualClock, NewAuditEvent, RequestOrigin, SealedRow, SecretId, StoreError,
    WorkspaceId, WrappedDataKey,
};
use crier_testkit::{TestDb, on_both_backends};

on_both_backends!(
    data_keys_add_list_and_rewrap,
    secrets_round_trip_and_reseal_only_from_expected_version,
    secrets_of_another_workspace_are_not_found,
    audit_chain_pages_in_order_and_verifies,
    concurrent_audit_appends_stay_one_chain,
);

fn event(clock: &ManualClock, action: &str) -> NewAuditEvent {
    NewAuditEvent::new(
        clock.now(),
        Actor::cli(),
        action,
        "target".into(),
        &RequestOrigin { ip: Some("192.0.2.7".into()), user_agent: Some("tests/1.0".into()) },
    )
}

fn key(ws: WorkspaceId, version: i32, master: &str, clock: &ManualClock) -> WrappedDataKey {
    WrappedDataKey {
        workspace_id: ws,
        version,
        master_key_id: master.into(),
        wrapped: vec![version as u8; 60],
        created_at: clock.now(),
    }
}

fn secret(ws: WorkspaceId, version: i32, clock: &ManualClock) -> SealedRow {
    SealedRow {
        workspace_id: ws,
        id: SecretId::generate(),
        purpose: "channel_token".into(),
        key_version: version,
        sealed: vec![1, 2, 3, 4],
        created_at: clock.now(),
        updated_at: clock.now(),
    }
}

async fn data_keys_add_list_and_rewrap(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = db.workspace(Arc::new(clock.clone()), "Acme").await;
    let first = db.store.data_keys(ws).await.unwrap();
    assert_eq!(first.len(), 1, "a workspace is born with its data key");
    let master = first[0].master_key_id.clone();

    db.store
        .add_data_key(&key(ws, 2, &master, &clock), &event(&clock, "vault.data_key.created"))
        .await
        .unwrap();
    let again = db.store.add_data_key(&key(ws, 2, &master, &clock), &event(&clock, "x")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let versions: Vec<i32> = db.store.data_keys(ws).await.unwrap().iter().map(|k| k.version).collect();
    assert_eq!(versions, [1, 2]);

    let rewrapped = WrappedDataKey { wrapped: vec![9; 60], ..key(ws, 2, "mk_new", &clock) };
    assert!(db.store.rewrap_data_key(&master, &rewrapped).await.unwrap());
    assert!(!db.store.rewrap_data_key(&master, &rewrapped).await.unwrap(), "compare-and-swap");
    let stored = db.store.data_keys(ws).await.unwrap();
    assert_eq!((stored[1].master_key_id.as_str(), stored[1].wrapped.as_slice()), ("mk_new", &[9u8; 60][..]));
    assert_eq!(stored[0].master_key_id, master, "other versions untouched");

    let other = db.workspace(Arc::new(clock.clone()), "Other").await;
    let elsewhere = WrappedDataKey { workspace_id: other, version: 2, ..rewrapped.clone() };
    assert!(!db.store.rewrap_data_key("mk_new", &elsewhere).await.unwrap(), "only that workspace's rows");
    assert_eq!(db.store.data_keys(other).await.unwrap().len(), 1);
}

async fn secrets_round_trip_and_reseal_only_from_expected_version(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = db.workspace(Arc::new(clock.clone()), "Acme").await;
    let master = db.store.data_keys(ws).await.unwrap()[0].master_key_id.clone();
    db.store.add_data_key(&key(ws, 2, &master, &clock), &event(&clock, "k")).await.unwrap();
    let a = secret(ws, 1, &clock);
    let b = secret(ws, 1, &clock);
    let c = secret(ws, 2, &clock);
    for s in [&a, &b, &c] {
        db.store.insert_secret(s).await.unwrap();
    }
    assert_eq!(db.store.get_secret(ws, a.id).await.unwrap(), a);
    let mut below: Vec<SecretId> =
        db.store.secrets_below_version(ws, 2, 10).await.unwrap().into_iter().map(|s| s.id).collect();
    below.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(below, expected);
    assert_eq!(db.store.secrets_below_version(ws, 2, 1).await.unwrap().len(), 1, "limit holds");

    clock.advance(chrono::Duration::seconds(5));
    let resealed = SealedRow { key_version: 2, sealed: vec![8, 8, 8], updated_at: clock.now(), ..a.clone() };
    assert!(db.store.reseal_secret(&resealed, 1).await.unwrap());
    assert!(!db.store.reseal_secret(&resealed, 1).await.unwrap(), "compare-and-swap on the version");
    assert_eq!(db.store.get_secret(ws, a.id).await.unwrap(), resealed);

    let unknown_version = secret(ws, 7, &clock);
    assert!(db.store.insert_secret(&unknown_version).await.is_err(), "a secret needs an existing data key");
}

async fn secrets_of_another_workspace_are_not_found(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = db.workspace(Arc::new(clock.clone()), "A").await;
    let b = db.workspace(Arc::new(clock.clone()), "B").await;
    let s = secret(a, 1, &clock);
    db.store.insert_secret(&s).await.unwrap();
    assert!(matches!(db.store.get_secret(b, s.id).await, Err(StoreError::NotFound)));
    assert!(db.store.secrets_below_version(b, 99, 10).await.unwrap().is_empty());
    let moved = SealedRow { workspace_id: b, ..s.clone() };
    assert!(!db.store.reseal_secret(&moved, 1).await.unwrap());
    assert_eq!(db.store.get_secret(a, s.id).await.unwrap(), s);
}

async fn audit_chain_pages_in_order_and_verifies(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = db.workspace(Arc::new(clock.clone()), "A").await;
    let b = db.workspace(Arc::new(clock.clone()), "B").await;
    for i in 0..5 {
        clock.advance(chrono::Duration::seconds(1));
        let row = db.store.append_audit(a, &event(&clock, &format!("test.{i}"))).await.unwrap();
        assert_eq!(row.seq, i + 2, "after workspace.created");
    }
    db.store.append_audit(b, &event(&clock, "test.b")).await.unwrap();

    let page = db.store.list_audit_events(a, 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
    let all = db.store.list_audit_events(a, 0, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[1].ip.as_deref(), Some("192.0.2.7"));
    let mut verifier = ChainVerifier::new(a);
    for row in &all {
        verifier.check(row).unwrap();
    }
    let b_rows = db.store.list_audit_events(b, 0, 100).await.unwrap();
    assert_eq!(b_rows.len(), 2, "chains are per workspace");
    assert!(b_rows.iter().all(|r| r.workspace_id == b));
}

async fn concurrent_audit_appends_stay_one_chain(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = db.workspace(Arc::new(clock.clone()), "Acme").await;
    let appends: Vec<_> = (0..16)
        .map(|i| {
            let store = db.store.clone();
            let e = event(&clock, &format!("race.{i}"));
            tokio::spawn(async move { store.append_audit(ws, &e).await })
        })
        .collect();
    for append in appends {
        append.await.unwrap().unwrap();
    }
    let all = db.store.list_audit_events(ws, 0, 100).await.unwrap();
    assert_eq!(all.len(), 17);
    let mut verifier = ChainVerifier::new(ws);
    for row in &all {
        verifier.check(row).unwrap();
    }
}
