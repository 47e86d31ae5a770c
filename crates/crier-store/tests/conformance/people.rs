//! Dashboard sessions, failed sign-ins, the second factor, roles, invitations and passwords, on both backends.

use chrono::Duration;
use crier_core::{
    Clock, Invitation, Invitee, KeyHash, ManualClock, Role, SessionPolicy, StoreError, User, UserSession,
    WorkspaceId,
};
use crier_testkit::{TestDb, on_both_backends};

use super::connect::sealed;
use super::fixtures::{audit, texts, workspace};

on_both_backends!(
    sessions_are_found_by_hash_rotated_listed_and_ended,
    expired_and_idle_sessions_are_purged,
    login_failures_are_counted_per_subject_and_window,
    totp_is_sealed_with_its_recovery_codes_and_each_code_and_step_works_once,
    roles_are_read_listed_and_changed_with_an_audit_entry,
    an_invitation_is_accepted_once_before_it_expires_by_a_new_or_existing_person,
    a_new_password_ends_the_other_sessions_and_workspaces_can_require_a_second_factor,
);

fn hash(byte: u8) -> KeyHash {
    KeyHash::from_slice(&[byte; 32]).unwrap()
}

async fn person(db: &TestDb, clock: &ManualClock, ws: WorkspaceId, email: &str, role: &str) -> User {
    let user = User {
        id: uuid::Uuid::now_v7(),
        email: email.into(),
        password_hash: "$argon2id$x".into(),
        created_at: clock.now(),
        totp: None,
    };
    db.store.create_user(&user, ws, role, &audit(clock, "user.created")).await.unwrap();
    user
}

fn session(clock: &ManualClock, user: &User, ws: WorkspaceId, token: u8) -> UserSession {
    UserSession {
        id: uuid::Uuid::now_v7(),
        token_hash: hash(token),
        user_id: user.id,
        workspace_id: ws,
        pending_second_factor: true,
        created_at: clock.now(),
        last_seen_at: clock.now(),
        expires_at: clock.now() + Duration::days(90),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("test".into()),
    }
}

async fn sessions_are_found_by_hash_rotated_listed_and_ended(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com", "owner").await;
    let bob = person(&db, &clock, ws, "bob@example.com", "member").await;
    let pending = session(&clock, &alice, ws, 1);
    db.store.insert_session(&pending).await.unwrap();
    assert_eq!(db.store.find_session(&hash(1)).await.unwrap(), Some(pending.clone()));
    assert_eq!(db.store.find_session(&hash(9)).await.unwrap(), None);

    clock.advance(Duration::seconds(30));
    let full = UserSession {
        id: uuid::Uuid::now_v7(),
        token_hash: hash(2),
        pending_second_factor: false,
        last_seen_at: clock.now(),
        ..pending.clone()
    };
    assert!(db.store.rotate_session(&hash(1), &full).await.unwrap());
    assert_eq!(db.store.find_session(&hash(1)).await.unwrap(), None, "the old id is gone");
    assert!(!db.store.rotate_session(&hash(1), &full).await.unwrap(), "a rotation happens once");

    clock.advance(Duration::minutes(5));
    db.store.touch_session(&hash(2), clock.now()).await.unwrap();
    assert_eq!(db.store.find_session(&hash(2)).await.unwrap().unwrap().last_seen_at, clock.now());

    let second = session(&clock, &alice, ws, 3);
    db.store.insert_session(&second).await.unwrap();
    let bobs = session(&clock, &bob, ws, 4);
    db.store.insert_session(&bobs).await.unwrap();
    let listed: Vec<_> = db.store.list_sessions(alice.id).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, [second.id, full.id], "newest first, only hers");
    assert!(!db.store.delete_session(alice.id, bobs.id).await.unwrap(), "not hers to end");
    assert!(db.store.find_session(&hash(4)).await.unwrap().is_some());
    assert!(db.store.delete_session(alice.id, second.id).await.unwrap());
    assert_eq!(db.store.find_session(&hash(3)).await.unwrap(), None);
}

