//! A provider that took a post but could not learn whether it was made (Reddit's image post
//! whose websocket stayed silent) answers `OutcomeUnknown`: the worker marks the target
//! `unknown` at once, not `published` with a made-up id and not queued for a resend, and a retry
//! then needs `confirm_unknown`. Over HTTP on both backends, with a stand-in for the provider.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::Server;
use crier_core::Channel;
use crier_providers::{Lookup, Provider, ProviderError, PublishRequest, Published, Registry, TargetIssue};
use crier_testkit::{Backend, on_both_backends};
use crier_worker::{Worker, WorkerConfig};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(backend: an_outcome_the_platform_never_told_leaves_the_target_unknown);

/// Reddit as the worker sees it when an image post's websocket says nothing.
struct Silent;

#[async_trait]
impl Provider for Silent {
    fn name(&self) -> &'static str {
        "reddit"
    }

    fn validate_config(&self, _config: &serde_json::Value) -> Vec<TargetIssue> {
        Vec::new()
    }

    fn validate_target(&self, _c: &Channel, _t: &str, _o: &serde_json::Value) -> Vec<TargetIssue> {
        Vec::new()
    }

    async fn publish(&self, _request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        Err(ProviderError::OutcomeUnknown { message: "its websocket said nothing for 60 s".into() })
    }

    async fn refresh(&self, _channel: &Channel) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }
}

async fn an_outcome_the_platform_never_told_leaves_the_target_unknown(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let channel = server.connected_channel(seeded.workspace, "reddit", "1w72").await.id.to_string();
    let body = json!({"text": "body", "targets": [{"channel_id": channel, "options": {"title": "T"}}]});
    let accepted = server.post("/v1/posts", key, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let post = accepted.body["id"].as_str().unwrap().to_owned();

    let registry = Arc::new(Registry::default().with(Arc::new(Silent)));
    let config = WorkerConfig { id: "w".into(), ..WorkerConfig::default() };
    let worker = Worker::new(server.db.store.clone(), registry, Arc::new(server.clock.clone()), config);
    worker.run_once().await.unwrap();

    let target = server.get(&format!("/v1/posts/{post}"), key).await.body["targets"][0].clone();
    assert_eq!(target["status"], "unknown", "{target}");
    assert_eq!(target["attempts"], 1, "{target}");
    assert!(target["provider_post_id"].is_null(), "{target}");
    assert!(target["error"]["message"].as_str().unwrap().contains("said nothing"), "{target}");
    // Nothing is due: no resend happens on its own.
    worker.run_once().await.unwrap();
    let again = server.get(&format!("/v1/posts/{post}"), key).await.body["targets"][0].clone();
    assert_eq!((again["status"].as_str(), again["attempts"].as_i64()), (Some("unknown"), Some(1)), "{again}");
}
