//! `crier mcp --stdio` as a local agent runs it: the official MCP TypeScript SDK client starts the
//! real binary with an API key in the environment, lists the tools, posts and reads the post back.
//! A revoked key is refused when the agent starts (every call re-checks the key as well).

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{BIN, crier, run_ok};
use crier_core::{Channel, ChannelId, ChannelStatus, Clock, NewAuditEvent, SystemClock};
use crier_testkit::mcp_client::{Sdk, try_client};
use crier_testkit::{Backend, TestDb, on_both_backends};

on_both_backends!(backend: an_agent_on_stdio_posts_with_its_key_and_a_revoked_key_stops);

async fn an_agent_on_stdio_posts_with_its_key_and_a_revoked_key_stops(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let data_dir = cwd.path().join("crier-data");
    let env = [
        ("CRIER_DATABASE_URL", db.url().expose().to_owned()),
        ("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose().to_owned()),
        ("CRIER_DATA_DIR", data_dir.display().to_string()),
    ];
    let with_db = || {
        let mut command = crier(cwd.path());
        command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        command
    };
    let workspace = run_ok(with_db().args(["workspace", "create", "Agents"]));
    let key = run_ok(with_db().args(["key", "create", "--workspace", &workspace, "--scopes", "all"]));
    let channel = Channel {
        workspace_id: workspace.parse().unwrap(),
        id: ChannelId::generate(),
        provider: "sandbox".into(),
        name: "sandbox".into(),
        config: serde_json::json!({}),
        status: ChannelStatus::Active,
        account: None,
        credentials: None,
        paused_until: None,
        created_at: SystemClock.now(),
    };
    let audit = NewAuditEvent::new(
        SystemClock.now(),
        crier_core::Actor::cli(),
        "channel.created",
        channel.id.to_string(),
        &Default::default(),
    );
    db.store.create_channel(&channel, None, None, &audit).await.unwrap();

    let client_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = format!("stdio:{BIN}");
    let channel_id = channel.id.to_string();
    let run = |key: String| {
        let (url, channel_id, client_env) = (url.clone(), channel_id.clone(), client_env.clone());
        let client_env: Vec<(String, String)> =
            client_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = client_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            try_client(Sdk::V1, &url, &key, &channel_id, &env)
        })
    };
    let out = run(key.clone()).await.unwrap().unwrap();
    assert_eq!(out["tools"].as_array().unwrap().len(), 9, "{}", out["tools"]);
    let created = &out["created"]["structuredContent"];
    assert_eq!(created["targets"][0]["status"], "queued", "{}", out["created"]);
    assert_eq!(out["post"]["structuredContent"]["id"], created["id"]);
    assert_eq!(out["invalid"]["isError"], true);
    let workspace_id = workspace.parse().unwrap();
    let query = crier_core::PostQuery { limit: 10, ..Default::default() };
    let posts = db.store.list_posts(workspace_id, &query).await.unwrap();
    assert_eq!(posts.len(), 1, "one post, however many retries");

    let key_id = run_ok(with_db().args(["key", "list", "--workspace", &workspace]));
    let key_id = key_id.split_whitespace().find(|w| w.starts_with("key_")).unwrap().to_owned();
    run_ok(with_db().args(["key", "revoke", "--workspace", &workspace, &key_id]));
    let refused = run(key).await.unwrap().expect_err("a revoked key must not start a session");
    assert!(refused.contains("revoked"), "{refused}");
}
