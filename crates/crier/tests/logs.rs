//! No key ever reaches the log, even at the most verbose level, whatever the requests do.

mod common;

use common::{Served, crier, post_json, run_ok};
use serde_json::json;

#[tokio::test]
async fn trace_logs_never_contain_a_key() {
    let cwd = tempfile::tempdir().unwrap();
    let workspace = run_ok(crier(cwd.path()).args(["workspace", "create", "Acme"]));
    let admin =
        run_ok(crier(cwd.path()).args(["key", "create", "--workspace", &workspace, "--scopes", "all"]));
    let mut command = crier(cwd.path());
    command.env("CRIER_LOG", "trace");
    let served = Served::start(command);
    let http = reqwest::Client::new();

    let mut secrets = vec![admin.clone()];
    let created: serde_json::Value = post_json(
        &http,
        &served.url("/v1/api-keys"),
        &admin,
        &json!({"scopes": ["posts:read", "keys:admin"]}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["api_key"]["id"].as_str().unwrap().to_owned();
    secrets.push(secret.clone());
    let rotated: serde_json::Value = http
        .post(served.url(&format!("/v1/api-keys/{id}/rotate")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.push(rotated["secret"].as_str().unwrap().to_owned());
    http.delete(served.url(&format!("/v1/api-keys/{id}"))).bearer_auth(&admin).send().await.unwrap();
    // Refused keys are logged about too: the revoked one, and a near miss with a bad checksum.
    http.get(served.url("/v1/workspace")).bearer_auth(&secret).send().await.unwrap();
    let mut near_miss = admin.clone();
    near_miss.pop();
    near_miss.push('x');
    secrets.push(near_miss.clone());
    http.get(served.url("/v1/workspace")).bearer_auth(&near_miss).send().await.unwrap();

    let log = served.stop();
    let master_key = std::fs::read_to_string(cwd.path().join("crier-data/master.key")).unwrap();
    assert!(!log.contains(master_key.trim()), "the master key leaked into the log");
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the test ran at a verbose level");
    assert!(log.contains("API key rotated"), "the log covers the key operations");
    for secret in &secrets {
        let random_part = &secret[11..secret.len() - 6];
        assert!(!log.contains(random_part), "a key leaked into the log");
    }
}
