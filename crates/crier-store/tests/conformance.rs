//! The store conformance suite: every test here runs against SQLite AND PostgreSQL, each on a
//! fresh database of its own. A backend is correct when it passes this file unchanged.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;

use chrono::Duration;
use crier_core::{
    Actor, ApiKeyId, ApiKeyMode, Clock, IssueKey, ManualClock, NewApiKey, NewAuditEvent, NewWorkspace,
    RequestOrigin, StoreError, WorkspaceId, WrappedDataKey,
};
use crier_testkit::{TestDb, on_both_backends};

#[path = "conformance/vault_and_audit.rs"]
mod vault_and_audit;

#[path = "conformance/connect.rs"]
mod connect;
#[path = "conformance/deauthorization.rs"]
mod deauthorization;
#[path = "conformance/fixtures.rs"]
mod fixtures;
#[path = "conformance/identities.rs"]
mod identities;
#[path = "conformance/media.rs"]
mod media;
#[path = "conformance/oauth.rs"]
mod oauth;
#[path = "conformance/passkeys.rs"]
mod passkeys;
#[path = "conformance/people.rs"]
mod people;
#[path = "conformance/publishing.rs"]
mod publishing;
#[path = "conformance/queue.rs"]
mod queue;
#[path = "conformance/target_ops.rs"]
mod target_ops;
#[path = "conformance/usage.rs"]
mod usage;
#[path = "conformance/webhooks.rs"]
mod webhooks;

on_both_backends!(
    workspaces_round_trip,
    unknown_workspace_is_not_found,
    api_keys_round_trip,
    key_hash_is_unique,
    key_for_unknown_workspace_is_refused,
    other_workspace_sees_nothing,
    revoke_is_idempotent_and_keeps_first_time,
    rotate_marks_old_and_stores_new,
    rotate_refuses_rotated_revoked_and_unknown,
    concurrent_rotations_let_exactly_one_win,
    touch_records_last_use,
    rotating_an_expired_key_conflicts,
);

fn audit(clock: &ManualClock, action: &str) -> NewAuditEvent {
    NewAuditEvent::new(clock.now(), Actor::cli(), action, "target".into(), &RequestOrigin::default())
}

fn dummy_data_key(ws: WorkspaceId, clock: &ManualClock) -> WrappedDataKey {
    WrappedDataKey {
        workspace_id: ws,
        version: 1,
        master_key_id: "mk_test".into(),
        wrapped: vec![7; 60],
        created_at: clock.now(),
    }
}

fn issue(ws: WorkspaceId, clock: &ManualClock, name: &str) -> NewApiKey {
    let (key, _secret) = NewApiKey::issue(IssueKey {
        workspace_id: ws,
        name,
        mode: ApiKeyMode::Live,
        scopes: "posts:read keys:admin".parse().unwrap(),
        now: clock.now(),
        expires_at: Some(clock.now() + Duration::days(30)),
    })
    .unwrap();
    key
}

async fn workspace(db: &TestDb, clock: &ManualClock, name: &str) -> WorkspaceId {
    db.workspace(Arc::new(clock.clone()), name).await
}

async fn workspaces_round_trip(db: TestDb) {
    let clock = ManualClock::starting_now();
    let new = NewWorkspace::new("  Acme  ", clock.now()).unwrap();
    let created = db
        .store
        .create_workspace(&new, &dummy_data_key(new.id, &clock), &audit(&clock, "workspace.created"))
        .await
        .unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.name, "Acme");
    assert_eq!(created.created_at, clock.now());
    assert_eq!(db.store.get_workspace(new.id).await.unwrap(), created);
    clock.advance(Duration::seconds(1));
    let second = workspace(&db, &clock, "Beta").await;
    let listed: Vec<_> = db.store.list_workspaces().await.unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(listed, vec![new.id, second]);
    assert_eq!(
        db.store.data_keys(new.id).await.unwrap(),
        vec![dummy_data_key(new.id, &ManualClock::new(created.created_at))]
    );
    let events = db.store.list_audit_events(new.id, 0, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["workspace.created"]);
}

