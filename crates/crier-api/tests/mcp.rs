//! MCP through the official TypeScript SDK clients, unchanged: v1 (protocol 2025-11-25) and v2
//! (2026-07-28) list the tools, create a post on a sandbox channel (once, whatever the retries),
//! read its status, get a validation failure they can act on, and read a channel's limits. Then
//! the post is published by the worker. Also: authentication, Host and Origin checks.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Server;
use crier_testkit::mcp_client::{Sdk, run_client};
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    backend: the_v1_sdk_client_posts_and_follows_a_post,
    the_v2_sdk_client_posts_and_follows_a_post,
    requests_without_a_valid_key_get_a_401_pointing_at_the_metadata,
);

async fn agent_session(backend: Backend, sdk: Sdk, protocol: &str) {
    let server = Server::start(backend).await;
    let key = server.seed("agents").await.admin_key;
    let channel = server.sandbox(&key, json!({"max_chars": 500})).await;
    let url = server.url("/mcp");
    let (k, c) = (key.clone(), channel.clone());
    let out = tokio::task::spawn_blocking(move || run_client(sdk, &url, &k, &c)).await.unwrap();

    assert_eq!(out["version"], protocol, "negotiated protocol");
    let names: Vec<&str> =
        out["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for tool in [
        "list_channels",
        "create_post",
        "get_post",
        "list_posts",
        "cancel_post",
        "retry_target",
        "delete_publication",
        "upload_media_from_url",
        "list_events",
    ] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
    let create = out["tools"].as_array().unwrap().iter().find(|t| t["name"] == "create_post").unwrap();
    let properties = &create["inputSchema"]["properties"];
    for field in ["text", "targets", "media", "scheduled_at", "idempotency_key"] {
        assert!(properties.get(field).is_some(), "create_post's schema lacks {field}: {create}");
    }

    let created = &out["created"];
    assert_ne!(created["isError"], true, "{created}");
    let post_id = created["structuredContent"]["id"].as_str().unwrap();
    assert_eq!(created["structuredContent"]["targets"][0]["status"], "queued");
    assert_eq!(out["replayed"]["structuredContent"]["id"], post_id, "the idempotency key replays");
    assert_eq!(out["post"]["structuredContent"]["id"], post_id);
    assert_eq!(out["post"]["structuredContent"]["targets"][0]["channel_id"], channel.as_str());

    let invalid = &out["invalid"];
    assert_eq!(invalid["isError"], true, "{invalid}");
    assert_eq!(invalid["structuredContent"]["status"], 422);
    assert!(
        invalid["structuredContent"]["errors"][0]["detail"].as_str().unwrap().contains("600 characters"),
        "{invalid}"
    );

    let limits: Value = serde_json::from_str(out["limits"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(limits["text"], json!({"max": 500, "counted_in": "graphemes"}));
    assert_eq!(limits["media"]["max_images"], 4);

    // One post, not two, and it goes out.
    let posts = server.get("/v1/posts", &key).await;
    assert_eq!(posts.body["data"].as_array().unwrap().len(), 1, "{}", posts.body);
    server.worker("w").run_once().await.unwrap();
    assert_eq!(server.get(&format!("/v1/posts/{post_id}"), &key).await.body["status"], "published");
}

async fn the_v1_sdk_client_posts_and_follows_a_post(backend: Backend) {
    agent_session(backend, Sdk::V1, "2025-11-25").await;
}

async fn the_v2_sdk_client_posts_and_follows_a_post(backend: Backend) {
    agent_session(backend, Sdk::V2, "2026-07-28").await;
}

async fn requests_without_a_valid_key_get_a_401_pointing_at_the_metadata(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("agents").await.admin_key;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let post = |token: Option<&str>, origin: Option<&str>| {
        let mut request = server
            .http
            .post(server.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&list);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    for token in [None, Some("crier_live_nope"), Some("not-a-key")] {
        let response = post(token, None).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.starts_with("Bearer ")
                && challenge.contains("resource_metadata=\"")
                && challenge.contains("/.well-known/oauth-protected-resource/mcp\""),
            "{challenge}"
        );
    }
    // A page on another origin cannot drive the agent's session (DNS rebinding, CSRF).
    let response = post(Some(&key), Some("https://evil.example")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post(Some(&key), None).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);

    // A key without the tool's scope: 403 insufficient_scope naming it, before any tool runs.
    let (_, reader) = server.create_key(&key, &["posts:read"]).await;
    let call = |tool: &str, arguments: Value| {
        server
            .http
            .post(server.url("/mcp"))
            .bearer_auth(&reader)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": tool, "arguments": arguments}}))
            .send()
    };
    let refused = call("create_post", json!({"text": "x", "targets": []})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"posts:write\""),
        "{challenge}"
    );
    let allowed = call("list_posts", json!({})).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(server.get("/v1/posts", &key).await.body["data"], json!([]), "nothing was posted");
}
