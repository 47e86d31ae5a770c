//! Identities linked from other services and the sign-in flows under way, on both backends.

use chrono::Duration;
use crier_core::{Clock, KeyHash, ManualClock, SsoFlow, StoreError, User, UserIdentity};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{audit, texts, workspace};

on_both_backends!(
    identities_are_linked_once_found_listed_and_unlinked_with_audit_entries,
    a_flow_is_taken_once_and_only_by_its_own_browser,
);

fn hash(byte: u8) -> KeyHash {
    KeyHash::from_slice(&[byte; 32]).unwrap()
}

async fn person(db: &TestDb, clock: &ManualClock, ws: crier_core::WorkspaceId, email: &str) -> User {
    let user = User {
        id: uuid::Uuid::now_v7(),
        email: email.into(),
        password_hash: "$argon2id$x".into(),
        created_at: clock.now(),
        totp: None,
    };
    db.store.create_user(&user, ws, "member", &audit(clock, "user.created")).await.unwrap();
    user
}

fn identity(clock: &ManualClock, user: &User, provider: &str, subject: &str) -> UserIdentity {
    UserIdentity {
        provider: provider.into(),
        subject: subject.into(),
        user_id: user.id,
        email: Some(user.email.clone()),
        created_at: clock.now(),
    }
}

async fn identities_are_linked_once_found_listed_and_unlinked_with_audit_entries(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com").await;
    let bob = person(&db, &clock, ws, "bob@example.com").await;
    let issuer = "https://issuer.example";

    assert_eq!(db.store.find_identity(issuer, "sub-1").await.unwrap(), None);
    let first = identity(&clock, &alice, issuer, "sub-1");
    db.store.link_identity(&first, ws, &audit(&clock, "identity.linked")).await.unwrap();
    clock.advance(Duration::seconds(1));
    let github = identity(&clock, &alice, "github", "42");
    db.store.link_identity(&github, ws, &audit(&clock, "identity.linked")).await.unwrap();
    assert_eq!(db.store.find_identity(issuer, "sub-1").await.unwrap().as_ref(), Some(&first));
    assert_eq!(db.store.find_identity("github", "sub-1").await.unwrap(), None, "per provider");
    assert_eq!(db.store.list_identities(alice.id).await.unwrap(), vec![first.clone(), github.clone()]);
    assert!(db.store.list_identities(bob.id).await.unwrap().is_empty());

    // One provider account links to one person only.
    let taken =
        db.store.link_identity(&identity(&clock, &bob, issuer, "sub-1"), ws, &audit(&clock, "x")).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");

    // Only the owner unlinks it.
    assert!(!db.store.unlink_identity(bob.id, issuer, "sub-1", ws, &audit(&clock, "x")).await.unwrap());
    assert!(
        db.store
            .unlink_identity(alice.id, issuer, "sub-1", ws, &audit(&clock, "identity.unlinked"))
            .await
            .unwrap()
    );
    assert!(!db.store.unlink_identity(alice.id, issuer, "sub-1", ws, &audit(&clock, "x")).await.unwrap());
    assert_eq!(db.store.find_identity(issuer, "sub-1").await.unwrap(), None);
    assert_eq!(db.store.list_identities(alice.id).await.unwrap(), vec![github]);

    let actions =
        texts(&db, "SELECT action FROM audit_events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    let actions: Vec<_> = actions.into_iter().flatten().filter(|a| a.starts_with("identity.")).collect();
    assert_eq!(
        actions,
        ["identity.linked", "identity.linked", "identity.unlinked"],
        "refusals leave no entry"
    );
}

async fn a_flow_is_taken_once_and_only_by_its_own_browser(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com").await;
    let flow = SsoFlow {
        state_hash: hash(1),
        browser_hash: hash(2),
        provider: "oidc".into(),
        link_user: Some(alice.id),
        created_at: clock.now(),
        expires_at: clock.now() + Duration::minutes(10),
    };
    db.store.insert_sso_flow(&flow).await.unwrap();
    assert_eq!(db.store.take_sso_flow(&hash(1), &hash(3)).await.unwrap(), None, "another browser");
    assert_eq!(db.store.take_sso_flow(&hash(9), &hash(2)).await.unwrap(), None, "another state");
    assert_eq!(db.store.take_sso_flow(&hash(1), &hash(2)).await.unwrap(), Some(flow.clone()));
    assert_eq!(db.store.take_sso_flow(&hash(1), &hash(2)).await.unwrap(), None, "taken once");

    let sign_in = SsoFlow { state_hash: hash(4), link_user: None, ..flow.clone() };
    let later =
        SsoFlow { state_hash: hash(5), expires_at: clock.now() + Duration::minutes(20), ..sign_in.clone() };
    db.store.insert_sso_flow(&sign_in).await.unwrap();
    db.store.insert_sso_flow(&later).await.unwrap();
    assert!(db.store.insert_sso_flow(&later).await.is_err(), "a state is used once");
    clock.advance(Duration::minutes(15));
    assert_eq!(db.store.purge_sso_flows(clock.now()).await.unwrap(), 1);
    assert_eq!(db.store.take_sso_flow(&hash(4), &hash(2)).await.unwrap(), None, "purged");
    assert_eq!(db.store.take_sso_flow(&hash(5), &hash(2)).await.unwrap(), Some(later));
}
