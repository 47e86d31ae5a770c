//! Per-day publishing caps checked when a post is accepted, over HTTP on both backends: a Threads
//! channel (250 posts in a rolling 24 hours) that was given 250 targets in the last 24 hours
//! refuses the next post with a 422 naming the target; a day later it takes posts again, and
//! channels of platforms without a documented cap are never counted.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::Server;
use crier_core::{Clock, Post, PostId, PostTarget, TargetId, TargetStatus, WorkspaceId};
use crier_providers::meta::threads::DAILY_POSTS;
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(backend: a_channel_at_its_platforms_daily_cap_refuses_the_next_post);

/// A post accepted now with one queued target on `channel`, stored directly.
fn post_on(server: &Server, ws: WorkspaceId, channel: crier_core::ChannelId) -> Post {
    let now = server.clock.now();
    let id = PostId::generate();
    Post {
        workspace_id: ws,
        id,
        text: "hello".into(),
        media: Vec::new(),
        scheduled_at: None,
        created_at: now,
        targets: vec![PostTarget {
            workspace_id: ws,
            id: TargetId::generate(),
            post_id: id,
            channel_id: channel,
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
        }],
    }
}

async fn a_channel_at_its_platforms_daily_cap_refuses_the_next_post(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let threads = server.connected_channel(a.workspace, "threads", "3003").await;
    let facebook = server.connected_channel(a.workspace, "facebook", "1001").await;
    let post = |channels: &[&crier_core::Channel]| {
        let targets: Vec<_> = channels.iter().map(|c| json!({"channel_id": c.id.to_string()})).collect();
        json!({"text": "hello", "targets": targets})
    };
    // One accepted through the API, the rest of the day's cap stored directly.
    let first = server.post("/v1/posts", &a.admin_key, post(&[&threads])).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    server.clock.advance(Duration::hours(1));
    for _ in 1..DAILY_POSTS {
        server.db.store.create_post(&post_on(&server, a.workspace, threads.id), None).await.unwrap();
    }

    let refused = server.post("/v1/posts", &a.admin_key, post(&[&facebook, &threads])).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["pointer"], "/targets/1/channel_id");
    let detail = errors[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&threads.id.to_string()) && detail.contains("250 posts a day"), "{detail}");
    // Facebook documents no cap: its channel alone is taken.
    let alone = server.post("/v1/posts", &a.admin_key, post(&[&facebook])).await;
    assert_eq!(alone.status, StatusCode::ACCEPTED, "{}", alone.body);

    // The first post leaves the rolling window: room for one more.
    server.clock.advance(Duration::hours(23) + Duration::seconds(1));
    let next = server.post("/v1/posts", &a.admin_key, post(&[&threads])).await;
    assert_eq!(next.status, StatusCode::ACCEPTED, "{}", next.body);
    let full = server.post("/v1/posts", &a.admin_key, post(&[&threads])).await;
    full.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
}
