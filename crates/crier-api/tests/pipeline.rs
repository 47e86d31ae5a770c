//! The publishing pipeline through the real HTTP server and an in-process worker, on both
//! backends, with time moved by the clock: publish once, validation before storage,
//! idempotency, retries, rate limits, expired auth, rejection, scheduling, cancelling, recovery.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::{Reply, Server};
use crier_core::{AttemptId, Clock};
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    backend: a_post_is_published_once,
    invalid_posts_are_refused_whole_and_store_nothing,
    idempotency_replays_refuses_mismatch_and_in_flight,
    temporary_failures_are_retried_with_backoff,
    rate_limits_are_waited_out,
    expired_auth_marks_the_channel_and_stops,
    rejections_fail_at_once_and_retries_run_out,
    scheduled_posts_wait_and_cancelled_ones_never_go,
        a_crashed_attempt_is_reconciled_not_resent,
    an_unanswerable_reconciliation_waits_instead_of_resending,
    sandbox_settings_are_bounded,
    steps_in_flight_publish_one_at_a_time_per_channel,
);

async fn send_post(server: &Server, key: &str, body: Value, idempotency: Option<&str>) -> Reply {
    let mut request = server.http.post(server.url("/v1/posts")).bearer_auth(key).json(&body);
    if let Some(idem) = idempotency {
        request = request.header("idempotency-key", idem);
    }
    Reply::from(request.send().await.unwrap()).await
}

async fn accepted(server: &Server, key: &str, channel: &str, text: &str) -> (String, String) {
    let reply =
        send_post(server, key, json!({"text": text, "targets": [{"channel_id": channel}]}), None).await;
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

async fn deliveries(server: &Server, key: &str, channel: &str) -> Vec<Value> {
    let reply = server.get(&format!("/v1/channels/{channel}/sandbox-deliveries"), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

async fn a_post_is_published_once(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let reply = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "hello 🌍", "targets": [{"channel_id": channel}]}),
        Some("k1"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    assert_eq!(reply.body["targets"][0]["status"], "queued");
    let post = reply.body["id"].as_str().unwrap().to_owned();

    let step = server.worker("w1").run_once().await.unwrap();
    assert_eq!(step.processed, 1);
    let published = target(&server, &seeded.admin_key, &post).await;
    assert_eq!(published["status"], "published", "{published}");
    assert_eq!(published["attempts"], 1);
    assert!(published["url"].as_str().unwrap().starts_with("https://"));
    let sent = deliveries(&server, &seeded.admin_key, &channel).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["text"], "hello 🌍");
    assert_eq!(sent[0]["id"], published["provider_post_id"]);
    assert_eq!(server.worker("w1").run_once().await.unwrap().processed, 0, "nothing left");
    let listed = server.get("/v1/posts?status=published", &seeded.admin_key).await;
    assert_eq!(listed.body["data"][0]["id"], post.as_str());
}

async fn invalid_posts_are_refused_whole_and_store_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let other = server.seed("Other").await;
    let short = server.sandbox(&seeded.admin_key, json!({"max_chars": 5})).await;
    let roomy = server.sandbox(&seeded.admin_key, json!({})).await;
    let foreign = server.sandbox(&other.admin_key, json!({})).await;

    let cases = [
        (
            json!({"text": "too long for five", "targets": [{"channel_id": roomy}, {"channel_id": short}]}),
            "/text",
        ),
        (
            json!({"text": "ok", "targets": [{"channel_id": roomy, "text": "also too long"}, {"channel_id": short, "text": "sixsix"}]}),
            "/targets/1/text",
        ),
        (json!({"text": "hi", "targets": [{"channel_id": foreign}]}), "/targets/0/channel_id"),
        (json!({"text": "hi", "targets": [{"channel_id": "chan_nope"}]}), "/targets/0/channel_id"),
        (
            json!({"text": "hi", "targets": [{"channel_id": roomy}, {"channel_id": roomy}]}),
            "/targets/1/channel_id",
        ),
        (json!({"text": "hi", "targets": []}), "/targets"),
        (
            json!({"text": "hi", "targets": [{"channel_id": roomy}], "scheduled_at": "2001-01-01T00:00:00Z"}),
            "/scheduled_at",
        ),
        (
            json!({"text": "hi", "targets": [{"channel_id": roomy, "options": {"x": 1}}]}),
            "/targets/0/options",
        ),
        (json!({"text": "", "targets": [{"channel_id": roomy}]}), "/text"),
    ];
    for (body, pointer) in cases {
        let reply = send_post(&server, &seeded.admin_key, body.clone(), None).await;
        let problem = reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        let pointers: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
        assert!(pointers.contains(&pointer), "{body}: {problem}");
    }
    // The foreign channel is reported exactly like a missing one.
    let foreign_reply = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "hi", "targets": [{"channel_id": foreign}]}),
        None,
    )
    .await;
    let missing = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "hi", "targets": [{"channel_id": "chan_01jd8x3k6m2v5q9r7t4w1y0zab"}]}),
        None,
    )
    .await;
    assert_eq!(foreign_reply.body["errors"][0]["detail"], missing.body["errors"][0]["detail"]);

    let listed = server.get("/v1/posts", &seeded.admin_key).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 0, "nothing partial was accepted");
    assert_eq!(server.worker("w").run_once().await.unwrap().processed, 0);
}