async fn expired_and_idle_sessions_are_purged(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com", "owner").await;
    let policy = SessionPolicy::default();
    let ending =
        UserSession { expires_at: clock.now() + Duration::hours(1), ..session(&clock, &alice, ws, 1) };
    let active = session(&clock, &alice, ws, 2);
    let idle = session(&clock, &alice, ws, 3);
    for s in [&ending, &active, &idle] {
        db.store.insert_session(s).await.unwrap();
    }
    clock.advance(Duration::days(29));
    db.store.touch_session(&hash(2), clock.now()).await.unwrap();
    clock.advance(Duration::days(2));
    let purged = db.store.purge_sessions(clock.now(), clock.now() - policy.idle).await.unwrap();
    assert_eq!(purged, 2, "the ended and the idle one");
    assert!(db.store.find_session(&hash(2)).await.unwrap().is_some());
    assert_eq!(db.store.find_session(&hash(1)).await.unwrap(), None);
    assert_eq!(db.store.find_session(&hash(3)).await.unwrap(), None);
}

async fn login_failures_are_counted_per_subject_and_window(db: TestDb) {
    let clock = ManualClock::starting_now();
    let start = clock.now();
    for _ in 0..3 {
        db.store.record_login_failure(&hash(1), clock.now()).await.unwrap();
        clock.advance(Duration::minutes(1));
    }
    db.store.record_login_failure(&hash(2), clock.now()).await.unwrap();
    assert_eq!(db.store.login_failures_since(&hash(1), start - Duration::seconds(1)).await.unwrap(), 3);
    assert_eq!(db.store.login_failures_since(&hash(1), start + Duration::seconds(30)).await.unwrap(), 2);
    assert_eq!(db.store.login_failures_since(&hash(2), start).await.unwrap(), 1);
    assert_eq!(db.store.purge_login_failures(start + Duration::seconds(30)).await.unwrap(), 1);
    db.store.clear_login_failures(&hash(1)).await.unwrap();
    assert_eq!(db.store.login_failures_since(&hash(1), start - Duration::days(1)).await.unwrap(), 0);
    assert_eq!(db.store.login_failures_since(&hash(2), start).await.unwrap(), 1, "others keep theirs");
}

