//! Exactly once, through crashes: a client sends 500 posts with idempotency keys, retrying on
//! connection errors, while the server is SIGKILLed at 5 random moments and restarted. Every
//! accepted post must be published exactly once in the sandbox's record: none lost, none twice.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Served, crier, get_json, post_json, run_ok};
use crier_testkit::{Backend, TestDb, on_both_backends};
use rand::Rng;
use serde_json::{Value, json};

on_both_backends!(backend: posts_survive_sigkill_exactly_once);

const POSTS: usize = 500;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn server(cwd: &Path, db: &TestDb, port: u16) -> Command {
    let mut command = crier(cwd);
    command
        .env("CRIER_DATABASE_URL", db.url().expose())
        .env("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose())
        .env("CRIER_LISTEN", format!("127.0.0.1:{port}"))
        .env("CRIER_WORKER_LEASE", "2s")
        // An idempotency key left in flight by a killed request is free again after this.
        .env("CRIER_REQUEST_TIMEOUT", "2s");
    command
}

/// Sends one post until the server answers it (202, or a replay of the same), whatever crashes.
async fn send_until_accepted(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    channel: &str,
    i: usize,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sent = http
            .post(format!("{base}/v1/posts"))
            .bearer_auth(key)
            .header("idempotency-key", format!("post-{i}"))
            .json(&json!({"text": format!("post number {i}"), "targets": [{"channel_id": channel}]}))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if let Ok(response) = sent {
            let status = response.status();
            if status == 202 {
                let body: Value = response.json().await.unwrap_or_default();
                if let Some(id) = body["id"].as_str() {
                    return id.to_owned();
                }
            } else {
                assert!(status == 409 || status.is_server_error(), "post {i}: unexpected {status}");
            }
        }
        assert!(Instant::now() < deadline, "post {i} was never accepted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn posts_survive_sigkill_exactly_once(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let workspace = run_ok(server(cwd.path(), &db, port).args(["workspace", "create", "Crash"]));
    let key = run_ok(server(cwd.path(), &db, port).args([
        "key",
        "create",
        "--workspace",
        &workspace,
        "--scopes",
        "all",
    ]));
    let mut served = Served::start(server(cwd.path(), &db, port));
    let http = reqwest::Client::new();
    let channel: Value = post_json(
        &http,
        &format!("{base}/v1/channels"),
        &key,
        &json!({"provider": "sandbox", "name": "crash", "config": {"latency_ms": 2}}),
    )
    .await;
    let channel = channel["id"].as_str().unwrap().to_owned();

    let client = {
        let (http, base, key, channel) = (http.clone(), base.clone(), key.clone(), channel.clone());
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(POSTS);
            for i in 0..POSTS {
                ids.push(send_until_accepted(&http, &base, &key, &channel, i).await);
            }
            ids
        })
    };
    let mut rng = rand::rng();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..900))).await;
        served.kill();
        served = Served::start(server(cwd.path(), &db, port));
    }
    let ids = client.await.unwrap();
    // A new client: the old one's pool may hold a keep-alive connection to a killed server,
    // whose first reuse fails (the retrying client task above copes; these reads do not).
    let http = reqwest::Client::new();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), POSTS, "each idempotency key made exactly one post");

    let deadline = Instant::now() + Duration::from_secs(120);
    // Wait (with a deadline) until the record holds as many deliveries as posts.
    loop {
        let reply: Value =
            get_json(&http, &format!("{base}/v1/channels/{channel}/sandbox-deliveries"), &key).await;
        if reply["data"].as_array().unwrap().len() >= POSTS || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every post published; then count again, so a late duplicate cannot slip past the count.
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let post: Value = get_json(&http, &format!("{base}/v1/posts/{id}"), &key).await;
            if post["status"] == "published" || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let settled: Value =
        get_json(&http, &format!("{base}/v1/channels/{channel}/sandbox-deliveries"), &key).await;
    let deliveries = settled["data"].as_array().unwrap().clone();
    let mut per_target: HashMap<String, usize> = HashMap::new();
    for delivery in &deliveries {
        *per_target.entry(delivery["target_id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    let duplicated: Vec<_> = per_target.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "published twice: {duplicated:?}");
    assert_eq!(per_target.len(), POSTS, "lost: {} of {POSTS} published", per_target.len());

    let mut published = 0;
    for id in &ids {
        let post: Value = get_json(&http, &format!("{base}/v1/posts/{id}"), &key).await;
        if post["status"] == "published" {
            published += 1;
        }
    }
    assert_eq!(published, POSTS, "every post reports published");
    served.stop();
}
