//! The sandbox provider: a pretend platform whose behaviour is set by the channel's config, and
//! which records every publish it performs (`GET /v1/channels/{id}/sandbox-deliveries`). Users
//! point test-mode integrations at it; Crier's own tests use it to inject latency, failures, rate
//! limits, expiring tokens and rejections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use crier_core::{Channel, ChannelId, Clock, SandboxDelivery, Store, TargetId};
use rand::Rng;
use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::MediaRules;
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::sandbox_record::DeliveryRecorder;

/// The sandbox's behaviour, from the channel's `config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Text limit in grapheme clusters.
    pub max_chars: usize,
    /// Delay before answering each publish.
    pub latency_ms: u64,
    /// The first N publish calls of each target fail as temporary errors.
    pub fail_first: u32,
    /// Share of publish calls (0 to 1) that fail as temporary errors.
    pub failure_rate: f64,
    /// At most `max` publishes per `window_seconds` on this channel; beyond, rate limited.
    pub rate_limit: Option<RateLimit>,
    /// The token "expires" after this many publishes on the channel.
    pub token_expires_after: Option<usize>,
    /// Whether a refresh after expiry succeeds (grants another `token_expires_after` publishes).
    pub refresh_succeeds: bool,
    /// Posts containing this text are rejected for good.
    pub reject_containing: Option<String>,
    /// The "did you publish this?" look-up fails, as a platform's read API can be down.
    pub lookup_unavailable: bool,
    /// The first N delete calls of each target fail as temporary errors.
    pub delete_fails_first: u32,
    /// Deleting is refused for good (as a platform refuses to delete an old post, say).
    pub delete_rejected: bool,
    /// What media the channel takes (default: `sandbox_media_rules`).
    pub media: MediaRules,
}

/// The sandbox's default media rules, shaped like a typical platform's: up to 4 images or one
/// video, images up to 10 MB and 8192 pixels a side, videos up to 512 MB and 10 minutes.
pub fn sandbox_media_rules() -> MediaRules {
    MediaRules {
        max_images: 4,
        max_videos: 1,
        max_image_bytes: Some(10_000_000),
        max_video_bytes: Some(512_000_000),
        max_dimension: Some(8192),
        min_aspect_ratio: Some(1.0 / 3.0),
        max_aspect_ratio: Some(3.0),
        max_video_duration_ms: Some(600_000),
        ..MediaRules::default()
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            max_chars: 500,
            latency_ms: 0,
            fail_first: 0,
            failure_rate: 0.0,
            rate_limit: None,
            token_expires_after: None,
            refresh_succeeds: false,
            reject_containing: None,
            lookup_unavailable: false,
            delete_fails_first: 0,
            delete_rejected: false,
            media: sandbox_media_rules(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub max: usize,
    pub window_seconds: i64,
}

pub struct Sandbox {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Publish calls seen per target (for `fail_first`); process-local, like a flaky network.
    calls: Mutex<HashMap<TargetId, u32>>,
    /// Delete calls seen per target (for `delete_fails_first`).
    deletes: Mutex<HashMap<TargetId, u32>>,
    /// Deliveries counted at the last successful refresh, per channel.
    refreshed_at: Mutex<HashMap<ChannelId, usize>>,
    recorder: DeliveryRecorder,
}

impl Sandbox {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            recorder: DeliveryRecorder::new(store.clone()),
            store,
            clock,
            calls: Mutex::default(),
            deletes: Mutex::default(),
            refreshed_at: Mutex::default(),
        }
    }

    fn config(channel: &Channel) -> Result<SandboxConfig, ProviderError> {
        serde_json::from_value(channel.config.clone()).map_err(|err| ProviderError::Rejected {
            code: "invalid_channel_config".into(),
            message: err.to_string(),
        })
    }

    async fn deliveries(&self, channel: &Channel) -> Result<Vec<SandboxDelivery>, ProviderError> {
        self.store.sandbox_deliveries(channel.workspace_id, channel.id, None).await.map_err(|err| {
            ProviderError::Retryable { after: None, message: format!("sandbox storage: {err}") }
        })
    }
}

