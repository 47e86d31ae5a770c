//! What can be done to one target after the fact, through the real HTTP server and an in-process
//! worker, on both backends: retrying a failed (or, once confirmed, unknown) target, and deleting
//! a published one from its platform.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::{Reply, Server};
use crier_core::{AttemptId, AttemptOutcome, Clock, ScopeSet};
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    backend: a_failed_target_is_retried_with_a_fresh_budget,
    an_unknown_target_is_retried_only_when_confirmed,
    a_published_post_is_deleted_from_its_platform_by_the_worker,
    deleting_is_refused_where_the_platform_cannot_or_nothing_was_published,
);

async fn delete_publication(server: &Server, key: &str, post: &str, target: &str) -> Reply {
    server
        .call(Method::DELETE, &format!("/v1/posts/{post}/targets/{target}/publication"), Some(key), None)
        .await
}

async fn accepted(server: &Server, key: &str, channel: &str, text: &str) -> (String, String) {
    let body = json!({"text": text, "targets": [{"channel_id": channel}]});
    let reply = server.post("/v1/posts", key, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["targets"][0]["id"].as_str().unwrap().to_owned(),
    )
}

async fn target(server: &Server, key: &str, post: &str) -> Value {
    let reply = server.get(&format!("/v1/posts/{post}"), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["targets"][0].clone()
}

async fn retry(
    server: &Server,
    key: &str,
    post: &str,
    target: &str,
    body: Option<Value>,
    idem: Option<&str>,
) -> Reply {
    let mut request =
        server.http.post(server.url(&format!("/v1/posts/{post}/targets/{target}/retry"))).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(idem) = idem {
        request = request.header("idempotency-key", idem);
    }
    Reply::from(request.send().await.unwrap()).await
}

/// The workspace's events of `kind`, each checked against its documented schema's required fields.
async fn events_of(server: &Server, key: &str, kind: &str) -> Vec<Value> {
    let reply = server.get("/v1/events?limit=200", key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let schema =
        (crier_core::event_types::find(kind).unwrap_or_else(|| panic!("{kind} is documented")).schema)();
    let found: Vec<Value> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["data"].clone())
        .collect();
    for data in &found {
        for field in schema["required"].as_array().unwrap() {
            assert!(!data[field.as_str().unwrap()].is_null(), "{kind} lacks {field}: {data}");
        }
    }
    found
}

async fn a_failed_target_is_retried_with_a_fresh_budget(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    // Fails five times (the worker's whole budget), then works.
    let channel = server.sandbox(key, json!({"fail_first": 5})).await;
    let (post, tgt) = accepted(&server, key, &channel, "third time lucky").await;
    let worker = server.worker("w");
    for _ in 0..6 {
        worker.run_once().await.unwrap();
        server.clock.advance(Duration::hours(2));
    }
    let t = target(&server, key, &post).await;
    assert_eq!((t["status"].as_str(), t["attempts"].as_i64()), (Some("failed"), Some(5)), "{t}");

    // Not while it is someone else's: a key without posts:write, another workspace, a bad id.
    let reader = server
        .key_in(
            seeded.workspace,
            "posts:read".parse::<ScopeSet>().unwrap(),
            crier_core::ApiKeyMode::Live,
            None,
        )
        .await;
    retry(&server, &reader, &post, &tgt, None, None).await.assert_problem(StatusCode::FORBIDDEN);
    let other = server.seed("Other").await;
    retry(&server, &other.admin_key, &post, &tgt, None, None).await.assert_problem(StatusCode::NOT_FOUND);
    retry(&server, key, &post, "tgt_nope", None, None).await.assert_problem(StatusCode::NOT_FOUND);

    // An empty body, with an Idempotency-Key: queued again, budget and error reset.
    let first = retry(&server, key, &post, &tgt, None, Some("r1")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let requeued = &first.body["targets"][0];
    assert_eq!((requeued["status"].as_str(), requeued["attempts"].as_i64()), (Some("queued"), Some(0)));
    assert!(requeued["error"].is_null(), "{requeued}");
    let replay = retry(&server, key, &post, &tgt, None, Some("r1")).await;
    assert_eq!(
        (replay.status, replay.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap())),
        (StatusCode::ACCEPTED, Some("true"))
    );
    // Queued now: without the key, a second retry is refused, not queued twice.
    let twice = retry(&server, key, &post, &tgt, Some(json!({})), None).await;
    assert!(
        twice.assert_problem(StatusCode::CONFLICT)["detail"].as_str().unwrap().contains("queued"),
        "{}",
        twice.body
    );
    let retried = events_of(&server, key, "post.target.retried").await;
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(
        (retried[0]["target_id"].as_str(), retried[0]["previous_status"].as_str()),
        (Some(tgt.as_str()), Some("failed"))
    );

    worker.run_once().await.unwrap();
    let t = target(&server, key, &post).await;
    assert_eq!((t["status"].as_str(), t["attempts"].as_i64()), (Some("published"), Some(1)), "{t}");
    let published = retry(&server, key, &post, &tgt, None, None).await;
    published.assert_problem(StatusCode::CONFLICT);
    let bad = retry(&server, key, &post, &tgt, Some(json!({"confirm": true})), None).await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
}

async fn an_unknown_target_is_retried_only_when_confirmed(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let channel = server.sandbox(key, json!({})).await;
    let (post, tgt) = accepted(&server, key, &channel, "did it go?").await;
    // An attempt whose outcome nobody could establish.
    let store = &server.db.store;
    let now = server.clock.now();
    let jobs = store.lease_jobs("lost", now, now + Duration::seconds(30), 10).await.unwrap();
    let claimed = store.start_attempt(jobs[0], "lost", AttemptId::generate(), now).await.unwrap().unwrap();
    let unknown = AttemptOutcome::Unknown { message: "interrupted".into() };
    store.finish_attempt(&claimed, &unknown, now, None).await.unwrap();
    assert_eq!(target(&server, key, &post).await["status"], "unknown");

    let refused = retry(&server, key, &post, &tgt, None, None).await;
    let detail = refused.assert_problem(StatusCode::CONFLICT)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("confirm_unknown"), "{detail}");
    let confirmed = server
        .call(
            Method::POST,
            &format!("/v1/posts/{post}/targets/{tgt}/retry"),
            Some(key),
            Some(json!({"confirm_unknown": true})),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::ACCEPTED, "{}", confirmed.body);
    server.worker("w").run_once().await.unwrap();
    assert_eq!(target(&server, key, &post).await["status"], "published");
}