async fn idempotency_replays_refuses_mismatch_and_in_flight(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let body = json!({"text": "once", "targets": [{"channel_id": channel}]});

    let first = send_post(&server, &seeded.admin_key, body.clone(), Some("same")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = send_post(&server, &seeded.admin_key, body.clone(), Some("same")).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body, first.body, "the first response, replayed");
    assert_eq!(again.headers["idempotent-replayed"], "true");

    let different = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "other", "targets": [{"channel_id": channel}]}),
        Some("same"),
    )
    .await;
    different.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);

    // Another workspace may use the same key for its own request.
    let other = server.seed("Other").await;
    let other_channel = server.sandbox(&other.admin_key, json!({})).await;
    let theirs = send_post(
        &server,
        &other.admin_key,
        json!({"text": "once", "targets": [{"channel_id": other_channel}]}),
        Some("same"),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::ACCEPTED);
    assert_ne!(theirs.body["id"], first.body["id"]);

    // A request while the first with the same key is still running: 409, nothing created.
    let now = server.clock.now();
    let fingerprint = fingerprint(&body);
    server
        .db
        .store
        .begin_idempotent(
            seeded.workspace,
            "running",
            &fingerprint,
            now,
            now + Duration::seconds(60),
            now + Duration::hours(24),
        )
        .await
        .unwrap();
    let blocked = send_post(&server, &seeded.admin_key, body.clone(), Some("running")).await;
    blocked.assert_problem(StatusCode::CONFLICT);
    server.clock.advance(Duration::seconds(61));
    let taken_over = send_post(&server, &seeded.admin_key, body.clone(), Some("running")).await;
    assert_eq!(taken_over.status, StatusCode::ACCEPTED, "an abandoned key is taken over after its lock");

    // Many at once with one key: one post.
    let racers: Vec<_> =
        (0..8).map(|_| send_post(&server, &seeded.admin_key, body.clone(), Some("race"))).collect();
    let replies = futures::future::join_all(racers).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == StatusCode::ACCEPTED || r.status == StatusCode::CONFLICT));
    let listed = server.get("/v1/posts?limit=100", &seeded.admin_key).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 3, "same, running, race");
}

/// The fingerprint the API computes for `POST /v1/posts` with this body.
fn fingerprint(body: &Value) -> Vec<u8> {
    let input: crier_api::routes::posts::PostIn = serde_json::from_value(body.clone()).unwrap();
    let headers = axum::http::HeaderMap::new();
    let idempotency = crier_api::idempotency::Idempotency::from_request(
        &headers,
        &axum::http::Method::POST,
        "/v1/posts",
        &input,
    )
    .unwrap();
    idempotency.fingerprint().to_vec()
}

