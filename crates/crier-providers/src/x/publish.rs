//! Publishing: media through X's v2 chunked upload (`initialize`, `append`, `finalize`, then
//! `STATUS` polls while a video is processed), then `POST /2/tweets` for each post of the
//! thread, each a reply to the one before.

use std::time::Duration;

use crier_core::MediaId;
use serde::Deserialize;
use serde_json::json;

use super::{X, XOptions};
use crate::MediaFile;
use crate::provider::{ProviderError, PublishRequest, Published};

/// Bytes per `append` (X takes chunks up to 5 MB).
const CHUNK: usize = 4 * 1024 * 1024;
/// How long media may stay in processing before the publish is given up for a later retry.
const PROCESSING_DEADLINE: Duration = Duration::from_secs(120);
/// X says when to ask again (`check_after_secs`); bounded so a test or a slow answer cannot stall.
const MAX_POLL_WAIT: Duration = Duration::from_secs(10);
const FIRST_POLL_WAIT: Duration = Duration::from_millis(250);

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
}

#[derive(Deserialize)]
struct Upload {
    id: String,
    #[serde(default)]
    processing_info: Option<Processing>,
}

#[derive(Deserialize)]
struct Processing {
    state: String,
    #[serde(default)]
    check_after_secs: Option<u64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// X's media category for a content type.
fn category(mime: &str) -> &'static str {
    match mime {
        "image/gif" => "tweet_gif",
        m if m.starts_with("video/") => "tweet_video",
        _ => "tweet_image",
    }
}

impl X {
    pub(super) async fn publish_thread(
        &self,
        request: &PublishRequest<'_>,
        token: &str,
        options: &XOptions,
    ) -> Result<Published, ProviderError> {
        let mut media_ids = Vec::with_capacity(request.media.len());
        for id in request.media {
            media_ids.push(self.upload(request, token, *id).await?);
        }
        let texts = std::iter::once(request.text).chain(options.thread.iter().map(String::as_str));
        let mut root: Option<String> = None;
        let mut parent: Option<String> = None;
        for (index, text) in texts.enumerate() {
            let mut body = json!({"text": text});
            if index == 0 && !media_ids.is_empty() {
                body["media"] = json!({"media_ids": media_ids});
            }
            if let Some(parent) = &parent {
                body["reply"] = json!({"in_reply_to_tweet_id": parent});
            }
            let url = self.settings.api("/2/tweets");
            let call =
                self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let tweet: Data<Tweet> = call.json()?;
            parent = Some(tweet.data.id.clone());
            root.get_or_insert(tweet.data.id);
        }
        let id = root.ok_or_else(|| ProviderError::Rejected {
            code: "empty_post".into(),
            message: "nothing to publish".into(),
        })?;
        let url = match request.channel.account.as_ref().map(|a| a.handle.as_str()).filter(|h| !h.is_empty())
        {
            Some(handle) => format!("https://x.com/{handle}/status/{id}"),
            None => format!("https://x.com/i/web/status/{id}"),
        };
        Ok(Published { provider_post_id: id, url: Some(url) })
    }

    /// Uploads one file in chunks and waits until X has processed it.
    async fn upload(
        &self,
        request: &PublishRequest<'_>,
        token: &str,
        id: MediaId,
    ) -> Result<String, ProviderError> {
        let MediaFile { media, bytes } = self.platform.media.load(request.channel.workspace_id, id).await?;
        let mime = media.facts.as_ref().map_or("application/octet-stream", |f| f.mime.as_str()).to_owned();
        let url = self.settings.api("/2/media/upload/initialize");
        let body = json!({"media_type": mime, "total_bytes": bytes.len(), "media_category": category(&mime)});
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let upload: Data<Upload> = call.json()?;
        let media_id = upload.data.id;
        for (index, chunk) in bytes.chunks(CHUNK).enumerate() {
            let part = reqwest::multipart::Part::bytes(chunk.to_vec())
                .file_name("media")
                .mime_str("application/octet-stream")
                .map_err(|err| ProviderError::Rejected {
                    code: "media_unreadable".into(),
                    message: err.to_string(),
                })?;
            let form =
                reqwest::multipart::Form::new().text("segment_index", index.to_string()).part("media", part);
            let url = self.settings.api(&format!("/2/media/upload/{media_id}/append"));
            let call = self
                .platform
                .call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).multipart(form))
                .await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
        }
        let url = self.settings.api(&format!("/2/media/upload/{media_id}/finalize"));
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let finalized: Data<Upload> = call.json()?;
        if let Some(processing) = finalized.data.processing_info {
            self.wait_processed(token, &media_id, processing).await?;
        }
        Ok(media_id)
    }

    /// Polls `GET /2/media/upload?command=STATUS` until `succeeded`, as often as X says.
    async fn wait_processed(
        &self,
        token: &str,
        media_id: &str,
        mut processing: Processing,
    ) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
        let url = self.settings.api(&format!("/2/media/upload?command=STATUS&media_id={media_id}"));
        loop {
            match processing.state.as_str() {
                "succeeded" => return Ok(()),
                "failed" => {
                    let error = processing.error.unwrap_or_default();
                    let message = error["message"].as_str().unwrap_or("X could not process the media");
                    return Err(ProviderError::Rejected {
                        code: "media_processing_failed".into(),
                        message: format!("media {media_id}: {message}"),
                    });
                }
                _ => {}
            }
            let wait = processing
                .check_after_secs
                .map_or(FIRST_POLL_WAIT, Duration::from_secs)
                .clamp(FIRST_POLL_WAIT, MAX_POLL_WAIT);
            if tokio::time::Instant::now() + wait > deadline {
                return Err(ProviderError::Retryable {
                    after: None,
                    message: format!(
                        "X was still processing media {media_id} after {} s",
                        PROCESSING_DEADLINE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(wait).await;
            let call = self.platform.call(reqwest::Method::GET, &url, |b| b.bearer_auth(token)).await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let status: Data<Upload> = call.json()?;
            processing = status.data.processing_info.unwrap_or(Processing {
                state: "succeeded".into(),
                check_after_secs: None,
                error: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_the_type() {
        assert_eq!(category("image/png"), "tweet_image");
        assert_eq!(category("image/gif"), "tweet_gif");
        assert_eq!(category("video/mp4"), "tweet_video");
    }
}
