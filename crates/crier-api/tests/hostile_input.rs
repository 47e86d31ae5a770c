//! Acceptance: malformed JSON, wrong content types, oversized bodies, unknown fields and bad ids
//! get a 4xx problem+json, never a 500, and never change a row.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Reply, Server};
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};

on_both_backends!(backend: hostile_bodies_are_refused_cleanly, bad_ids_and_routes_are_refused_cleanly);

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    pointer: Option<&'static str>,
}

fn case(
    name: &'static str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    status: StatusCode,
) -> Case {
    Case { name, content_type, body: body.into(), status, pointer: None }
}

fn field(name: &'static str, body: &str, pointer: &'static str) -> Case {
    Case {
        pointer: Some(pointer),
        ..case(name, Some("application/json"), body, StatusCode::UNPROCESSABLE_ENTITY)
    }
}

fn cases() -> Vec<Case> {
    let json = Some("application/json");
    let nested = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let nested_field = format!("{{\"scopes\": {}{}}}", "[".repeat(1000), "]".repeat(1000));
    let big = format!("{{\"name\": \"{}\", \"scopes\": [\"posts:read\"]}}", "x".repeat(2 * 1024 * 1024));
    vec![
        case("truncated JSON", json, r#"{"scopes": ["#, StatusCode::BAD_REQUEST),
        case("trailing garbage", json, r#"{"scopes": ["posts:read"]} x"#, StatusCode::BAD_REQUEST),
        case("not UTF-8", json, vec![b'{', 0xff, 0xfe, b'}'], StatusCode::BAD_REQUEST),
        case("deep nesting", json, nested, StatusCode::UNPROCESSABLE_ENTITY),
        case("deep nesting in a field", json, nested_field, StatusCode::UNPROCESSABLE_ENTITY),
        field("duplicate field", r#"{"scopes": ["keys:admin"], "scopes": ["posts:read"]}"#, "/scopes"),
        case("empty body", json, "", StatusCode::BAD_REQUEST),
        case(
            "text/plain",
            Some("text/plain"),
            r#"{"scopes": ["posts:read"]}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            "form",
            Some("application/x-www-form-urlencoded"),
            "scopes=posts:read",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        case("no content type", None, r#"{"scopes": ["posts:read"]}"#, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        case("oversized", json, big, StatusCode::PAYLOAD_TOO_LARGE),
        field("unknown field", r#"{"scopes": ["posts:read"], "admin": true}"#, "/admin"),
        field("scopes not a list", r#"{"scopes": "posts:read"}"#, "/scopes"),
        field("unknown scope", r#"{"scopes": ["posts:read", "root"]}"#, "/scopes/1"),
        field("no scopes", r#"{"scopes": []}"#, "/scopes"),
        field("missing scopes", r#"{"name": "x"}"#, ""),
        field(
            "expiry in the past",
            r#"{"scopes": ["posts:read"], "expires_at": "2001-01-01T00:00:00Z"}"#,
            "/expires_at",
        ),
        field("expiry not a date", r#"{"scopes": ["posts:read"], "expires_at": "tomorrow"}"#, "/expires_at"),
        field("unknown mode", r#"{"scopes": ["posts:read"], "mode": "god"}"#, "/mode"),
        field(
            "name too long",
            &format!(r#"{{"scopes": ["posts:read"], "name": "{}"}}"#, "n".repeat(101)),
            "/name",
        ),
        field("control character in name", r#"{"scopes": ["posts:read"], "name": "a\u0007b"}"#, "/name"),
        field("array body", r#"[{"scopes": ["posts:read"]}]"#, ""),
        field("null body", "null", ""),
    ]
}

async fn send(server: &Server, key: &str, method: Method, path: &str, case: &Case) -> Reply {
    let mut request = server.http.request(method, server.url(path)).bearer_auth(key).body(case.body.clone());
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    Reply::from(request.send().await.unwrap()).await
}

async fn hostile_bodies_are_refused_cleanly(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (key_id, _) = server.create_key(&seeded.admin_key, &["posts:read"]).await;
    let before = server.db.store.list_api_keys(seeded.workspace).await.unwrap();

    for case in cases() {
        let reply = send(&server, &seeded.admin_key, Method::POST, "/v1/api-keys", &case).await;
        let problem = reply.assert_problem(case.status);
        if let Some(pointer) = case.pointer {
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{}: {problem}", case.name);
        }
    }
    let rotate = format!("/v1/api-keys/{key_id}/rotate");
    for case in
        cases().into_iter().filter(|c| !c.body.is_empty() && c.status != StatusCode::UNPROCESSABLE_ENTITY)
    {
        let reply = send(&server, &seeded.admin_key, Method::POST, &rotate, &case).await;
        assert!(reply.status.is_client_error(), "rotate {}: {:?}", case.name, reply.status);
        assert_eq!(reply.content_type(), "application/problem+json", "rotate {}", case.name);
    }

    assert_eq!(server.db.store.list_api_keys(seeded.workspace).await.unwrap(), before, "nothing changed");
}

async fn bad_ids_and_routes_are_refused_cleanly(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    assert_eq!(
        server.get("/v1/workspace", &seeded.admin_key).await.status,
        StatusCode::OK,
        "records first use"
    );
    let before = server.db.store.list_api_keys(seeded.workspace).await.unwrap();
    let long = "k".repeat(5000);
    let bad_ids = [
        "not-an-id".to_owned(),
        seeded.workspace.to_string(),
        "key_".to_owned(),
        "key_%00%00".to_owned(),
        "key_01jd8x3k6m2v5q9r7t4w1y0zaU".to_owned(),
        "key_..%2F..%2Fetc".to_owned(),
        format!("key_{long}"),
    ];
    let unknown = crier_core::ApiKeyId::generate();
    let absent =
        server.call(Method::GET, &format!("/v1/api-keys/{unknown}"), Some(&seeded.admin_key), None).await;
    for id in &bad_ids {
        for method in [Method::GET, Method::DELETE] {
            let reply = server
                .call(method.clone(), &format!("/v1/api-keys/{id}"), Some(&seeded.admin_key), None)
                .await;
            reply.assert_problem(StatusCode::NOT_FOUND);
            assert_eq!(reply.body, absent.body, "{method} {id}: a malformed id reads like an unknown one");
        }
        let reply = server
            .call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(&seeded.admin_key), None)
            .await;
        reply.assert_problem(StatusCode::NOT_FOUND);
    }
    server
        .call(Method::GET, "/v1/nothing-here", Some(&seeded.admin_key), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    server
        .call(Method::PUT, "/v1/api-keys", Some(&seeded.admin_key), None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    server
        .call(Method::PATCH, "/v1/workspace", Some(&seeded.admin_key), None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(server.db.store.list_api_keys(seeded.workspace).await.unwrap(), before, "nothing changed");
}