async fn temporary_failures_are_retried_with_backoff(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({"fail_first": 2})).await;
    let (post, _) = accepted(&server, &seeded.admin_key, &channel, "flaky").await;
    let worker = server.worker("w");
    for attempt in 1..=2 {
        worker.run_once().await.unwrap();
        let t = target(&server, &seeded.admin_key, &post).await;
        assert_eq!(t["status"], "retry_scheduled", "{t}");
        assert_eq!(t["attempts"], attempt);
        assert_eq!(t["error"]["code"], "provider_unavailable");
        assert_eq!(worker.run_once().await.unwrap().processed, 0, "not before its backoff");
        server.clock.advance(Duration::hours(1));
    }
    worker.run_once().await.unwrap();
    let t = target(&server, &seeded.admin_key, &post).await;
    assert_eq!((t["status"].as_str(), t["attempts"].as_i64()), (Some("published"), Some(3)), "{t}");
    assert_eq!(deliveries(&server, &seeded.admin_key, &channel).await.len(), 1);
}

async fn rate_limits_are_waited_out(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel =
        server.sandbox(&seeded.admin_key, json!({"rate_limit": {"max": 1, "window_seconds": 60}})).await;
    let (first, _) = accepted(&server, &seeded.admin_key, &channel, "one").await;
    let (second, _) = accepted(&server, &seeded.admin_key, &channel, "two").await;
    let (third, _) = accepted(&server, &seeded.admin_key, &channel, "three").await;
    let worker = server.worker("w");
    worker.run_once().await.unwrap();
    assert_eq!(target(&server, &seeded.admin_key, &first).await["status"], "published");
    let waiting = target(&server, &seeded.admin_key, &second).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(waiting["attempts"], 0, "a rate limit is not a failed attempt");
    let channel_view = server.get(&format!("/v1/channels/{channel}"), &seeded.admin_key).await;
    assert!(channel_view.body["paused_until"].is_string());

    server.clock.advance(Duration::seconds(30));
    assert_eq!(worker.run_once().await.unwrap().processed, 0, "no call before the reset");
    assert_eq!(deliveries(&server, &seeded.admin_key, &channel).await.len(), 1);
    server.clock.advance(Duration::seconds(31));
    worker.run_once().await.unwrap();
    let statuses =
        [target(&server, &seeded.admin_key, &second).await, target(&server, &seeded.admin_key, &third).await];
    assert_eq!(statuses.iter().filter(|t| t["status"] == "published").count(), 1, "one per window");
    server.clock.advance(Duration::seconds(61));
    worker.run_once().await.unwrap();
    assert_eq!(target(&server, &seeded.admin_key, &third).await["status"], "published");
    assert_eq!(deliveries(&server, &seeded.admin_key, &channel).await.len(), 3);
}

async fn expired_auth_marks_the_channel_and_stops(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({"token_expires_after": 1})).await;
    let (first, _) = accepted(&server, &seeded.admin_key, &channel, "one").await;
    let (second, _) = accepted(&server, &seeded.admin_key, &channel, "two").await;
    let worker = server.worker("w");
    worker.run_once().await.unwrap();
    assert_eq!(target(&server, &seeded.admin_key, &first).await["status"], "published");
    let refused = target(&server, &seeded.admin_key, &second).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["error"]["code"], "channel_needs_reauth");
    assert_eq!(refused["attempts"], 1, "refreshed once, then stopped: no retry storm");
    let channel_view = server.get(&format!("/v1/channels/{channel}"), &seeded.admin_key).await;
    assert_eq!(channel_view.body["status"], "needs_reauth");
    server.clock.advance(Duration::hours(2));
    assert_eq!(worker.run_once().await.unwrap().processed, 0);
    let refused_at_door = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "three", "targets": [{"channel_id": channel}]}),
        None,
    )
    .await;
    refused_at_door.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);

    // A refresh that works keeps the channel going.
    let refreshing =
        server.sandbox(&seeded.admin_key, json!({"token_expires_after": 1, "refresh_succeeds": true})).await;
    accepted(&server, &seeded.admin_key, &refreshing, "a").await;
    accepted(&server, &seeded.admin_key, &refreshing, "b").await;
    worker.run_once().await.unwrap();
    assert_eq!(deliveries(&server, &seeded.admin_key, &refreshing).await.len(), 2);
}

