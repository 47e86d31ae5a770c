//! Direct Post of a video: `video/init` with `FILE_UPLOAD`
//! (developers.tiktok.com/doc/content-posting-api-reference-direct-post), the bytes PUT to the
//! upload address in chunks with `Content-Range`
//! (developers.tiktok.com/doc/content-posting-api-media-transfer-guide), then
//! `status/fetch` polled with a growing wait until the post is complete or failed
//! (developers.tiktok.com/doc/content-posting-api-reference-get-video-status).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::creator::Creator;
use super::errors::tiktok_error;
use super::{TikTok, chunk_plan};
use crate::MediaFile;
use crate::provider::{ProviderError, Published};

/// How long Crier waits for TikTok to finish a post before taking it as submitted.
const PROCESSING_DEADLINE: Duration = Duration::from_secs(120);
const FIRST_POLL_WAIT: Duration = Duration::from_millis(250);
/// `status/fetch` allows 30 calls a minute per token.
const MAX_POLL_WAIT: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct InitReply {
    data: Init,
}

#[derive(Deserialize)]
struct Init {
    publish_id: String,
    upload_url: String,
}

#[derive(Deserialize)]
struct StatusReply {
    data: Status,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    #[serde(default)]
    fail_reason: Option<String>,
    /// TikTok's own spelling.
    #[serde(default)]
    publicaly_available_post_id: Vec<Value>,
}

impl TikTok {
    pub(super) async fn direct_post(
        &self,
        file: MediaFile,
        post_info: Value,
        creator: &Creator,
        token: &str,
    ) -> Result<Published, ProviderError> {
        let size = file.bytes.len() as u64;
        if size == 0 {
            return Err(ProviderError::Rejected {
                code: "media_empty".into(),
                message: "the video file is empty".into(),
            });
        }
        let (chunk, count) = chunk_plan(size, self.settings.chunk_size);
        let body = json!({
            "post_info": post_info,
            "source_info": {
                "source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": count,
            },
        });
        // developers.tiktok.com/doc/content-posting-api-reference-direct-post
        let url = self.settings.api("/v2/post/publish/video/init/");
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
        if tiktok_error(&call).is_some() {
            return Err(self.failure(&call));
        }
        let init = call.json::<InitReply>()?.data;
        let mime = file.mime().to_owned();
        self.send_chunks(&init.upload_url, &file.bytes, &mime, chunk, count).await?;
        self.wait_published(&init.publish_id, creator, token).await
    }

    /// Sequential PUTs, the last chunk taking the trailing bytes
    /// (developers.tiktok.com/doc/content-posting-api-media-transfer-guide).
    async fn send_chunks(
        &self,
        upload_url: &str,
        bytes: &[u8],
        mime: &str,
        chunk: u64,
        count: u64,
    ) -> Result<(), ProviderError> {
        let total = bytes.len() as u64;
        for index in 0..count {
            let first = index * chunk;
            let end = if index + 1 == count { total } else { first + chunk };
            let range = format!("bytes {first}-{}/{total}", end - 1);
            let part = bytes[first as usize..end as usize].to_vec();
            // The upload address is signed: no bearer token.
            let call = self
                .platform
                .call(reqwest::Method::PUT, upload_url, |b| {
                    b.header(reqwest::header::CONTENT_TYPE, mime)
                        .header(reqwest::header::CONTENT_RANGE, range)
                        .body(part)
                })
                .await?;
            if !call.ok() {
                return Err(match self.failure(&call) {
                    // The upload address expires an hour after init: a new attempt starts afresh.
                    ProviderError::AuthExpired { message } | ProviderError::Rejected { message, .. } => {
                        ProviderError::Retryable {
                            after: None,
                            message: format!("TikTok refused chunk {} of {count}: {message}", index + 1),
                        }
                    }
                    other => other,
                });
            }
        }
        Ok(())
    }

    /// Polls `POST /v2/post/publish/status/fetch/` until `PUBLISH_COMPLETE` or `FAILED`.
    async fn wait_published(
        &self,
        publish_id: &str,
        creator: &Creator,
        token: &str,
    ) -> Result<Published, ProviderError> {
        let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
        // developers.tiktok.com/doc/content-posting-api-reference-get-video-status
        let url = self.settings.api("/v2/post/publish/status/fetch/");
        let body = json!({"publish_id": publish_id});
        let mut wait = FIRST_POLL_WAIT;
        loop {
            let call =
                self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
            if tiktok_error(&call).is_some() {
                return Err(self.failure(&call));
            }
            let status = call.json::<StatusReply>()?.data;
            match status.status.as_str() {
                "PUBLISH_COMPLETE" => return Ok(published(publish_id, &status, creator)),
                "FAILED" => return Err(self.failed(publish_id, status.fail_reason.unwrap_or_default())),
                _ => {}
            }
            if tokio::time::Instant::now() + wait > deadline {
                // The video is with TikTok and a new attempt would post it twice: taken as
                // submitted, under its publish id (TikTok finishes it, or notifies the creator).
                return Ok(Published { provider_post_id: publish_id.to_owned(), url: None });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL_WAIT);
        }
    }

    /// A `FAILED` post's `fail_reason`
    /// (developers.tiktok.com/doc/content-posting-api-reference-get-video-status, error codes).
    fn failed(&self, publish_id: &str, reason: String) -> ProviderError {
        let message = format!("TikTok could not publish {publish_id}: {reason}");
        match reason.as_str() {
            "auth_removed" => ProviderError::AuthExpired { message },
            "spam_risk_too_many_posts" | "spam_risk_too_many_pending_share" | "internal" => {
                self.failure_of(200, normalised(&reason).to_owned(), message)
            }
            "" => ProviderError::Rejected { code: "publish_failed".into(), message },
            _ => ProviderError::Rejected { code: reason, message },
        }
    }
}

/// `internal` is the status's spelling of the API's `internal_error`.
fn normalised(reason: &str) -> &str {
    if reason == "internal" { "internal_error" } else { reason }
}

/// A public post has an id (and an address); a private one only its publish id.
fn published(publish_id: &str, status: &Status, creator: &Creator) -> Published {
    let post_id = status.publicaly_available_post_id.first().and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    match post_id {
        Some(id) => {
            let url = creator
                .creator_username
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|user| format!("https://www.tiktok.com/@{user}/video/{id}"));
            Published { provider_post_id: id, url }
        }
        None => Published { provider_post_id: publish_id.to_owned(), url: None },
    }
}
