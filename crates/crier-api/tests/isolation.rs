//! Acceptance: for every endpoint that takes an id, a key of workspace B gets 404 for workspace
//! A's object (the same answer as for an id that exists nowhere) and nothing of A changes.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Server;
use crier_core::ApiKeyId;
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(backend: other_workspace_gets_404_and_changes_nothing, lists_show_only_own_workspace);

/// Every route with an id in its path, with a body that would succeed for the owner.
fn matrix() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/v1/api-keys/{id}", None),
        (Method::DELETE, "/v1/api-keys/{id}", None),
        (Method::POST, "/v1/api-keys/{id}/rotate", Some(json!({"grace_period_seconds": 60}))),
    ]
}

#[test]
fn matrix_covers_every_route_that_takes_an_id() {
    let spec = serde_json::to_value(crier_api::openapi()).unwrap();
    let covered: Vec<(String, String)> =
        matrix().into_iter().map(|(m, p, _)| (m.as_str().to_ascii_lowercase(), p.to_owned())).collect();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
            assert!(
                covered.contains(&(method.clone(), path.clone())),
                "{method} {path} takes an id but is missing from the isolation matrix"
            );
        }
    }
}

async fn other_workspace_gets_404_and_changes_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let (a_key_id, _) = server.create_key(&a.admin_key, &["posts:read"]).await;
    let before = server.db.store.list_api_keys(a.workspace).await.unwrap();
    let b_before = server.db.store.list_api_keys(b.workspace).await.unwrap().len();

    for (method, template, body) in matrix() {
        let theirs = server
            .call(method.clone(), &template.replace("{id}", &a_key_id), Some(&b.admin_key), body.clone())
            .await;
        theirs.assert_problem(StatusCode::NOT_FOUND);
        let nowhere = server
            .call(
                method.clone(),
                &template.replace("{id}", &ApiKeyId::generate().to_string()),
                Some(&b.admin_key),
                body,
            )
            .await;
        nowhere.assert_problem(StatusCode::NOT_FOUND);
        assert_eq!(
            theirs.body, nowhere.body,
            "{method} {template}: another tenant's object must look absent"
        );
    }

    assert_eq!(server.db.store.list_api_keys(a.workspace).await.unwrap(), before, "A is unchanged");
    assert_eq!(server.db.store.list_api_keys(b.workspace).await.unwrap().len(), b_before, "B gained nothing");
}

async fn lists_show_only_own_workspace(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let (a_key_id, _) = server.create_key(&a.admin_key, &["posts:read"]).await;
    let listed = server.get("/v1/api-keys", &b.admin_key).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1, "only B's own key");
    assert!(!listed.body.to_string().contains(&a_key_id));
    let me = server.get("/v1/workspace", &b.admin_key).await;
    assert_eq!(me.body["id"], b.workspace.to_string());
}
