//! Acceptance: `kill -9` of Crier while a webhook delivery is on the wire loses no event: after
//! a restart the receiver gets it (again), with the same webhook-id, verified by the official
//! `standardwebhooks` library. And, at trace level, no webhook secret reaches the log.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Served, crier, run_ok};
use crier_testkit::webhook_receiver::Receiver;
use crier_testkit::{Backend, TestDb, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(backend: a_delivery_interrupted_by_sigkill_arrives_after_restart);

fn server(cwd: &Path, db: &TestDb) -> Command {
    let mut command = crier(cwd);
    command
        .env("CRIER_DATABASE_URL", db.url().expose())
        .env("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose())
        .env("CRIER_LOG", "trace")
        // The documented development switch, so the local receiver can be reached.
        .env("CRIER_ALLOW_INSECURE_LOOPBACK", "true")
        // A delivery's lease is the timeout + 5 s: a crashed send is retried 7 s after it began.
        .env("CRIER_WEBHOOK_TIMEOUT", "2s");
    command
}

async fn wait_for(receiver: &Receiver, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received = receiver.received().await;
        if received.len() >= count {
            return received;
        }
        assert!(Instant::now() < deadline, "the receiver got {} of {count} deliveries", received.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_delivery_interrupted_by_sigkill_arrives_after_restart(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().expect("tempdir");
    let workspace = run_ok(server(cwd.path(), &db).args(["workspace", "create", "Hooks"]));
    let key =
        run_ok(server(cwd.path(), &db).args(["key", "create", "--workspace", &workspace, "--scopes", "all"]));
    let receiver = Receiver::start();
    let served = Served::start(server(cwd.path(), &db));
    let http = reqwest::Client::new();
    let created: Value = http
        .post(served.url("/v1/webhooks/endpoints"))
        .bearer_auth(&key)
        .json(&json!({"url": receiver.url()}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let endpoint = created["endpoint"]["id"].as_str().expect("an endpoint id").to_owned();
    let secret = created["secret"].as_str().expect("a secret").to_owned();
    // The receiver holds its answer long enough for Crier to die with the request open.
    receiver.control(json!({"secrets": [secret], "delay": 30})).await;
    let ping = http
        .post(served.url(&format!("/v1/webhooks/endpoints/{endpoint}/test")))
        .bearer_auth(&key)
        .send()
        .await
        .expect("sent");
    assert_eq!(ping.status(), 202);
    let first = wait_for(&receiver, 1).await;
    let first_log = served.log();
    served.kill();

    receiver.control(json!({"delay": 0})).await;
    let served = Served::start(server(cwd.path(), &db));
    // A new client: the old one's pool may hold a connection to the killed server.
    let http = reqwest::Client::new();
    let again = wait_for(&receiver, 2).await;
    let received = receiver.all_verified().await;
    assert_eq!(again[1]["id"], first[0]["id"], "the redelivery carries the same webhook-id");
    assert_eq!(received[1]["body"]["type"], "ping");
    // Delivered now: the record says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = first[0]["id"].as_str().expect("webhook-id").to_owned();
    loop {
        let delivery: Value = http
            .get(served.url(&format!("/v1/webhooks/deliveries/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        if delivery["status"] == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "the delivery never succeeded: {delivery}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = format!("{first_log}{}", served.stop());
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the test ran at a verbose level");
    assert!(!log.contains(&secret), "the webhook secret leaked into the log");
    assert!(!log.contains(&secret["whsec_".len()..]), "the webhook key leaked into the log");
}