async fn a_published_post_is_deleted_from_its_platform_by_the_worker(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    // The first delete call fails as a platform outage would.
    let channel = server.sandbox(key, json!({"delete_fails_first": 1})).await;
    let (post, tgt) = accepted(&server, key, &channel, "regrettable").await;
    let worker = server.worker("w");
    worker.run_once().await.unwrap();
    assert_eq!(target(&server, key, &post).await["status"], "published");

    let reader = server
        .key_in(
            seeded.workspace,
            "posts:read".parse::<ScopeSet>().unwrap(),
            crier_core::ApiKeyMode::Live,
            None,
        )
        .await;
    delete_publication(&server, &reader, &post, &tgt).await.assert_problem(StatusCode::FORBIDDEN);
    let other = server.seed("Other").await;
    delete_publication(&server, &other.admin_key, &post, &tgt).await.assert_problem(StatusCode::NOT_FOUND);

    let asked = delete_publication(&server, key, &post, &tgt).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["targets"][0]["deletion"]["status"], "pending");
    assert_eq!(asked.body["targets"][0]["status"], "published");
    delete_publication(&server, key, &post, &tgt).await.assert_problem(StatusCode::CONFLICT);

    // The outage: still pending, with the error, retried later.
    assert_eq!(worker.run_once().await.unwrap().processed, 1);
    let t = target(&server, key, &post).await;
    assert_eq!(
        (t["deletion"]["status"].as_str(), t["deletion"]["error"]["code"].as_str()),
        (Some("pending"), Some("provider_unavailable")),
        "{t}"
    );
    let sandbox = server.get(&format!("/v1/channels/{channel}/sandbox-deliveries"), key).await;
    assert!(sandbox.body["data"][0]["deleted_at"].is_null());
    server.clock.advance(Duration::hours(1));
    worker.run_once().await.unwrap();
    let t = target(&server, key, &post).await;
    assert_eq!(t["deletion"]["status"], "deleted", "{t}");
    assert!(t["deletion"]["deleted_at"].is_string() && t["deletion"]["error"].is_null(), "{t}");
    let sandbox = server.get(&format!("/v1/channels/{channel}/sandbox-deliveries"), key).await;
    assert_eq!(sandbox.body["data"].as_array().unwrap().len(), 1);
    assert!(sandbox.body["data"][0]["deleted_at"].is_string(), "{}", sandbox.body);
    let deleted = events_of(&server, key, "post.target.deleted").await;
    assert_eq!((deleted.len(), deleted[0]["provider_post_id"].as_str()), (1, t["provider_post_id"].as_str()));
    delete_publication(&server, key, &post, &tgt).await.assert_problem(StatusCode::CONFLICT);
    assert_eq!(worker.run_once().await.unwrap().processed, 0, "nothing left to do");

    // A platform that refuses for good: failed, with an event, and it may be asked again.
    let stubborn = server.sandbox(key, json!({"delete_rejected": true})).await;
    let (post, tgt) = accepted(&server, key, &stubborn, "forever").await;
    worker.run_once().await.unwrap();
    assert_eq!(delete_publication(&server, key, &post, &tgt).await.status, StatusCode::ACCEPTED);
    worker.run_once().await.unwrap();
    let t = target(&server, key, &post).await;
    assert_eq!(
        (t["deletion"]["status"].as_str(), t["deletion"]["error"]["code"].as_str()),
        (Some("failed"), Some("delete_refused")),
        "{t}"
    );
    assert_eq!(events_of(&server, key, "post.target.deletion_failed").await.len(), 1);
    assert_eq!(delete_publication(&server, key, &post, &tgt).await.status, StatusCode::ACCEPTED);
}