async fn totp_is_sealed_with_its_recovery_codes_and_each_code_and_step_works_once(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com", "owner").await;
    assert!(!db.store.use_totp_step(alice.id, 100).await.unwrap(), "no second factor yet");

    let first = sealed(ws, &clock, "totp");
    db.store
        .enable_totp(alice.id, &first, &[hash(1), hash(2)], &audit(&clock, "user.totp_enabled"))
        .await
        .unwrap();
    let stored = db.store.get_user(alice.id).await.unwrap().unwrap();
    assert_eq!(stored.totp.map(|t| (t.workspace_id, t.secret_id)), Some((ws, first.id)));
    assert_eq!(db.store.get_secret(ws, first.id).await.unwrap().sealed, first.sealed);
    assert!(db.store.use_totp_step(alice.id, 100).await.unwrap());
    assert!(!db.store.use_totp_step(alice.id, 100).await.unwrap(), "a code is accepted once");
    assert!(!db.store.use_totp_step(alice.id, 99).await.unwrap(), "nor an older one");
    assert!(db.store.use_totp_step(alice.id, 101).await.unwrap());
    assert_eq!(db.store.unused_recovery_codes(alice.id).await.unwrap(), 2);
    assert!(db.store.use_recovery_code(alice.id, &hash(1), clock.now()).await.unwrap());
    assert!(!db.store.use_recovery_code(alice.id, &hash(1), clock.now()).await.unwrap(), "spent");
    assert!(!db.store.use_recovery_code(alice.id, &hash(7), clock.now()).await.unwrap(), "unknown");
    assert_eq!(db.store.unused_recovery_codes(alice.id).await.unwrap(), 1);

    // Enrolling again replaces the secret and every recovery code.
    let second = sealed(ws, &clock, "totp");
    db.store.enable_totp(alice.id, &second, &[hash(3)], &audit(&clock, "user.totp_enabled")).await.unwrap();
    assert!(matches!(db.store.get_secret(ws, first.id).await, Err(StoreError::NotFound)));
    assert!(!db.store.use_recovery_code(alice.id, &hash(2), clock.now()).await.unwrap(), "old codes go");
    assert!(db.store.use_totp_step(alice.id, 50).await.unwrap(), "a new secret starts a new count");

    db.store.disable_totp(alice.id, &audit(&clock, "user.totp_disabled")).await.unwrap();
    assert_eq!(db.store.get_user(alice.id).await.unwrap().unwrap().totp, None);
    assert!(matches!(db.store.get_secret(ws, second.id).await, Err(StoreError::NotFound)));
    assert_eq!(db.store.unused_recovery_codes(alice.id).await.unwrap(), 0);
    let actions =
        texts(&db, "SELECT action FROM audit_events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    assert!(actions.contains(&Some("user.totp_disabled".to_owned())), "{actions:?}");
}

async fn roles_are_read_listed_and_changed_with_an_audit_entry(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let other = workspace(&db, &clock, "b").await;
    let alice = person(&db, &clock, ws, "alice@example.com", "owner").await;
    let bob = person(&db, &clock, ws, "bob@example.com", "viewer").await;
    assert_eq!(db.store.member_role(ws, bob.id).await.unwrap(), Some(Role::Viewer));
    assert_eq!(db.store.member_role(other, bob.id).await.unwrap(), None, "no role elsewhere");
    db.store.set_member_role(ws, bob.id, Role::Admin, &audit(&clock, "member.role_changed")).await.unwrap();
    assert_eq!(db.store.member_role(ws, bob.id).await.unwrap(), Some(Role::Admin));
    let unknown = db.store.set_member_role(other, bob.id, Role::Admin, &audit(&clock, "x")).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    let members: Vec<_> =
        db.store.list_members(ws).await.unwrap().into_iter().map(|m| (m.email, m.role)).collect();
    assert_eq!(
        members,
        [("alice@example.com".to_owned(), Role::Owner), ("bob@example.com".to_owned(), Role::Admin)]
    );
    assert!(db.store.list_members(other).await.unwrap().is_empty());
    let _ = alice;
    let actions =
        texts(&db, "SELECT action FROM audit_events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    assert_eq!(actions.last(), Some(&Some("member.role_changed".to_owned())));
}

fn invitation(
    clock: &ManualClock,
    ws: WorkspaceId,
    by: &User,
    token: u8,
    email: &str,
    role: Role,
) -> Invitation {
    Invitation {
        id: uuid::Uuid::now_v7(),
        token_hash: hash(token),
        workspace_id: ws,
        email: email.into(),
        role,
        invited_by: by.id,
        created_at: clock.now(),
        expires_at: clock.now() + Duration::days(7),
        accepted_at: None,
    }
}

async fn an_invitation_is_accepted_once_before_it_expires_by_a_new_or_existing_person(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let other = workspace(&db, &clock, "b").await;
    let alice = person(&db, &clock, ws, "alice@example.com", "owner").await;
    let carol = person(&db, &clock, other, "carol@example.com", "owner").await;
    let for_bob = invitation(&clock, ws, &alice, 1, "bob@example.com", Role::Member);
    let for_carol = invitation(&clock, ws, &alice, 2, "carol@example.com", Role::Viewer);
    let late = invitation(&clock, ws, &alice, 3, "late@example.com", Role::Member);
    let revoked = invitation(&clock, ws, &alice, 4, "gone@example.com", Role::Member);
    for inv in [&for_bob, &for_carol, &late, &revoked] {
        db.store.create_invitation(inv, &audit(&clock, "member.invited")).await.unwrap();
    }
    assert_eq!(db.store.find_invitation(&hash(1)).await.unwrap(), Some(for_bob.clone()));
    assert_eq!(db.store.list_invitations(ws).await.unwrap().len(), 4);
    assert!(db.store.list_invitations(other).await.unwrap().is_empty());
    assert!(
        !db.store.revoke_invitation(other, revoked.id, &audit(&clock, "x")).await.unwrap(),
        "not from another workspace"
    );
    assert!(
        db.store
            .revoke_invitation(ws, revoked.id, &audit(&clock, "member.invitation_revoked"))
            .await
            .unwrap()
    );

    clock.advance(Duration::days(1));
    let bob = User {
        id: uuid::Uuid::now_v7(),
        email: "bob@example.com".into(),
        password_hash: "$argon2id$x".into(),
        created_at: clock.now(),
        totp: None,
    };
    let accepted = db
        .store
        .accept_invitation(&hash(1), Invitee::New(&bob), clock.now(), &audit(&clock, "member.joined"))
        .await
        .unwrap();
    assert_eq!(accepted.accepted_at, Some(clock.now()));
    assert_eq!(db.store.member_role(ws, bob.id).await.unwrap(), Some(Role::Member));
    let again = db
        .store
        .accept_invitation(&hash(1), Invitee::Existing(carol.id), clock.now(), &audit(&clock, "x"))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "single use: {again:?}");
    assert_eq!(db.store.member_role(ws, carol.id).await.unwrap(), None);

    db.store
        .accept_invitation(
            &hash(2),
            Invitee::Existing(carol.id),
            clock.now(),
            &audit(&clock, "member.joined"),
        )
        .await
        .unwrap();
    assert_eq!(db.store.member_role(ws, carol.id).await.unwrap(), Some(Role::Viewer));
    assert_eq!(
        db.store.member_role(other, carol.id).await.unwrap(),
        Some(Role::Owner),
        "her other workspace is unchanged"
    );

    clock.advance(Duration::days(7));
    let expired = db
        .store
        .accept_invitation(&hash(3), Invitee::Existing(carol.id), clock.now(), &audit(&clock, "x"))
        .await;
    assert!(matches!(expired, Err(StoreError::NotFound)), "{expired:?}");
    let revoked_use = db
        .store
        .accept_invitation(&hash(4), Invitee::Existing(carol.id), clock.now(), &audit(&clock, "x"))
        .await;
    assert!(matches!(revoked_use, Err(StoreError::NotFound)));

    // A member already, or an e-mail taken: nothing is spent or made.
    let twice = invitation(&clock, ws, &alice, 5, "bob@example.com", Role::Admin);
    db.store.create_invitation(&twice, &audit(&clock, "member.invited")).await.unwrap();
    let member = db
        .store
        .accept_invitation(&hash(5), Invitee::Existing(bob.id), clock.now(), &audit(&clock, "x"))
        .await;
    assert!(matches!(member, Err(StoreError::Conflict(_))), "{member:?}");
    let taken = User { id: uuid::Uuid::now_v7(), ..bob.clone() };
    let dup =
        db.store.accept_invitation(&hash(5), Invitee::New(&taken), clock.now(), &audit(&clock, "x")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(db.store.find_invitation(&hash(5)).await.unwrap().unwrap().accepted_at, None, "still unspent");
    assert_eq!(db.store.member_role(ws, bob.id).await.unwrap(), Some(Role::Member));
}

async fn a_new_password_ends_the_other_sessions_and_workspaces_can_require_a_second_factor(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = person(&db, &clock, ws, "alice@example.com", "owner").await;
    let here = session(&clock, &alice, ws, 1);
    let elsewhere = session(&clock, &alice, ws, 2);
    db.store.insert_session(&here).await.unwrap();
    db.store.insert_session(&elsewhere).await.unwrap();
    db.store
        .set_password(alice.id, "$argon2id$new", here.id, ws, &audit(&clock, "user.password_changed"))
        .await
        .unwrap();
    assert_eq!(db.store.get_user(alice.id).await.unwrap().unwrap().password_hash, "$argon2id$new");
    assert!(db.store.find_session(&hash(1)).await.unwrap().is_some());
    assert_eq!(db.store.find_session(&hash(2)).await.unwrap(), None);
    let unknown = db.store.set_password(uuid::Uuid::now_v7(), "x", here.id, ws, &audit(&clock, "x")).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)));

    assert!(!db.store.second_factor_required(ws).await.unwrap(), "off by default");
    db.store
        .require_second_factor(ws, true, &audit(&clock, "workspace.second_factor_required"))
        .await
        .unwrap();
    assert!(db.store.second_factor_required(ws).await.unwrap());
    db.store.require_second_factor(ws, false, &audit(&clock, "x")).await.unwrap();
    assert!(!db.store.second_factor_required(ws).await.unwrap());
}