async fn rejections_fail_at_once_and_retries_run_out(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let picky = server.sandbox(&seeded.admin_key, json!({"reject_containing": "nope"})).await;
    let (post, _) = accepted(&server, &seeded.admin_key, &picky, "nope, not this").await;
    let worker = server.worker("w");
    worker.run_once().await.unwrap();
    let t = target(&server, &seeded.admin_key, &post).await;
    assert_eq!((t["status"].as_str(), t["attempts"].as_i64()), (Some("failed"), Some(1)));
    assert_eq!(t["error"]["code"], "content_rejected");

    let broken = server.sandbox(&seeded.admin_key, json!({"fail_first": 100})).await;
    let (post, _) = accepted(&server, &seeded.admin_key, &broken, "never").await;
    for _ in 0..10 {
        worker.run_once().await.unwrap();
        server.clock.advance(Duration::hours(2));
    }
    let t = target(&server, &seeded.admin_key, &post).await;
    assert_eq!((t["status"].as_str(), t["attempts"].as_i64()), (Some("failed"), Some(5)), "{t}");
    assert_eq!(t["error"]["code"], "retries_exhausted");
}

async fn scheduled_posts_wait_and_cancelled_ones_never_go(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let at = server.clock.now() + Duration::hours(1);
    let later = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "later", "targets": [{"channel_id": channel}], "scheduled_at": at}),
        None,
    )
    .await;
    assert_eq!(later.body["status"], "scheduled", "{}", later.body);
    let doomed = send_post(
        &server,
        &seeded.admin_key,
        json!({"text": "never", "targets": [{"channel_id": channel}], "scheduled_at": at}),
        None,
    )
    .await;
    let worker = server.worker("w");
    assert_eq!(worker.run_once().await.unwrap().processed, 0);

    let doomed_id = doomed.body["id"].as_str().unwrap();
    let cancelled =
        server.call(Method::DELETE, &format!("/v1/posts/{doomed_id}"), Some(&seeded.admin_key), None).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["cancelled"].as_array().unwrap().len(), 1);
    assert_eq!(cancelled.body["post"]["status"], "cancelled");

    server.clock.advance(Duration::hours(1));
    worker.run_once().await.unwrap();
    let sent = deliveries(&server, &seeded.admin_key, &channel).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["text"], "later");
    let again = server
        .call(
            Method::DELETE,
            &format!("/v1/posts/{}", later.body["id"].as_str().unwrap()),
            Some(&seeded.admin_key),
            None,
        )
        .await;
    assert_eq!(again.body["not_cancelled"].as_array().unwrap().len(), 1, "already published");
}

/// A worker that leases every due job, opens an attempt on each, publishes those `publish` picks
/// (by target id) and then dies, leaving its attempts open. Returns how many it opened.
async fn dies_after_opening(server: &Server, publish: impl Fn(&str) -> bool) -> usize {
    let store = &server.db.store;
    let now = server.clock.now();
    let jobs = store.lease_jobs("dead", now, now + Duration::seconds(30), 10).await.unwrap();
    for job in &jobs {
        let claimed = store.start_attempt(*job, "dead", AttemptId::generate(), now).await.unwrap().unwrap();
        if publish(&claimed.target.id.to_string()) {
            let request = crier_providers::PublishRequest::of(&claimed);
            server.providers.get("sandbox").unwrap().publish(&request).await.unwrap();
        }
    }
    jobs.len()
}

