//! Passkeys and WebAuthn ceremony state, on both backends.

use chrono::Duration;
use crier_core::{Ceremony, CeremonyKind, Clock, KeyHash, ManualClock, StoreError, User, UserPasskey};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{audit, texts, workspace};

on_both_backends!(
    passkeys_are_added_found_used_listed_and_removed_by_their_owner_only,
    a_ceremony_is_taken_once_for_its_purpose_before_it_expires,
);

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

fn passkey(clock: &ManualClock, user: &User, credential: u8, name: &str) -> UserPasskey {
    UserPasskey {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        credential_id: vec![credential; 16],
        passkey: format!(r#"{{"cred":{credential},"counter":0}}"#),
        name: name.into(),
        created_at: clock.now(),
        last_used_at: None,
    }
}

async fn passkeys_are_added_found_used_listed_and_removed_by_their_owner_only(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com").await;
    let bob = person(&db, &clock, ws, "bob@example.com").await;
    let laptop = passkey(&clock, &alice, 1, "laptop");
    db.store.add_passkey(&laptop, ws, &audit(&clock, "passkey.added")).await.unwrap();
    clock.advance(Duration::seconds(5));
    let phone = passkey(&clock, &alice, 2, "phone");
    db.store.add_passkey(&phone, ws, &audit(&clock, "passkey.added")).await.unwrap();
    let clash = db.store.add_passkey(&passkey(&clock, &bob, 1, "stolen"), ws, &audit(&clock, "x")).await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "a credential id is registered once: {clash:?}");

    assert_eq!(db.store.find_passkey(&[1; 16]).await.unwrap(), Some(laptop.clone()));
    assert_eq!(db.store.find_passkey(&[9; 16]).await.unwrap(), None);
    assert_eq!(db.store.list_passkeys(alice.id).await.unwrap(), [laptop.clone(), phone.clone()]);
    assert!(db.store.list_passkeys(bob.id).await.unwrap().is_empty());

    clock.advance(Duration::minutes(1));
    assert!(db.store.record_passkey_use(alice.id, laptop.id, r#"{"counter":1}"#, clock.now()).await.unwrap());
    assert!(!db.store.record_passkey_use(bob.id, laptop.id, "{}", clock.now()).await.unwrap(), "not his");
    let used = db.store.find_passkey(&[1; 16]).await.unwrap().unwrap();
    assert_eq!((used.passkey.as_str(), used.last_used_at), (r#"{"counter":1}"#, Some(clock.now())));

    assert!(!db.store.remove_passkey(bob.id, laptop.id, ws, &audit(&clock, "x")).await.unwrap(), "not his");
    assert!(
        db.store.remove_passkey(alice.id, laptop.id, ws, &audit(&clock, "passkey.removed")).await.unwrap()
    );
    assert!(!db.store.remove_passkey(alice.id, laptop.id, ws, &audit(&clock, "x")).await.unwrap(), "gone");
    assert_eq!(db.store.find_passkey(&[1; 16]).await.unwrap(), None);
    assert_eq!(db.store.list_passkeys(alice.id).await.unwrap(), [phone]);
    let actions =
        texts(&db, "SELECT action FROM audit_events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    let passkey_actions: Vec<_> =
        actions.into_iter().flatten().filter(|a| a.starts_with("passkey.")).collect();
    assert_eq!(
        passkey_actions,
        ["passkey.added", "passkey.added", "passkey.removed"],
        "failed writes audit nothing"
    );
}

fn ceremony(clock: &ManualClock, id: u8, kind: CeremonyKind, user: Option<&User>) -> Ceremony {
    Ceremony {
        id_hash: KeyHash::from_slice(&[id; 32]).unwrap(),
        kind,
        user_id: user.map(|u| u.id),
        state: format!(r#"{{"challenge":{id}}}"#),
        expires_at: clock.now() + Duration::minutes(5),
    }
}

async fn a_ceremony_is_taken_once_for_its_purpose_before_it_expires(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com").await;
    let hash = |id: u8| KeyHash::from_slice(&[id; 32]).unwrap();
    let register = ceremony(&clock, 1, CeremonyKind::Register, Some(&alice));
    let sign_in = ceremony(&clock, 2, CeremonyKind::SignIn, None);
    let late = ceremony(&clock, 3, CeremonyKind::SecondFactor, Some(&alice));
    let mismatched = ceremony(&clock, 4, CeremonyKind::Register, Some(&alice));
    for c in [&register, &sign_in, &late, &mismatched] {
        db.store.insert_ceremony(c).await.unwrap();
    }
    let now = clock.now();
    assert_eq!(db.store.take_ceremony(&hash(1), CeremonyKind::Register, now).await.unwrap(), Some(register));
    assert_eq!(db.store.take_ceremony(&hash(1), CeremonyKind::Register, now).await.unwrap(), None, "once");
    assert_eq!(db.store.take_ceremony(&hash(9), CeremonyKind::SignIn, now).await.unwrap(), None);
    assert_eq!(db.store.take_ceremony(&hash(2), CeremonyKind::SignIn, now).await.unwrap(), Some(sign_in));
    // Presented for another purpose, a ceremony is refused and spent.
    assert_eq!(db.store.take_ceremony(&hash(4), CeremonyKind::SignIn, now).await.unwrap(), None);
    assert_eq!(db.store.take_ceremony(&hash(4), CeremonyKind::Register, now).await.unwrap(), None, "spent");

    clock.advance(Duration::minutes(5));
    assert_eq!(
        db.store.take_ceremony(&hash(3), CeremonyKind::SecondFactor, clock.now()).await.unwrap(),
        None,
        "expired"
    );
    let kept = ceremony(&clock, 5, CeremonyKind::SignIn, None);
    let gone = Ceremony { expires_at: clock.now(), ..ceremony(&clock, 6, CeremonyKind::SignIn, None) };
    db.store.insert_ceremony(&kept).await.unwrap();
    db.store.insert_ceremony(&gone).await.unwrap();
    assert_eq!(db.store.purge_ceremonies(clock.now()).await.unwrap(), 1);
    assert_eq!(
        db.store.take_ceremony(&hash(5), CeremonyKind::SignIn, clock.now()).await.unwrap(),
        Some(kept)
    );
}
