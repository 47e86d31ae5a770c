//! Acceptance: for every endpoint that takes an id, a key of workspace B gets 404 for workspace
//! A's object (the same answer as for an id that exists nowhere) and nothing of A changes.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Server;
use crier_core::{ApiKeyId, ChannelId, DeliveryId, MediaId, PostId, TargetId, WebhookEndpointId};
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
        (Method::GET, "/v1/channels/{id}", None),
        (Method::DELETE, "/v1/channels/{id}", None),
        (Method::GET, "/v1/channels/{id}/sandbox-deliveries", None),
        (Method::GET, "/v1/posts/{id}", None),
        (Method::GET, "/v1/posts/{id}/attempts", None),
        (Method::DELETE, "/v1/posts/{id}", None),
        (Method::POST, "/v1/posts/{id}/targets/{target_id}/retry", Some(json!({"confirm_unknown": true}))),
        (Method::DELETE, "/v1/posts/{id}/targets/{target_id}/publication", None),
        (Method::GET, "/v1/webhooks/endpoints/{id}", None),
        (Method::PATCH, "/v1/webhooks/endpoints/{id}", Some(json!({"enabled": false}))),
        (Method::DELETE, "/v1/webhooks/endpoints/{id}", None),
        (Method::POST, "/v1/webhooks/endpoints/{id}/rotate-secret", Some(json!({"grace_seconds": 60}))),
        (Method::POST, "/v1/webhooks/endpoints/{id}/test", None),
        (Method::GET, "/v1/webhooks/deliveries/{id}", None),
        (Method::POST, "/v1/webhooks/deliveries/{id}/retry", None),
        (Method::GET, "/v1/media/{id}", None),
        (Method::DELETE, "/v1/media/{id}", None),
        (Method::GET, "/v1/media/{id}/content", None),
        (Method::HEAD, "/v1/media/{id}/content", None),
        (Method::PATCH, "/v1/media/{id}/content", None),
    ]
}

/// A's object of the kind the route names, and an id of that kind that exists nowhere.
fn ids_for(template: &str, a: &AObjects) -> (String, String) {
    if template.starts_with("/v1/api-keys") {
        (a.key.clone(), ApiKeyId::generate().to_string())
    } else if template.starts_with("/v1/channels") {
        (a.channel.clone(), ChannelId::generate().to_string())
    } else if template.starts_with("/v1/webhooks/endpoints") {
        (a.endpoint.clone(), WebhookEndpointId::generate().to_string())
    } else if template.starts_with("/v1/webhooks/deliveries") {
        (a.delivery.clone(), DeliveryId::generate().to_string())
    } else if template.starts_with("/v1/media") {
        (a.media.clone(), MediaId::generate().to_string())
    } else {
        (a.post.clone(), PostId::generate().to_string())
    }
}

struct AObjects {
    key: String,
    channel: String,
    post: String,
    /// The post's target, for `/v1/posts/{id}/targets/{target_id}/…`.
    target: String,
    endpoint: String,
    delivery: String,
    media: String,
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
    let channel = server.sandbox(&a.admin_key, json!({})).await;
    let at = chrono::Utc::now() + chrono::Duration::days(1);
    let post = server
        .post(
            "/v1/posts",
            &a.admin_key,
            json!({"text": "a's", "targets": [{"channel_id": channel}], "scheduled_at": at}),
        )
        .await;
    // A public address literal passes the outbound policy without a DNS lookup.
    let endpoint = server
        .post("/v1/webhooks/endpoints", &a.admin_key, json!({"url": "https://93.184.215.14/hook"}))
        .await;
    assert_eq!(endpoint.status, StatusCode::CREATED, "{}", endpoint.body);
    let endpoint = endpoint.body["endpoint"]["id"].as_str().unwrap().to_owned();
    let ping =
        server.post(&format!("/v1/webhooks/endpoints/{endpoint}/test"), &a.admin_key, json!(null)).await;
    assert_eq!(ping.status, StatusCode::ACCEPTED, "{}", ping.body);
    let upload =
        server.post("/v1/media/uploads", &a.admin_key, json!({"size": 10, "file_name": "a.png"})).await;
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.body);
    let a_objects = AObjects {
        key: a_key_id,
        channel,
        post: post.body["id"].as_str().unwrap().to_owned(),
        target: post.body["targets"][0]["id"].as_str().unwrap().to_owned(),
        endpoint: endpoint.clone(),
        delivery: ping.body["id"].as_str().unwrap().to_owned(),
        media: upload.body["id"].as_str().unwrap().to_owned(),
    };
    let a_endpoint_before =
        server.get(&format!("/v1/webhooks/endpoints/{endpoint}"), &a.admin_key).await.body;
    let a_delivery_before =
        server.get(&format!("/v1/webhooks/deliveries/{}", a_objects.delivery), &a.admin_key).await.body;
    let before = server.db.store.list_api_keys(a.workspace).await.unwrap();
    let b_before = server.db.store.list_api_keys(b.workspace).await.unwrap().len();
    let a_post_before = server.get(&format!("/v1/posts/{}", a_objects.post), &a.admin_key).await.body;
    let a_media_before = server.get(&format!("/v1/media/{}", a_objects.media), &a.admin_key).await.body;
    let a_channels_before = server.get("/v1/channels", &a.admin_key).await.body;

    for (method, template, body) in matrix() {
        let (theirs_id, nowhere_id) = ids_for(template, &a_objects);
        let theirs_path = template.replace("{id}", &theirs_id).replace("{target_id}", &a_objects.target);
        let nowhere_path =
            template.replace("{id}", &nowhere_id).replace("{target_id}", &TargetId::generate().to_string());
        let theirs = server.call(method.clone(), &theirs_path, Some(&b.admin_key), body.clone()).await;
        let nowhere = server.call(method.clone(), &nowhere_path, Some(&b.admin_key), body).await;
        if method == Method::HEAD {
            // No body to compare: the status says it all.
            assert_eq!((theirs.status, nowhere.status), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
            continue;
        }
        theirs.assert_problem(StatusCode::NOT_FOUND);
        nowhere.assert_problem(StatusCode::NOT_FOUND);
        assert_eq!(
            theirs.body, nowhere.body,
            "{method} {template}: another tenant's object must look absent"
        );
    }

    assert_eq!(server.db.store.list_api_keys(a.workspace).await.unwrap(), before, "A's keys are unchanged");
    assert_eq!(server.get(&format!("/v1/posts/{}", a_objects.post), &a.admin_key).await.body, a_post_before);
    assert_eq!(server.get("/v1/channels", &a.admin_key).await.body, a_channels_before);
    assert_eq!(
        server.get(&format!("/v1/media/{}", a_objects.media), &a.admin_key).await.body,
        a_media_before
    );
    assert_eq!(
        server.get(&format!("/v1/webhooks/endpoints/{endpoint}"), &a.admin_key).await.body,
        a_endpoint_before
    );
    assert_eq!(
        server.get(&format!("/v1/webhooks/deliveries/{}", a_objects.delivery), &a.admin_key).await.body,
        a_delivery_before
    );
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
