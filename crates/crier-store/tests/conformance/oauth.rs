//! Users, OAuth clients, single-use codes and rotating refresh tokens, on both backends.

use chrono::Duration;
use crier_core::{
    AuthorizationCode, Clock, KeyHash, ManualClock, OAuthClient, OAuthToken, RefreshUse, ScopeSet,
    StoreError, TokenKind, User,
};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{audit, texts, workspace};

on_both_backends!(
    users_belong_to_workspaces_and_emails_are_unique,
    codes_are_single_use,
    refresh_tokens_rotate_and_a_replay_revokes_the_grant,
);

fn hash(byte: u8) -> KeyHash {
    KeyHash::from_slice(&[byte; 32]).unwrap()
}

fn user(clock: &ManualClock, email: &str) -> User {
    User {
        id: uuid::Uuid::now_v7(),
        email: email.into(),
        password_hash: "$argon2id$x".into(),
        created_at: clock.now(),
        totp: None,
    }
}

async fn client(db: &TestDb, clock: &ManualClock) -> OAuthClient {
    let client = OAuthClient {
        client_id: format!("mcpc_{}", uuid::Uuid::now_v7()),
        name: "agent".into(),
        redirect_uris: vec!["http://127.0.0.1:9/cb".into(), "https://app.example/cb".into()],
        created_at: clock.now(),
    };
    db.store.register_client(&client).await.unwrap();
    client
}

async fn users_belong_to_workspaces_and_emails_are_unique(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = user(&clock, "alice@example.com");
    db.store.create_user(&alice, ws, "owner", &audit(&clock, "user.created")).await.unwrap();
    assert_eq!(db.store.find_user_by_email("alice@example.com").await.unwrap(), Some(alice.clone()));
    assert_eq!(db.store.find_user_by_email("bob@example.com").await.unwrap(), None);
    assert_eq!(db.store.user_workspaces(alice.id).await.unwrap(), [(ws, "owner".to_owned())]);
    let again =
        db.store.create_user(&user(&clock, "alice@example.com"), ws, "member", &audit(&clock, "x")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let bad_role =
        db.store.create_user(&user(&clock, "carol@example.com"), ws, "root", &audit(&clock, "x")).await;
    assert!(bad_role.is_err());
    assert_eq!(db.store.find_user_by_email("carol@example.com").await.unwrap(), None, "nothing half-made");
    let actions =
        texts(&db, "SELECT action FROM audit_events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    assert!(actions.contains(&Some("user.created".to_owned())), "{actions:?}");

    let registered = client(&db, &clock).await;
    assert_eq!(db.store.get_client(&registered.client_id).await.unwrap(), Some(registered.clone()));
    assert!(db.store.register_client(&registered).await.is_err(), "a client id is taken once");
    assert_eq!(db.store.get_client("mcpc_unknown").await.unwrap(), None);
}

async fn codes_are_single_use(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = user(&clock, "alice@example.com");
    db.store.create_user(&alice, ws, "owner", &audit(&clock, "user.created")).await.unwrap();
    let client = client(&db, &clock).await;
    let code = AuthorizationCode {
        hash: hash(1),
        client_id: client.client_id,
        workspace_id: ws,
        user_id: alice.id,
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        code_challenge: "c".repeat(43),
        scopes: "posts:read posts:write".parse().unwrap(),
        resource: "https://crier.example/mcp".into(),
        expires_at: clock.now() + Duration::minutes(5),
    };
    db.store.insert_code(&code).await.unwrap();
    assert_eq!(db.store.take_code(&hash(1)).await.unwrap(), Some(code));
    assert_eq!(db.store.take_code(&hash(1)).await.unwrap(), None, "a code works once");
    assert_eq!(db.store.take_code(&hash(2)).await.unwrap(), None);
}

async fn refresh_tokens_rotate_and_a_replay_revokes_the_grant(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let alice = user(&clock, "alice@example.com");
    db.store.create_user(&alice, ws, "owner", &audit(&clock, "user.created")).await.unwrap();
    let client = client(&db, &clock).await;
    let grant = uuid::Uuid::now_v7();
    let token = |byte: u8, kind: TokenKind| OAuthToken {
        hash: hash(byte),
        kind,
        grant_id: grant,
        client_id: client.client_id.clone(),
        workspace_id: ws,
        user_id: alice.id,
        scopes: ScopeSet::all(),
        resource: "https://crier.example/mcp".into(),
        created_at: clock.now(),
        expires_at: clock.now() + Duration::hours(1),
        revoked_at: None,
        used_at: None,
    };
    db.store.insert_tokens(&[token(10, TokenKind::Access), token(11, TokenKind::Refresh)]).await.unwrap();
    assert_eq!(db.store.find_token(&hash(10)).await.unwrap(), Some(token(10, TokenKind::Access)));

    let at = clock.now();
    let first = db.store.use_refresh_token(&hash(11), at).await.unwrap();
    assert!(
        matches!(&first, RefreshUse::Fresh(t) if t.grant_id == grant && t.used_at == Some(at)),
        "{first:?}"
    );
    // The access token cannot be spent as a refresh token, and an unknown one is invalid.
    assert_eq!(db.store.use_refresh_token(&hash(10), at).await.unwrap(), RefreshUse::Invalid);
    assert_eq!(db.store.use_refresh_token(&hash(99), at).await.unwrap(), RefreshUse::Invalid);
    db.store.insert_tokens(&[token(20, TokenKind::Access), token(21, TokenKind::Refresh)]).await.unwrap();

    // The spent token again: a replay, which revokes every token of the grant.
    assert_eq!(db.store.use_refresh_token(&hash(11), at).await.unwrap(), RefreshUse::Replayed);
    for byte in [10, 20, 21] {
        let found = db.store.find_token(&hash(byte)).await.unwrap().unwrap();
        assert_eq!(found.revoked_at, Some(at), "token {byte}");
    }
    assert_eq!(db.store.use_refresh_token(&hash(21), at).await.unwrap(), RefreshUse::Invalid, "revoked");
}
