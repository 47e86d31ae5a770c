//! Acceptance: the API key lifecycle through the real HTTP server, on both backends, with time
//! moved by the injected clock rather than slept.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::Server;
use crier_core::{ApiKeyMode, Clock, ScopeSet};
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    backend:
    created_key_works_and_is_shown_once,
    missing_scope_is_403_naming_it,
    revoked_key_is_refused_at_once,
    expired_key_is_refused,
    rotated_key_works_in_grace_then_refused,
    rotation_grace_can_be_chosen,
    rotating_twice_conflicts,
    keys_cannot_escalate,
        bad_credentials_are_401_with_challenge,
    weaker_keys_cannot_rotate_or_revoke_stronger_ones,
    keys_do_not_outlive_their_maker,
    rotate_accepts_an_empty_body_of_any_type,
);

async fn created_key_works_and_is_shown_once(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, secret) = server.create_key(&seeded.admin_key, &["keys:admin", "posts:read"]).await;
    assert!(secret.starts_with("crier_live_"));

    let me = server.get("/v1/workspace", &secret).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], seeded.workspace.to_string());

    let shown = server.get(&format!("/v1/api-keys/{id}"), &secret).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["status"], "active");
    assert_eq!(shown.body["scopes"], json!(["posts:read", "keys:admin"]));
    assert!(shown.body.get("secret").is_none());
    assert!(!shown.body.to_string().contains(&secret[11..50]), "listing must not reveal the secret");
    assert!(shown.body["last_used_at"].is_string(), "use is recorded");

    let listed = server.get("/v1/api-keys", &secret).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    assert!(!listed.body.to_string().contains(&secret[11..50]));
}

async fn missing_scope_is_403_naming_it(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (_, reader) = server.create_key(&seeded.admin_key, &["posts:read"]).await;
    for (method, path) in [(Method::GET, "/v1/workspace"), (Method::GET, "/v1/api-keys")] {
        let reply = server.call(method, path, Some(&reader), None).await;
        let problem = reply.assert_problem(StatusCode::FORBIDDEN);
        assert!(problem["detail"].as_str().unwrap().contains("keys:admin"), "{problem}");
    }
    let reply = server.post("/v1/api-keys", &reader, json!({"scopes": ["posts:read"]})).await;
    reply.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(server.db.store.list_api_keys(seeded.workspace).await.unwrap().len(), 2, "nothing created");
}

async fn revoked_key_is_refused_at_once(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, secret) = server.create_key(&seeded.admin_key, &["keys:admin"]).await;
    assert_eq!(server.get("/v1/workspace", &secret).await.status, StatusCode::OK);

    let revoked =
        server.call(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&seeded.admin_key), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["status"], "revoked");

    let refused = server.get("/v1/workspace", &secret).await;
    let problem = refused.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(problem["detail"].as_str().unwrap().contains("revoked"), "{problem}");
    assert!(refused.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));

    let again =
        server.call(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&seeded.admin_key), None).await;
    assert_eq!(again.status, StatusCode::OK, "revoking twice is harmless");
}

async fn expired_key_is_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let expires_at = server.clock.now() + Duration::hours(1);
    let reply = server
        .post("/v1/api-keys", &seeded.admin_key, json!({"scopes": ["keys:admin"], "expires_at": expires_at}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let secret = reply.body["secret"].as_str().unwrap().to_owned();

    server.clock.advance(Duration::minutes(59));
    assert_eq!(server.get("/v1/workspace", &secret).await.status, StatusCode::OK);
    server.clock.advance(Duration::minutes(1));
    let refused = server.get("/v1/workspace", &secret).await;
    let problem = refused.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(problem["detail"].as_str().unwrap().contains("expired"), "{problem}");
}

async fn rotated_key_works_in_grace_then_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, old) = server.create_key(&seeded.admin_key, &["keys:admin"]).await;

    let rotated = server.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(&old), None).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated.body["api_key"]["scopes"], json!(["keys:admin"]));
    let old_view = server.get(&format!("/v1/api-keys/{id}"), &new).await;
    assert_eq!(old_view.body["status"], "rotated");
    assert_eq!(old_view.body["replaced_by"], rotated.body["api_key"]["id"]);

    server.clock.advance(Duration::hours(23) + Duration::minutes(59));
    assert_eq!(server.get("/v1/workspace", &old).await.status, StatusCode::OK, "inside the grace window");
    server.clock.advance(Duration::minutes(1));
    let refused = server.get("/v1/workspace", &old).await;
    let problem = refused.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(problem["detail"].as_str().unwrap().contains("rotated"), "{problem}");
    assert_eq!(server.get("/v1/workspace", &new).await.status, StatusCode::OK, "the successor still works");
}

async fn rotation_grace_can_be_chosen(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, old) = server.create_key(&seeded.admin_key, &["keys:admin"]).await;
    let path = format!("/v1/api-keys/{id}/rotate");
    let too_long = server.post(&path, &seeded.admin_key, json!({"grace_period_seconds": 8 * 86400})).await;
    assert_eq!(
        too_long.assert_problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"][0]["pointer"],
        "/grace_period_seconds"
    );
    let rotated = server.post(&path, &seeded.admin_key, json!({"grace_period_seconds": 0})).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    server.get("/v1/workspace", &old).await.assert_problem(StatusCode::UNAUTHORIZED);
}

