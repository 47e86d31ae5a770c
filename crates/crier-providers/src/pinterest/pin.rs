//! Creating a Pin (developers.pinterest.com/docs/api/v5/pins-create): images inline as base64,
//! a video through Pinterest's media upload (developers.pinterest.com/docs/api/v5/media-create,
//! then the file to the upload address with the form fields Pinterest names, then
//! developers.pinterest.com/docs/api/v5/media-get until `succeeded`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crier_core::MediaKind;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{MAX_ALT_TEXT, Pinterest, PinterestOptions};
use crate::MediaFile;
use crate::provider::{ProviderError, PublishRequest, Published};

/// How long a video may stay in processing before the publish is given up for a later retry.
const PROCESSING_DEADLINE: Duration = Duration::from_secs(120);
const FIRST_POLL_WAIT: Duration = Duration::from_millis(250);
const MAX_POLL_WAIT: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct Registered {
    media_id: String,
    upload_url: String,
    #[serde(default)]
    upload_parameters: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct MediaStatus {
    status: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

fn image_item(file: &MediaFile) -> Value {
    json!({"content_type": file.mime(), "data": STANDARD.encode(&file.bytes)})
}

impl Pinterest {
    pub(super) async fn create_pin(
        &self,
        request: &PublishRequest<'_>,
        board: &str,
        options: &PinterestOptions,
        token: &str,
    ) -> Result<Published, ProviderError> {
        let mut files = Vec::with_capacity(request.media.len());
        for id in request.media {
            files.push(self.platform.media.load(request.channel.workspace_id, *id).await?);
        }
        let video =
            files.iter().position(|f| f.media.facts.as_ref().is_some_and(|m| m.kind == MediaKind::Video));
        let media_source = match (video, files.as_slice()) {
            (Some(index), _) => {
                let bytes = std::mem::take(&mut files[index].bytes);
                let mime = files[index].mime().to_owned();
                let media_id = self.upload_video(bytes, &mime, token).await?;
                json!({"source_type": "video_id", "media_id": media_id, "cover_image_key_frame_time": 0})
            }
            (None, [one]) => {
                let mut source = image_item(one);
                source["source_type"] = json!("image_base64");
                source
            }
            (None, many) => {
                let items: Vec<Value> = many.iter().map(image_item).collect();
                json!({"source_type": "multiple_image_base64", "items": items})
            }
        };
        let mut body = json!({"board_id": board, "media_source": media_source});
        if !request.text.is_empty() {
            body["description"] = json!(request.text);
        }
        if let Some(title) = &options.title {
            body["title"] = json!(title);
        }
        if let Some(link) = &options.link {
            body["link"] = json!(link);
        }
        if let Some(section) = &options.board_section_id {
            body["board_section_id"] = json!(section);
        }
        let alt = files.first().and_then(|f| f.media.alt_text.as_deref()).filter(|a| !a.trim().is_empty());
        if let Some(alt) = alt {
            body["alt_text"] = json!(alt.chars().take(MAX_ALT_TEXT).collect::<String>());
        }
        // developers.pinterest.com/docs/api/v5/pins-create
        let url = self.settings.api("/v5/pins");
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let created: Created = call.json()?;
        let url = format!("https://www.pinterest.com/pin/{}/", created.id);
        Ok(Published { provider_post_id: created.id, url: Some(url) })
    }

    /// Registers the upload, sends the file with Pinterest's form fields, waits until processed.
    async fn upload_video(&self, bytes: Vec<u8>, mime: &str, token: &str) -> Result<String, ProviderError> {
        // developers.pinterest.com/docs/api/v5/media-create
        let url = self.settings.api("/v5/media");
        let body = json!({"media_type": "video"});
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let registered: Registered = call.json()?;
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in &registered.upload_parameters {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            form = form.text(name.clone(), value);
        }
        let part =
            reqwest::multipart::Part::bytes(bytes).file_name("video").mime_str(mime).map_err(|err| {
                ProviderError::Rejected { code: "media_unreadable".into(), message: err.to_string() }
            })?;
        form = form.part("file", part);
        // The upload address is a storage bucket's, signed by the form fields (no bearer token).
        let call =
            self.platform.call(reqwest::Method::POST, &registered.upload_url, |b| b.multipart(form)).await?;
        if !call.ok() {
            return Err(match call.failure(self.platform.clock.now()) {
                // The signed form expires; a new attempt registers afresh.
                ProviderError::Rejected { message, .. } | ProviderError::AuthExpired { message } => {
                    ProviderError::Retryable {
                        after: None,
                        message: format!("the video upload was refused: {message}"),
                    }
                }
                other => other,
            });
        }
        self.wait_processed(&registered.media_id, token).await?;
        Ok(registered.media_id)
    }

    /// Polls `GET /v5/media/{media_id}` until `succeeded` (developers.pinterest.com/docs/api/v5/media-get).
    async fn wait_processed(&self, media_id: &str, token: &str) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
        let url = self.settings.api(&format!("/v5/media/{media_id}"));
        let mut wait = FIRST_POLL_WAIT;
        loop {
            let call = self.platform.call(reqwest::Method::GET, &url, |b| b.bearer_auth(token)).await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let status: MediaStatus = call.json()?;
            match status.status.as_str() {
                "succeeded" => return Ok(()),
                "failed" => {
                    return Err(ProviderError::Rejected {
                        code: "media_processing_failed".into(),
                        message: format!("Pinterest could not process video {media_id}"),
                    });
                }
                _ => {}
            }
            if tokio::time::Instant::now() + wait > deadline {
                return Err(ProviderError::Retryable {
                    after: None,
                    message: format!(
                        "Pinterest was still processing video {media_id} after {} s",
                        PROCESSING_DEADLINE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL_WAIT);
        }
    }
}
