//! Two worker processes on one PostgreSQL publish 2,000 queued targets, none twice.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Served, crier};
use crier_core::{
    Channel, ChannelId, ChannelStatus, Clock, NewAuditEvent, Post, PostId, PostTarget, SystemClock, TargetId,
    TargetStatus,
};
use crier_testkit::{Backend, TestDb};

const CHANNELS: usize = 10;
const POSTS: usize = 200;

#[tokio::test]
async fn two_workers_share_the_queue_without_publishing_twice() {
    let db = TestDb::fresh(Backend::Postgres).await;
    let clock = Arc::new(SystemClock);
    let ws = db.workspace(clock.clone(), "Load").await;
    let now = clock.now();
    let mut channels = Vec::new();
    for i in 0..CHANNELS {
        let channel = Channel {
            workspace_id: ws,
            id: ChannelId::generate(),
            provider: "sandbox".into(),
            name: format!("c{i}"),
            config: serde_json::json!({}),
            status: ChannelStatus::Active,
            account: None,
            credentials: None,
            paused_until: None,
            created_at: now,
        };
        let audit = NewAuditEvent::new(
            now,
            crier_core::Actor::cli(),
            "channel.created",
            channel.id.to_string(),
            &Default::default(),
        );
        db.store.create_channel(&channel, None, None, &audit).await.unwrap();
        channels.push(channel.id);
    }
    for p in 0..POSTS {
        let post_id = PostId::generate();
        let targets = channels
            .iter()
            .map(|channel| PostTarget {
                workspace_id: ws,
                id: TargetId::generate(),
                post_id,
                channel_id: *channel,
                text: None,
                options: serde_json::Value::Null,
                status: TargetStatus::Queued,
                run_at: now,
                attempts: 0,
                lease_owner: None,
                lease_expires_at: None,
                provider_post_id: None,
                url: None,
                error_code: None,
                error_message: None,
                created_at: now,
                updated_at: now,
                published_at: None,
                deletion: None,
            })
            .collect();
        let post = Post {
            workspace_id: ws,
            id: post_id,
            text: format!("post {p}"),
            media: Vec::new(),
            scheduled_at: None,
            created_at: now,
            targets,
        };
        db.store.create_post(&post, None).await.unwrap();
    }

    let cwd = tempfile::tempdir().unwrap();
    // Both workers need the master key the test's vault used: hand it over via the environment.
    let worker = || {
        let mut command = crier(cwd.path());
        command
            .env("CRIER_DATABASE_URL", db.url().expose())
            .env("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose())
            .env("CRIER_MASTER_KEY", &db.master_key)
            .env("CRIER_ROLE", "worker")
            .env("CRIER_WORKER_BATCH", "16");
        command
    };
    let a = Served::start_worker(worker());
    let b = Served::start_worker(worker());

    let deadline = Instant::now() + Duration::from_secs(180);
    let total = CHANNELS * POSTS;
    let per_target = loop {
        let mut per_target: HashMap<TargetId, usize> = HashMap::new();
        for channel in &channels {
            for delivery in db.store.sandbox_deliveries(ws, *channel, None).await.unwrap() {
                *per_target.entry(delivery.target_id).or_default() += 1;
            }
        }
        if per_target.len() >= total || Instant::now() > deadline {
            break per_target;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let log_a = a.stop();
    let log_b = b.stop();
    assert_eq!(per_target.len(), total, "all published");
    assert!(per_target.values().all(|n| *n == 1), "a target was published twice");
    // Both workers took part.
    for log in [&log_a, &log_b] {
        assert!(log.contains("worker started"), "{log}");
    }
}