async fn rotating_twice_conflicts(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, _) = server.create_key(&seeded.admin_key, &["keys:admin"]).await;
    let path = format!("/v1/api-keys/{id}/rotate");
    assert_eq!(
        server.call(Method::POST, &path, Some(&seeded.admin_key), None).await.status,
        StatusCode::CREATED
    );
    let again = server.call(Method::POST, &path, Some(&seeded.admin_key), None).await;
    again.assert_problem(StatusCode::CONFLICT);
    assert_eq!(server.db.store.list_api_keys(seeded.workspace).await.unwrap().len(), 3, "no third key");
}

async fn keys_cannot_escalate(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (_, narrow) = server.create_key(&seeded.admin_key, &["keys:admin", "posts:read"]).await;
    let wider = server.post("/v1/api-keys", &narrow, json!({"scopes": ["posts:write"]})).await;
    let problem = wider.assert_problem(StatusCode::FORBIDDEN);
    assert!(problem["detail"].as_str().unwrap().contains("posts:write"), "{problem}");

    let test_key = server.key_in(seeded.workspace, ScopeSet::all(), ApiKeyMode::Test, None).await;
    let live = server.post("/v1/api-keys", &test_key, json!({"scopes": ["posts:read"]})).await;
    live.assert_problem(StatusCode::FORBIDDEN);
    let test =
        server.post("/v1/api-keys", &test_key, json!({"scopes": ["posts:read"], "mode": "test"})).await;
    assert_eq!(test.status, StatusCode::CREATED);
    assert!(test.body["secret"].as_str().unwrap().starts_with("crier_test_"));
}

async fn bad_credentials_are_401_with_challenge(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let mut typo = seeded.admin_key.clone().into_bytes();
    typo[20] = if typo[20] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let unknown = crier_core::ApiKeySecret::generate(ApiKeyMode::Live).expose().to_owned();

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "Bearer realm=\"crier\""),
        (Some("Basic dXNlcjpwYXNz".into()), "invalid_token"),
        (Some("Bearer".into()), "invalid_token"),
        (Some("Bearer not-a-key".into()), "invalid_token"),
        (Some(format!("Bearer {typo}")), "invalid_token"),
        (Some(format!("Bearer {unknown}")), "invalid_token"),
        (Some(format!("Bearer {}x", seeded.admin_key)), "invalid_token"),
    ];
    for (header, challenge) in cases {
        let mut request = server.http.get(server.url("/v1/workspace"));
        if let Some(header) = &header {
            request = request.header("authorization", header);
        }
        let reply = common::Reply::from(request.send().await.unwrap()).await;
        reply.assert_problem(StatusCode::UNAUTHORIZED);
        let got = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(got.contains(challenge), "{header:?}: {got}");
    }
}

async fn weaker_keys_cannot_rotate_or_revoke_stronger_ones(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let admin_id = server.db.store.list_api_keys(seeded.workspace).await.unwrap()[0].id.to_string();
    let (_, narrow) = server.create_key(&seeded.admin_key, &["keys:admin", "posts:read"]).await;
    let test_key = server.key_in(seeded.workspace, ScopeSet::all(), ApiKeyMode::Test, None).await;
    let before = server.db.store.get_api_key(seeded.workspace, admin_id.parse().unwrap()).await.unwrap();

    for weaker in [&narrow, &test_key] {
        let rotate = format!("/v1/api-keys/{admin_id}/rotate");
        server.call(Method::POST, &rotate, Some(weaker), None).await.assert_problem(StatusCode::FORBIDDEN);
        let revoke = format!("/v1/api-keys/{admin_id}");
        server.call(Method::DELETE, &revoke, Some(weaker), None).await.assert_problem(StatusCode::FORBIDDEN);
    }
    let after = server.db.store.get_api_key(seeded.workspace, admin_id.parse().unwrap()).await.unwrap();
    assert_eq!(after.revoked_at, None);
    assert_eq!(after.rotated_at, None);
    assert_eq!((after.scopes, after.expires_at), (before.scopes, before.expires_at));
}

async fn keys_do_not_outlive_their_maker(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let hour =
        server.key_in(seeded.workspace, ScopeSet::all(), ApiKeyMode::Live, Some(Duration::hours(1))).await;
    let made = server.post("/v1/api-keys", &hour, json!({"scopes": ["posts:read"]})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let limit = server.clock.now() + Duration::hours(1);
    assert_eq!(made.body["api_key"]["expires_at"], json!(limit), "inherits the maker's expiry");
    let later = server
        .post(
            "/v1/api-keys",
            &hour,
            json!({"scopes": ["posts:read"], "expires_at": limit + Duration::seconds(1)}),
        )
        .await;
    assert_eq!(later.assert_problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"][0]["pointer"], "/expires_at");

    let (id, old) = server.create_key(&seeded.admin_key, &["keys:admin", "posts:read"]).await;
    let rotated = server.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(&old), None).await;
    assert_eq!(rotated.status, StatusCode::CREATED);
    let from_rotated = server.post("/v1/api-keys", &old, json!({"scopes": ["posts:read"]})).await;
    let problem = from_rotated.assert_problem(StatusCode::FORBIDDEN);
    assert!(problem["detail"].as_str().unwrap().contains("successor"), "{problem}");
}

async fn rotate_accepts_an_empty_body_of_any_type(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, _) = server.create_key(&seeded.admin_key, &["posts:read"]).await;
    // What `curl -X POST -d ''` sends.
    let reply = server
        .http
        .post(server.url(&format!("/v1/api-keys/{id}/rotate")))
        .bearer_auth(&seeded.admin_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
}
