//! Signed webhooks end to end: a real receiver verifies every delivery with the official
//! `standardwebhooks` library (through a secret rotation), retries keep the webhook-id, failing
//! and gone endpoints are disabled with an event, endpoint URLs go through the SSRF policy, the
//! secret is shown once, and the event stream resumes from Last-Event-ID.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::Server;
use crier_testkit::webhook_receiver::Receiver;
use crier_testkit::{Backend, contains, on_both_backends, pg_dump, sqlite_bytes};
use crier_worker::{Dispatcher, DispatcherConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    backend: deliveries_verify_through_a_secret_rotation,
    a_500_then_200_is_delivered_again_once_with_the_same_id,
    a_long_failing_endpoint_is_disabled_with_an_event,
    a_410_disables_the_endpoint_at_once,
    redirects_are_not_followed_and_retry_after_is_honoured,
    endpoint_urls_are_checked_against_the_outbound_policy,
    the_secret_is_shown_once_and_never_stored_in_plaintext,
    the_event_stream_resumes_without_gaps_or_repeats,
    webhooks_and_events_need_their_scopes,
);

/// Creates an endpoint; returns (id, secret).
async fn endpoint(server: &Server, key: &str, body: Value) -> (String, String) {
    let reply = server.post("/v1/webhooks/endpoints", key, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (
        reply.body["endpoint"]["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn ping(server: &Server, key: &str, endpoint: &str) -> String {
    let reply = server.post(&format!("/v1/webhooks/endpoints/{endpoint}/test"), key, json!(null)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn delivery(server: &Server, key: &str, id: &str) -> Value {
    let reply = server.get(&format!("/v1/webhooks/deliveries/{id}"), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn dispatcher_disabling_after(server: &Server, seconds: u64) -> Dispatcher {
    server.dispatcher_with(DispatcherConfig {
        id: "dispatcher".into(),
        disable_after: std::time::Duration::from_secs(seconds),
        ..DispatcherConfig::default()
    })
}

/// Checks `data` against the documented schema's required fields and `^prefix_` patterns.
fn assert_matches_schema(kind: &str, data: &Value) {
    let schema =
        (crier_core::event_types::find(kind).unwrap_or_else(|| panic!("{kind} is documented")).schema)();
    for field in schema["required"].as_array().unwrap() {
        let field = field.as_str().unwrap();
        assert!(!data[field].is_null(), "{kind}: `{field}` is required by its schema: {data}");
        if let Some(pattern) = schema["properties"][field]["pattern"].as_str() {
            let prefix = pattern.trim_start_matches('^');
            assert!(data[field].as_str().unwrap().starts_with(prefix), "{kind}.{field} = {}", data[field]);
        }
    }
}

async fn deliveries_verify_through_a_secret_rotation(backend: Backend) {
    let server = Server::start_insecure_loopback(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let receiver = Receiver::start();
    let (ep, first) =
        endpoint(&server, key, json!({"url": receiver.url(), "event_types": ["post.published", "ping"]}))
            .await;
    receiver.control(json!({"secrets": [first]})).await;

    // A published post's event reaches the receiver, signed.
    let channel = server.sandbox(key, json!({})).await;
    let post =
        server.post("/v1/posts", key, json!({"text": "hi", "targets": [{"channel_id": channel}]})).await;
    assert_eq!(post.status, StatusCode::ACCEPTED, "{}", post.body);
    server.worker("w").run_once().await.unwrap();
    let dispatcher = server.dispatcher("d");
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    let received = receiver.all_verified().await;
    assert_eq!(received.len(), 1);
    let body = &received[0]["body"];
    assert_eq!(body["type"], "post.published");
    assert_eq!(body["data"]["post_id"], post.body["id"]);
    assert_matches_schema("post.published", &body["data"]);
    assert!(received[0]["id"].as_str().unwrap().starts_with("msg_"));

    // Rotation: during the grace period every delivery verifies with the old AND the new secret.
    let rotated = server
        .post(&format!("/v1/webhooks/endpoints/{ep}/rotate-secret"), key, json!({"grace_seconds": 60}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    receiver.control(json!({"secrets": [first, second]})).await;
    ping(&server, key, &ep).await;
    dispatcher.run_once().await.unwrap();
    let received = receiver.all_verified().await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1]["signatures"].as_str().unwrap().split(' ').count(), 2);
    assert_matches_schema("ping", &received[1]["body"]["data"]);

    // After the grace period only the new secret signs: the old one no longer verifies.
    server.clock.advance(Duration::seconds(61));
    receiver.control(json!({"secrets": [second]})).await;
    ping(&server, key, &ep).await;
    dispatcher.run_once().await.unwrap();
    let received = receiver.all_verified().await;
    assert_eq!(received[2]["signatures"].as_str().unwrap().split(' ').count(), 1);
    receiver.control(json!({"secrets": [first]})).await;
    ping(&server, key, &ep).await;
    dispatcher.run_once().await.unwrap();
    let received = receiver.received().await;
    assert_eq!(received.len(), 4);
    assert_eq!(received[3]["verified"], false, "the verifier must refuse a retired secret: {}", received[3]);
}

async fn a_500_then_200_is_delivered_again_once_with_the_same_id(backend: Backend) {
    let server = Server::start_insecure_loopback(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let receiver = Receiver::start();
    let (ep, secret) = endpoint(&server, key, json!({"url": receiver.url()})).await;
    receiver.control(json!({"secrets": [secret], "statuses": [500]})).await;
    let id = ping(&server, key, &ep).await;
    let dispatcher = server.dispatcher("d");
    dispatcher.run_once().await.unwrap();
    let after_500 = delivery(&server, key, &id).await;
    assert_eq!((after_500["status"].as_str(), after_500["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert_eq!(after_500["last_status_code"], 500);
    // Not before the schedule's 5 s (±10 % jitter).
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    server.clock.advance(Duration::milliseconds(4400));
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    server.clock.advance(Duration::milliseconds(1200));
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    let received = receiver.all_verified().await;
    assert_eq!(received.iter().map(|r| r["status"].as_i64().unwrap()).collect::<Vec<_>>(), vec![500, 200]);
    assert_eq!(received[0]["id"], id);
    assert_eq!(received[1]["id"], id, "a retry carries the same webhook-id");
    // Delivered: nothing more, however long we wait.
    server.clock.advance(Duration::hours(30));
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    assert_eq!(receiver.received().await.len(), 2);
    let done = delivery(&server, key, &id).await;
    assert_eq!(done["status"], "succeeded");
    let log = done["attempt_log"].as_array().unwrap();
    assert_eq!(log.iter().map(|a| a["status_code"].as_i64().unwrap()).collect::<Vec<_>>(), vec![500, 200]);
    assert!(log[0]["response"].as_str().unwrap().contains("ok"));
}

async fn a_long_failing_endpoint_is_disabled_with_an_event(backend: Backend) {
    let server = Server::start_insecure_loopback(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    // Nothing listens on this port: every delivery fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (dead, _) = endpoint(&server, key, json!({"url": down})).await;
    let receiver = Receiver::start();
    let (_, secret) =
        endpoint(&server, key, json!({"url": receiver.url(), "event_types": ["webhook.endpoint.disabled"]}))
            .await;
    receiver.control(json!({"secrets": [secret]})).await;

    let dispatcher = dispatcher_disabling_after(&server, 5);
    let id = ping(&server, key, &dead).await;
    dispatcher.run_once().await.unwrap();
    let first = delivery(&server, key, &id).await;
    assert_eq!(first["status"], "pending");
    assert!(first["attempt_log"][0]["status_code"].is_null());
    assert!(first["attempt_log"][0]["error"].as_str().unwrap().contains("failed"), "{first}");
    server.clock.advance(Duration::seconds(6));
    dispatcher.run_once().await.unwrap();
    let endpoint_now = server.get(&format!("/v1/webhooks/endpoints/{dead}"), key).await.body;
    assert_eq!(
        (endpoint_now["enabled"].as_bool(), endpoint_now["disabled_reason"].as_str()),
        (Some(false), Some("failing"))
    );
    assert_eq!(delivery(&server, key, &id).await["status"], "failed");
    // The watcher hears of it, signed.
    dispatcher.run_once().await.unwrap();
    let received = receiver.all_verified().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["body"]["type"], "webhook.endpoint.disabled");
    assert_eq!(received[0]["body"]["data"]["endpoint_id"], dead.as_str());
    assert_matches_schema("webhook.endpoint.disabled", &received[0]["body"]["data"]);
    let events = server.get("/v1/events", key).await.body;
    assert!(events["data"].as_array().unwrap().iter().any(|e| e["type"] == "webhook.endpoint.disabled"));
}

async fn a_410_disables_the_endpoint_at_once(backend: Backend) {
    let server = Server::start_insecure_loopback(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let receiver = Receiver::start();
    let (ep, secret) = endpoint(&server, key, json!({"url": receiver.url()})).await;
    receiver.control(json!({"secrets": [secret], "statuses": [410]})).await;
    let id = ping(&server, key, &ep).await;
    server.dispatcher("d").run_once().await.unwrap();
    let endpoint_now = server.get(&format!("/v1/webhooks/endpoints/{ep}"), key).await.body;
    assert_eq!(
        (endpoint_now["enabled"].as_bool(), endpoint_now["disabled_reason"].as_str()),
        (Some(false), Some("gone"))
    );
    assert_eq!(delivery(&server, key, &id).await["status"], "failed");
    // Re-enabled and redelivered by hand, it goes through.
    let enabled = server
        .call(
            Method::PATCH,
            &format!("/v1/webhooks/endpoints/{ep}"),
            Some(key),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(enabled.body["enabled"], true, "{}", enabled.body);
    let retried = server.post(&format!("/v1/webhooks/deliveries/{id}/retry"), key, json!(null)).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    server.dispatcher("d").run_once().await.unwrap();
    assert_eq!(delivery(&server, key, &id).await["status"], "succeeded");
    let received = receiver.all_verified().await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1]["id"], received[0]["id"]);
}

async fn redirects_are_not_followed_and_retry_after_is_honoured(backend: Backend) {
    let server = Server::start_insecure_loopback(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let receiver = Receiver::start();
    let (ep, secret) = endpoint(&server, key, json!({"url": receiver.url()})).await;
    let elsewhere = format!("{}/elsewhere", receiver.base);
    receiver
        .control(json!({"secrets": [secret], "statuses": [302], "headers": {"Location": elsewhere}}))
        .await;
    let id = ping(&server, key, &ep).await;
    let dispatcher = server.dispatcher("d");
    dispatcher.run_once().await.unwrap();
    let received = receiver.all_verified().await;
    assert_eq!(received.len(), 1, "the redirect was not followed: {received:?}");
    let after_302 = delivery(&server, key, &id).await;
    assert_eq!(
        (after_302["status"].as_str(), after_302["last_status_code"].as_i64()),
        (Some("pending"), Some(302))
    );

    // A 503 with Retry-After: 120 waits exactly that long instead of the schedule.
    receiver.control(json!({"statuses": [503], "headers": {"Retry-After": "120"}})).await;
    server.clock.advance(Duration::seconds(6));
    dispatcher.run_once().await.unwrap();
    let after_503 = delivery(&server, key, &id).await;
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(after_503["next_attempt_at"].clone()).unwrap();
    assert_eq!(next - crier_core::Clock::now(&server.clock), Duration::seconds(120), "{after_503}");
    receiver.control(json!({"headers": {}})).await;
    server.clock.advance(Duration::seconds(119));
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    server.clock.advance(Duration::seconds(2));
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(delivery(&server, key, &id).await["status"], "succeeded");
    let paths: Vec<_> =
        receiver.all_verified().await.iter().map(|r| r["path"].as_str().unwrap().to_owned()).collect();
    assert_eq!(paths, vec!["/hook", "/hook", "/hook"]);
}

async fn endpoint_urls_are_checked_against_the_outbound_policy(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let refused = [
        ("http://93.184.215.14/hook", "https"),
        ("ftp://93.184.215.14/hook", "https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://2130706433/hook", "loopback"),
        ("https://0x7f.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://100.64.0.1/hook", "carrier-grade"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fd00::1]/hook", "unique"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://0.0.0.0/hook", "address"),
        ("https://user:pw@93.184.215.14/hook", "password"),
        ("not a url", "valid"),
    ];
    for (url, why) in refused {
        let reply = server.post("/v1/webhooks/endpoints", key, json!({"url": url})).await;
        let problem = reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["pointer"], "/url", "{url}: {problem}");
        let detail = problem["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(why), "{url}: {detail:?} should say {why:?}");
    }
    assert_eq!(server.get("/v1/webhooks/endpoints", key).await.body["data"], json!([]), "nothing stored");
    // Unknown event types are named.
    let reply = server
        .post(
            "/v1/webhooks/endpoints",
            key,
            json!({"url": "https://93.184.215.14/", "event_types": ["post.nope"]}),
        )
        .await;
    assert_eq!(
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY)["errors"][0]["pointer"],
        "/event_types/0"
    );
    // A PATCH to a private address is refused too, and changes nothing.
    let (ep, _) = endpoint(&server, key, json!({"url": "https://93.184.215.14/hook"})).await;
    let patched = server
        .call(
            Method::PATCH,
            &format!("/v1/webhooks/endpoints/{ep}"),
            Some(key),
            Some(json!({"url": "https://10.0.0.1/"})),
        )
        .await;
    patched.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        server.get(&format!("/v1/webhooks/endpoints/{ep}"), key).await.body["url"],
        "https://93.184.215.14/hook"
    );
    // The development switch admits http on loopback only: private and metadata stay refused.
    let dev = Server::start_insecure_loopback(backend).await;
    let dev_key = dev.seed("Dev").await.admin_key;
    endpoint(&dev, &dev_key, json!({"url": "http://127.0.0.1:9/hook"})).await;
    for url in ["http://10.0.0.1/hook", "http://169.254.169.254/", "https://[fd00::1]/"] {
        let reply = dev.post("/v1/webhooks/endpoints", &dev_key, json!({"url": url})).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

async fn the_secret_is_shown_once_and_never_stored_in_plaintext(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let body = json!({"url": "https://93.184.215.14/hook", "description": "made over http"});
    let send = || {
        server
            .http
            .post(server.url("/v1/webhooks/endpoints"))
            .bearer_auth(key)
            .header("idempotency-key", "ep-1")
            .json(&body)
            .send()
    };
    let first = common::Reply::from(send().await.unwrap()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let secret = first.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let replay = common::Reply::from(send().await.unwrap()).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["secret"], Value::Null);
    assert_eq!(replay.body["endpoint"], first.body["endpoint"]);
    let ep = first.body["endpoint"]["id"].as_str().unwrap();
    let rotated = server
        .call(Method::POST, &format!("/v1/webhooks/endpoints/{ep}/rotate-secret"), Some(key), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second = rotated.body["secret"].as_str().unwrap().to_owned();
    for path in ["/v1/webhooks/endpoints".to_owned(), format!("/v1/webhooks/endpoints/{ep}")] {
        let listed = server.get(&path, key).await.body.to_string();
        assert!(!listed.contains("whsec_"), "{path} shows a secret: {listed}");
    }
    let dump = match backend {
        Backend::Sqlite => sqlite_bytes(server.db.sqlite_path.as_ref().unwrap()),
        Backend::Postgres => pg_dump(server.db.pg_schema.as_ref().unwrap()),
    };
    assert!(contains(&dump, b"made over http"), "the scan sees the endpoint rows");
    for secret in [&secret, &second] {
        assert!(!contains(&dump, secret.as_bytes()), "a webhook secret is in the database");
        assert!(!contains(&dump, &secret.as_bytes()["whsec_".len()..]), "a webhook key is in the database");
    }
}

/// Reads SSE events from `response` until `count` have come; returns their (id, type).
async fn read_events(response: &mut reqwest::Response, count: usize) -> Vec<(i64, String)> {
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("events in time")
            .unwrap()
            .unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")));
            let kind =
                block.lines().find_map(|l| l.strip_prefix("event: ").or_else(|| l.strip_prefix("event:")));
            if let (Some(id), Some(kind)) = (id, kind) {
                events.push((id.trim().parse().unwrap(), kind.trim().to_owned()));
            }
        }
    }
    events
}

async fn the_event_stream_resumes_without_gaps_or_repeats(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let (ep, _) = endpoint(&server, key, json!({"url": "https://93.184.215.14/hook"})).await;
    for _ in 0..3 {
        ping(&server, key, &ep).await;
    }
    let open = |last: Option<i64>| {
        let mut request = server.http.get(server.url("/v1/events/stream")).bearer_auth(key);
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        request.send()
    };
    let mut stream = open(None).await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut seen = read_events(&mut stream, 2).await;
    drop(stream);
    // More events while disconnected, then more while connected again.
    for _ in 0..2 {
        ping(&server, key, &ep).await;
    }
    let mut stream = open(Some(seen.last().unwrap().0)).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = tokio::spawn(async move {
        let events = read_events(&mut stream, 5).await;
        let _ = tx.send(());
        events
    });
    ping(&server, key, &ep).await;
    ping(&server, key, &ep).await;
    seen.extend(reader.await.unwrap());
    let _ = rx.await;
    assert_eq!(seen.iter().map(|(id, _)| *id).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>(), "{seen:?}");
    assert!(seen.iter().all(|(_, kind)| kind == "ping"));
    // Polling pages the same log.
    let page = server.get("/v1/events?limit=4", key).await.body;
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    let rest =
        server.get(&format!("/v1/events?cursor={}", page["next_cursor"].as_str().unwrap()), key).await.body;
    assert_eq!(rest["data"][0]["seq"], 5);
    assert_eq!(rest["data"].as_array().unwrap().len(), 3);
    let refused = server
        .http
        .get(server.url("/v1/events/stream"))
        .bearer_auth(key)
        .header("last-event-id", "x")
        .send()
        .await
        .unwrap();
    common::Reply::from(refused).await.assert_problem(StatusCode::BAD_REQUEST);
}

async fn webhooks_and_events_need_their_scopes(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let (_, reader) = server.create_key(&seeded.admin_key, &["posts:read"]).await;
    for (method, path, scope) in [
        (Method::GET, "/v1/webhooks/endpoints", "webhooks:admin"),
        (Method::POST, "/v1/webhooks/endpoints", "webhooks:admin"),
        (Method::GET, "/v1/webhooks/deliveries", "webhooks:admin"),
        (Method::GET, "/v1/events", "events:read"),
        (Method::GET, "/v1/events/stream", "events:read"),
    ] {
        let body = (method == Method::POST).then(|| json!({"url": "https://93.184.215.14/"}));
        let reply = server.call(method, path, Some(&reader), body).await;
        assert!(
            reply.assert_problem(StatusCode::FORBIDDEN)["detail"].as_str().unwrap().contains(scope),
            "{path}"
        );
    }
    assert_eq!(server.get("/v1/webhooks/endpoints", &seeded.admin_key).await.body["data"], json!([]));
    let types = server.get("/v1/event-types", &reader).await;
    assert_eq!(types.status, StatusCode::OK);
    let names: Vec<_> = types.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    for required in [
        "post.published",
        "post.failed",
        "post.target.retry_scheduled",
        "post.target.unknown",
        "channel.needs_reauth",
        "channel.disconnected",
        "channel.deauthorized",
        "webhook.endpoint.disabled",
        "ping",
    ] {
        assert!(names.iter().any(|n| n == required), "{required} is documented");
    }
}