async fn deleting_is_refused_where_the_platform_cannot_or_nothing_was_published(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let channel = server.sandbox(key, json!({})).await;
    let (post, tgt) = accepted(&server, key, &channel, "not yet").await;
    let refused = delete_publication(&server, key, &post, &tgt).await;
    let detail = refused.assert_problem(StatusCode::CONFLICT)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("queued"), "{detail}");

    // E-mail has no deletion: refused at once, before anything is queued.
    let store = &server.db.store;
    let now = server.clock.now();
    let mail = crier_core::Channel {
        workspace_id: seeded.workspace,
        id: crier_core::ChannelId::generate(),
        provider: "email".into(),
        name: "newsletter".into(),
        config: json!({}),
        status: crier_core::ChannelStatus::Active,
        account: None,
        credentials: None,
        paused_until: None,
        created_at: now,
    };
    let audit = crier_core::NewAuditEvent::new(
        now,
        crier_core::Actor::cli(),
        "channel.created",
        mail.id.to_string(),
        &Default::default(),
    );
    store.create_channel(&mail, None, None, &audit).await.unwrap();
    let post_id = crier_core::PostId::generate();
    let sent = crier_core::PostTarget {
        workspace_id: seeded.workspace,
        id: crier_core::TargetId::generate(),
        post_id,
        channel_id: mail.id,
        text: None,
        options: json!({}),
        status: crier_core::TargetStatus::Published,
        run_at: now,
        attempts: 1,
        lease_owner: None,
        lease_expires_at: None,
        provider_post_id: Some("<m@example.com>".into()),
        url: None,
        error_code: None,
        error_message: None,
        created_at: now,
        updated_at: now,
        published_at: Some(now),
        deletion: None,
    };
    let target_id = sent.id;
    let mailed = crier_core::Post {
        workspace_id: seeded.workspace,
        id: post_id,
        text: "hi".into(),
        media: Vec::new(),
        scheduled_at: None,
        created_at: now,
        targets: vec![sent],
    };
    store.create_post(&mailed, None).await.unwrap();
    let refused = delete_publication(&server, key, &post_id.to_string(), &target_id.to_string()).await;
    let detail =
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("email"), "{detail}");
    assert!(target(&server, key, &post_id.to_string()).await["deletion"].is_null());
}