async fn a_crashed_attempt_is_reconciled_not_resent(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let (published_before_crash, t1) =
        accepted(&server, &seeded.admin_key, &channel, "sent, then crashed").await;
    let (lost_before_send, _) =
        accepted(&server, &seeded.admin_key, &channel, "crashed before sending").await;

    // A worker leases both, opens attempts, publishes the first, and dies.
    assert_eq!(dies_after_opening(&server, |target| target == t1).await, 2);
    let worker = server.worker("alive");
    assert_eq!(worker.run_once().await.unwrap().processed, 0, "leases still held");
    server.clock.advance(Duration::seconds(31));
    worker.run_once().await.unwrap();
    worker.run_once().await.unwrap();

    assert_eq!(target(&server, &seeded.admin_key, &published_before_crash).await["status"], "published");
    assert_eq!(target(&server, &seeded.admin_key, &lost_before_send).await["status"], "published");
    let sent = deliveries(&server, &seeded.admin_key, &channel).await;
    assert_eq!(sent.len(), 2, "each published exactly once: {sent:?}");
}

async fn an_unanswerable_reconciliation_waits_instead_of_resending(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let channel = server.sandbox(&seeded.admin_key, json!({"lookup_unavailable": true})).await;
    let (post, _) = accepted(&server, &seeded.admin_key, &channel, "sent, then crashed").await;
    assert_eq!(dies_after_opening(&server, |_| true).await, 1);

    let worker = server.worker("alive");
    for _ in 0..4 {
        server.clock.advance(Duration::seconds(31));
        worker.run_once().await.unwrap();
    }
    let t = target(&server, &seeded.admin_key, &post).await;
    assert_eq!(t["status"], "publishing", "still waiting to find out: {t}");
    assert_eq!(deliveries(&server, &seeded.admin_key, &channel).await.len(), 1, "never re-sent blindly");
}

async fn sandbox_settings_are_bounded(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    for (config, pointer) in [
        (json!({"rate_limit": {"max": 0, "window_seconds": 60}}), "/config/rate_limit/max"),
        (
            json!({"rate_limit": {"max": 1, "window_seconds": 9_000_000_000_i64}}),
            "/config/rate_limit/window_seconds",
        ),
        (json!({"latency_ms": 3_600_000}), "/config/latency_ms"),
        (json!({"failure_rate": 2.0}), "/config/failure_rate"),
        (json!({"token_expires_after": 0}), "/config/token_expires_after"),
        (json!({"nonsense": true}), "/config"),
    ] {
        let reply = server
            .post(
                "/v1/channels",
                &seeded.admin_key,
                json!({"provider": "sandbox", "name": "x", "config": config}),
            )
            .await;
        let problem = reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{config}: {problem}");
    }
    assert_eq!(server.get("/v1/channels", &seeded.admin_key).await.body["data"].as_array().unwrap().len(), 0);
}

/// Two steps of one worker in flight together (as `run` keeps them) each hold a post for the
/// same channel: the channel's lock makes the second call wait for the first, so the pair takes
/// at least twice the platform's latency; a post on another channel does not wait.
async fn steps_in_flight_publish_one_at_a_time_per_channel(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let slow = server.sandbox(key, json!({"latency_ms": 400})).await;
    let (first, _) = accepted(&server, key, &slow, "one").await;
    let (second, _) = accepted(&server, key, &slow, "two").await;
    let config = crier_worker::WorkerConfig { id: "w".into(), batch: 1, ..Default::default() };
    let worker = server.worker_with(config);
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(worker.run_once(), worker.run_once());
    assert_eq!(a.unwrap().processed + b.unwrap().processed, 2, "each step leased one");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(800),
        "the calls overlapped: {:?}",
        started.elapsed()
    );
    for post in [&first, &second] {
        assert_eq!(target(&server, key, post).await["status"], "published");
    }
    // Different channels publish side by side.
    let other = server.sandbox(key, json!({"latency_ms": 400})).await;
    accepted(&server, key, &slow, "three").await;
    accepted(&server, key, &other, "four").await;
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(worker.run_once(), worker.run_once());
    assert_eq!(a.unwrap().processed + b.unwrap().processed, 2);
    assert!(started.elapsed() < std::time::Duration::from_millis(800), "{:?}", started.elapsed());
}
