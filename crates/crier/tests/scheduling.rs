//! A scheduled post goes out within a second of its time, with the real clock and the real
//! wake-ups (LISTEN/NOTIFY on PostgreSQL, in-process on SQLite), and a shutdown releases the
//! worker's leases.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Served, crier, get_json, post_json, run_ok};
use crier_testkit::{Backend, TestDb, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(backend: scheduled_posts_go_out_within_a_second);

async fn scheduled_posts_go_out_within_a_second(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let with_db = || {
        let mut command = crier(cwd.path());
        command
            .env("CRIER_DATABASE_URL", db.url().expose())
            .env("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose());
        command
    };
    let workspace = run_ok(with_db().args(["workspace", "create", "Clock"]));
    let key = run_ok(with_db().args(["key", "create", "--workspace", &workspace, "--scopes", "all"]));
    let served = Served::start(with_db());
    let http = reqwest::Client::new();
    let channel: Value =
        post_json(&http, &served.url("/v1/channels"), &key, &json!({"provider": "sandbox", "name": "clock"}))
            .await;
    let at = Utc::now() + chrono::Duration::milliseconds(1500);
    let post: Value = post_json(
        &http,
        &served.url("/v1/posts"),
        &key,
        &json!({"text": "on time", "targets": [{"channel_id": channel["id"]}], "scheduled_at": at}),
    )
    .await;
    assert_eq!(post["status"], "scheduled", "{post}");
    let id = post["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let published_at = loop {
        let view: Value = get_json(&http, &served.url(&format!("/v1/posts/{id}")), &key).await;
        if let Some(at) = view["targets"][0]["published_at"].as_str() {
            break at.parse::<DateTime<Utc>>().unwrap();
        }
        assert!(Instant::now() < deadline, "never published: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let late = published_at - at;
    assert!(late >= chrono::Duration::zero(), "published early: {late}");
    assert!(late < chrono::Duration::seconds(1), "published {late} after its time");
    let log = served.stop();
    assert!(log.contains("worker stopped released="), "a clean worker shutdown: {log}");
}