fn url(channel: ChannelId, delivery: uuid::Uuid) -> String {
    format!("https://sandbox.crier.invalid/{channel}/{delivery}")
}

#[async_trait]
impl Provider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn created_directly(&self) -> bool {
        true
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        let parsed = match serde_json::from_value::<SandboxConfig>(config.clone()) {
            Ok(parsed) => parsed,
            Err(err) => return vec![TargetIssue::new("", err.to_string())],
        };
        let mut issues = Vec::new();
        if !(0.0..=1.0).contains(&parsed.failure_rate) {
            issues.push(TargetIssue::new("/failure_rate", "must be between 0 and 1"));
        }
        if parsed.latency_ms > 30_000 {
            issues.push(TargetIssue::new("/latency_ms", "at most 30000"));
        }
        if !(1..=100_000).contains(&parsed.max_chars) {
            issues.push(TargetIssue::new("/max_chars", "1 to 100000"));
        }
        if let Some(limit) = parsed.rate_limit {
            if limit.max == 0 {
                issues.push(TargetIssue::new("/rate_limit/max", "at least 1"));
            }
            if !(1..=86_400).contains(&limit.window_seconds) {
                issues.push(TargetIssue::new("/rate_limit/window_seconds", "1 to 86400"));
            }
        }
        if parsed.token_expires_after == Some(0) {
            issues.push(TargetIssue::new("/token_expires_after", "at least 1"));
        }
        issues
    }

    fn validate_target(
        &self,
        channel: &Channel,
        text: &str,
        options: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        let max = Self::config(channel).map(|c| c.max_chars).unwrap_or(500);
        let count = text.graphemes(true).count();
        if count == 0 {
            issues.push(TargetIssue::new("/text", "the sandbox needs some text"));
        } else if count > max {
            issues.push(TargetIssue::new("/text", format!("{count} characters; this channel allows {max}")));
        }
        if !(options.is_null() || options.as_object().is_some_and(|o| o.is_empty())) {
            issues.push(TargetIssue::new("/options", "the sandbox takes no options"));
        }
        issues
    }

    fn text_limit(&self, channel: &Channel) -> Option<TextLimit> {
        let max = Self::config(channel).map(|c| c.max_chars).unwrap_or(500);
        Some(TextLimit { max, counted_in: "graphemes" })
    }

    fn media_rules(&self, channel: &Channel) -> MediaRules {
        Self::config(channel).map(|c| c.media).unwrap_or_else(|_| sandbox_media_rules())
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let channel = request.channel;
        let config = Self::config(channel)?;
        if config.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
        }
        // Counted only for a channel set to fail, so the map does not grow with every target.
        let call = if config.fail_first > 0 { count_call(&self.calls, request.target_id) } else { 0 };
        if let Some(needle) = config.reject_containing.as_deref()
            && request.text.contains(needle)
        {
            return Err(ProviderError::Rejected {
                code: "content_rejected".into(),
                message: format!("the sandbox rejects posts containing {needle:?}"),
            });
        }
        if (1..=config.fail_first).contains(&call) {
            return Err(ProviderError::Retryable {
                after: None,
                message: format!("sandbox failure {call} (503)"),
            });
        }
        if config.failure_rate > 0.0 && rand::rng().random_bool(config.failure_rate.clamp(0.0, 1.0)) {
            return Err(ProviderError::Retryable {
                after: None,
                message: "sandbox random failure (503)".into(),
            });
        }
        let now = self.clock.now();
        // Only the limits that count past publishes need the delivery record.
        let past = if config.token_expires_after.is_some() || config.rate_limit.is_some() {
            self.deliveries(channel).await?
        } else {
            Vec::new()
        };
        if let Some(limit) = config.token_expires_after {
            let refreshed =
                self.refreshed_at.lock().unwrap_or_else(PoisonError::into_inner).get(&channel.id).copied();
            if past.len() >= refreshed.unwrap_or(0) + limit {
                return Err(ProviderError::AuthExpired { message: "sandbox token expired".into() });
            }
        }
        if let Some(limit) = config.rate_limit {
            let window = chrono::Duration::seconds(limit.window_seconds);
            let recent: Vec<_> = past.iter().filter(|d| d.delivered_at > now - window).collect();
            if recent.len() >= limit.max {
                let reset = recent.first().map_or(now, |oldest| oldest.delivered_at + window);
                return Err(ProviderError::RateLimited { reset });
            }
        }
        let delivery = SandboxDelivery {
            workspace_id: channel.workspace_id,
            channel_id: channel.id,
            id: uuid::Uuid::now_v7(),
            target_id: request.target_id,
            attempt_id: request.attempt_id,
            text: request.text.to_owned(),
            media: request.media.to_vec(),
            delivered_at: now,
            deleted_at: None,
        };
        let published =
            Published { provider_post_id: delivery.id.to_string(), url: Some(url(channel.id, delivery.id)) };
        self.recorder.record(delivery).await.map_err(|err| ProviderError::Retryable {
            after: None,
            message: format!("sandbox storage: {err}"),
        })?;
        Ok(published)
    }

    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let config = Self::config(channel)?;
        if !config.refresh_succeeds {
            return Err(ProviderError::AuthExpired { message: "sandbox refresh refused".into() });
        }
        let delivered = self.deliveries(channel).await?.len();
        self.refreshed_at.lock().unwrap_or_else(PoisonError::into_inner).insert(channel.id, delivered);
        Ok(())
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// Marks the delivery deleted in the sandbox's record (it stays listed, with `deleted_at`).
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let channel = request.channel;
        let config = Self::config(channel)?;
        let call =
            if config.delete_fails_first > 0 { count_call(&self.deletes, request.target_id) } else { 0 };
        if (1..=config.delete_fails_first).contains(&call) {
            return Err(ProviderError::Retryable {
                after: None,
                message: format!("sandbox delete failure {call} (503)"),
            });
        }
        if config.delete_rejected {
            return Err(ProviderError::Rejected {
                code: "delete_refused".into(),
                message: "the sandbox refuses to delete this post".into(),
            });
        }
        let Ok(id) = request.provider_post_id.parse::<uuid::Uuid>() else {
            return Err(ProviderError::Rejected {
                code: "not_found".into(),
                message: "no such sandbox delivery".into(),
            });
        };
        let found = self
            .store
            .delete_sandbox_delivery(channel.workspace_id, channel.id, id, self.clock.now())
            .await
            .map_err(|err| ProviderError::Retryable {
                after: None,
                message: format!("sandbox storage: {err}"),
            })?;
        if found {
            Ok(())
        } else {
            Err(ProviderError::Rejected {
                code: "not_found".into(),
                message: "no such sandbox delivery".into(),
            })
        }
    }

    async fn lookup(&self, request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        let channel = request.channel;
        if Self::config(channel)?.lookup_unavailable {
            return Err(ProviderError::Retryable {
                after: None,
                message: "sandbox look-up unavailable (503)".into(),
            });
        }
        let found = self
            .store
            .sandbox_deliveries(channel.workspace_id, channel.id, Some(request.target_id))
            .await
            .map_err(|err| ProviderError::Retryable {
                after: None,
                message: format!("sandbox storage: {err}"),
            })?;
        Ok(match found.first() {
            Some(d) => Lookup::Published(Published {
                provider_post_id: d.id.to_string(),
                url: Some(url(channel.id, d.id)),
            }),
            None => Lookup::NotPublished,
        })
    }
}

/// This call's number among `target`'s calls (1 for the first).
fn count_call(calls: &Mutex<HashMap<TargetId, u32>>, target: TargetId) -> u32 {
    let mut calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
    let count = calls.entry(target).or_default();
    *count += 1;
    *count
}