async fn unknown_workspace_is_not_found(db: TestDb) {
    let err = db.store.get_workspace(WorkspaceId::generate()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn api_keys_round_trip(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let first = issue(ws, &clock, "first");
    let stored = db.store.insert_api_key(&first, &audit(&clock, "api_key.created")).await.unwrap();
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.workspace_id, ws);
    assert_eq!(stored.name, "first");
    assert_eq!(stored.scopes, first.scopes);
    assert_eq!(stored.redacted, first.redacted);
    assert_eq!(stored.created_at, clock.now());
    assert_eq!(stored.expires_at, first.expires_at);
    assert_eq!(
        (stored.revoked_at, stored.last_used_at, stored.rotated_at, stored.replaced_by),
        (None, None, None, None)
    );

    assert_eq!(db.store.find_api_key_by_hash(&first.hash).await.unwrap(), Some(stored.clone()));
    assert_eq!(db.store.get_api_key(ws, first.id).await.unwrap(), stored);

    clock.advance(Duration::seconds(1));
    let second = issue(ws, &clock, "second");
    db.store.insert_api_key(&second, &audit(&clock, "api_key.created")).await.unwrap();
    let listed: Vec<_> = db.store.list_api_keys(ws).await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(listed, vec![second.id, first.id], "newest first");

    let unknown = issue(ws, &clock, "never stored");
    assert_eq!(db.store.find_api_key_by_hash(&unknown.hash).await.unwrap(), None);
}

async fn key_hash_is_unique(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let key = issue(ws, &clock, "a");
    db.store.insert_api_key(&key, &audit(&clock, "api_key.created")).await.unwrap();
    let twin = NewApiKey { id: ApiKeyId::generate(), ..key };
    let err = db.store.insert_api_key(&twin, &audit(&clock, "api_key.created")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(db.store.list_api_keys(ws).await.unwrap().len(), 1);
}

async fn key_for_unknown_workspace_is_refused(db: TestDb) {
    let clock = ManualClock::starting_now();
    let key = issue(WorkspaceId::generate(), &clock, "orphan");
    let err = db.store.insert_api_key(&key, &audit(&clock, "api_key.created")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn other_workspace_sees_nothing(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let key = issue(a, &clock, "a's key");
    let before = db.store.insert_api_key(&key, &audit(&clock, "api_key.created")).await.unwrap();

    assert!(matches!(db.store.get_api_key(b, key.id).await, Err(StoreError::NotFound)));
    assert!(db.store.list_api_keys(b).await.unwrap().is_empty());
    assert!(matches!(
        db.store.revoke_api_key(b, key.id, clock.now(), &audit(&clock, "api_key.revoked")).await,
        Err(StoreError::NotFound)
    ));
    let replacement = issue(b, &clock, "b's replacement");
    let rotated = db
        .store
        .rotate_api_key(b, key.id, &replacement, clock.now(), &audit(&clock, "api_key.rotated"))
        .await;
    assert!(matches!(rotated, Err(StoreError::NotFound)), "{rotated:?}");
    let smuggled = issue(a, &clock, "replacement claiming a");
    let rotated =
        db.store.rotate_api_key(b, key.id, &smuggled, clock.now(), &audit(&clock, "api_key.rotated")).await;
    assert!(matches!(rotated, Err(StoreError::NotFound)), "{rotated:?}");
    db.store.touch_api_key(b, key.id, clock.now()).await.unwrap();

    assert_eq!(db.store.get_api_key(a, key.id).await.unwrap(), before, "A's key is unchanged");
    assert!(db.store.find_api_key_by_hash(&replacement.hash).await.unwrap().is_none());
    assert!(db.store.find_api_key_by_hash(&smuggled.hash).await.unwrap().is_none());
}

async fn revoke_is_idempotent_and_keeps_first_time(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let key = issue(ws, &clock, "k");
    db.store.insert_api_key(&key, &audit(&clock, "api_key.created")).await.unwrap();
    let first_time = clock.now();
    let revoked =
        db.store.revoke_api_key(ws, key.id, first_time, &audit(&clock, "api_key.revoked")).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(first_time));
    clock.advance(Duration::minutes(5));
    let again =
        db.store.revoke_api_key(ws, key.id, clock.now(), &audit(&clock, "api_key.revoked")).await.unwrap();
    assert_eq!(again.revoked_at, Some(first_time));
    assert!(matches!(
        db.store
            .revoke_api_key(ws, ApiKeyId::generate(), clock.now(), &audit(&clock, "api_key.revoked"))
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn rotate_marks_old_and_stores_new(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let old = issue(ws, &clock, "k");
    db.store.insert_api_key(&old, &audit(&clock, "api_key.created")).await.unwrap();
    clock.advance(Duration::hours(1));
    let new = issue(ws, &clock, "k");
    let grace_end = clock.now() + Duration::hours(24);
    let stored = db
        .store
        .rotate_api_key(ws, old.id, &new, grace_end, &audit(&clock, "api_key.rotated"))
        .await
        .unwrap();
    assert_eq!(stored.id, new.id);
    let old_now = db.store.get_api_key(ws, old.id).await.unwrap();
    assert_eq!(old_now.rotated_at, Some(clock.now()));
    assert_eq!(old_now.replaced_by, Some(new.id));
    assert_eq!(old_now.expires_at, Some(grace_end));
    assert_eq!(db.store.find_api_key_by_hash(&new.hash).await.unwrap().map(|k| k.id), Some(new.id));
}

async fn rotate_refuses_rotated_revoked_and_unknown(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let old = issue(ws, &clock, "k");
    db.store.insert_api_key(&old, &audit(&clock, "api_key.created")).await.unwrap();
    db.store
        .rotate_api_key(ws, old.id, &issue(ws, &clock, "k"), clock.now(), &audit(&clock, "api_key.rotated"))
        .await
        .unwrap();
    let again = db
        .store
        .rotate_api_key(ws, old.id, &issue(ws, &clock, "k"), clock.now(), &audit(&clock, "api_key.rotated"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let revoked = issue(ws, &clock, "r");
    db.store.insert_api_key(&revoked, &audit(&clock, "api_key.created")).await.unwrap();
    db.store.revoke_api_key(ws, revoked.id, clock.now(), &audit(&clock, "api_key.revoked")).await.unwrap();
    let refused = issue(ws, &clock, "r2");
    let result = db
        .store
        .rotate_api_key(ws, revoked.id, &refused, clock.now(), &audit(&clock, "api_key.rotated"))
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(db.store.find_api_key_by_hash(&refused.hash).await.unwrap().is_none(), "nothing half-done");

    let unknown = db
        .store
        .rotate_api_key(
            ws,
            ApiKeyId::generate(),
            &issue(ws, &clock, "u"),
            clock.now(),
            &audit(&clock, "api_key.rotated"),
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    assert_eq!(db.store.list_api_keys(ws).await.unwrap().len(), 3);
}

async fn concurrent_rotations_let_exactly_one_win(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let old = issue(ws, &clock, "k");
    db.store.insert_api_key(&old, &audit(&clock, "api_key.created")).await.unwrap();
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let store = db.store.clone();
            let new = issue(ws, &clock, "k");
            let at = clock.now();
            let event = audit(&clock, "api_key.rotated");
            tokio::spawn(async move { store.rotate_api_key(ws, old.id, &new, at, &event).await })
        })
        .collect();
    let mut wins = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(db.store.list_api_keys(ws).await.unwrap().len(), 2);
}

async fn touch_records_last_use(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let key = issue(ws, &clock, "k");
    db.store.insert_api_key(&key, &audit(&clock, "api_key.created")).await.unwrap();
    clock.advance(Duration::seconds(90));
    db.store.touch_api_key(ws, key.id, clock.now()).await.unwrap();
    assert_eq!(db.store.get_api_key(ws, key.id).await.unwrap().last_used_at, Some(clock.now()));
}

async fn rotating_an_expired_key_conflicts(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let key = issue(ws, &clock, "k");
    db.store.insert_api_key(&key, &audit(&clock, "api_key.created")).await.unwrap();
    clock.advance(Duration::days(31));
    let replacement = issue(ws, &clock, "k2");
    let result = db
        .store
        .rotate_api_key(ws, key.id, &replacement, clock.now(), &audit(&clock, "api_key.rotated"))
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(db.store.find_api_key_by_hash(&replacement.hash).await.unwrap().is_none());
}
