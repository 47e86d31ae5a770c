//! The audit log over HTTP: key operations are recorded with who, what, where, in one gapless
//! hash chain per workspace, readable only with `audit:read` and only by its own workspace.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Server;
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_backends!(backend: key_operations_are_audited_in_one_chain, audit_log_needs_its_scope_and_stays_home);

async fn key_operations_are_audited_in_one_chain(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (id, _) = server.create_key(&seeded.admin_key, &["posts:read"]).await;
    let rotated =
        server.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(&seeded.admin_key), None).await;
    let successor = rotated.body["api_key"]["id"].as_str().unwrap().to_owned();
    server.call(Method::DELETE, &format!("/v1/api-keys/{successor}"), Some(&seeded.admin_key), None).await;

    let mut rows: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/audit-events?limit=2".to_owned(),
            Some(c) => format!("/v1/audit-events?limit=2&cursor={c}"),
        };
        let page = server.get(&path, &seeded.admin_key).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        rows.extend(page.body["data"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["workspace.created", "api_key.created", "api_key.created", "api_key.rotated", "api_key.revoked"]
    );
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["seq"], i + 1);
        if i > 0 {
            assert_eq!(row["prev_hash"], rows[i - 1]["hash"], "chained");
        }
    }
    let rotation = &rows[3];
    assert_eq!(rotation["target"], id);
    assert!(rotation["actor"].as_str().unwrap().starts_with("api_key:key_"));
    assert_eq!(rotation["ip"], "127.0.0.1");
}

async fn audit_log_needs_its_scope_and_stays_home(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let (_, no_audit) = server.create_key(&a.admin_key, &["keys:admin"]).await;
    let refused = server.get("/v1/audit-events", &no_audit).await;
    assert!(refused.assert_problem(StatusCode::FORBIDDEN)["detail"].as_str().unwrap().contains("audit:read"));

    let b_view = server.get("/v1/audit-events", &b.admin_key).await;
    let rows = b_view.body["data"].as_array().unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["workspace.created", "api_key.created"], "only B's own history");
    assert_eq!(rows[0]["target"], b.workspace.to_string());
    assert!(!b_view.body.to_string().contains(&a.workspace.to_string()));

    for bad in ["?cursor=abc", "?cursor=-1", "?limit=0", "?limit=201", "?limit=x", "?bogus=1"] {
        server
            .get(&format!("/v1/audit-events{bad}"), &a.admin_key)
            .await
            .assert_problem(StatusCode::BAD_REQUEST);
    }
}
