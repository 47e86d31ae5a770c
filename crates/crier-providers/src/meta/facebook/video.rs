//! One video as a Page video post, the way Meta's Video API publishing guide documents it today
//! (developers.facebook.com/docs/video-api/guides/publishing): the file goes up through the
//! Resumable Upload API (developers.facebook.com/docs/graph-api/guides/upload) — a session on
//! `POST /{app-id}/uploads`, then the bytes in chunks to `POST /upload:{session}`, each with its
//! `file_offset`, until Meta answers the file's handle (`h`) — and the handle is published with
//! `POST /{page-id}/videos` (`fbuploader_video_file_chunk`, the text as `description`). The older
//! `upload_phase` start/transfer/finish protocol on `/{page-id}/videos` is not used: the guide no
//! longer documents it and the `graph-video.facebook.com` host it used is deprecated
//! (developers.facebook.com/docs/video-api/overview).
//!
//! The Resumable Upload API takes a *user* token: the long-lived one kept with the Page token,
//! renewed (`fb_exchange_token`) when it ends within a week; once expired, the user reconnects.
//! Its `file_type` names `video/mp4` only, so MP4 is all Facebook takes here.
//!
//! Meta processes the video after it is created; `GET /{video-id}?fields=status,permalink_url`
//! (developers.facebook.com/docs/graph-api/reference/video/, `status` being a
//! developers.facebook.com/docs/graph-api/reference/video-status) is read with
//! [`crate::meta::poll`] until `video_status` is `ready`. An `error` is `Rejected` with Meta's
//! words. A video still processing after that wait is taken as published: Meta publishes it
//! when processing ends, and trying again would post it twice.

use crier_core::MediaId;
use reqwest::multipart::Form;
use serde::Deserialize;

use super::Facebook;
use super::oauth::Tokens;
use crate::meta::poll::{self, Step};
use crate::provider::{ProviderError, PublishRequest, Published};

/// The only `file_type` for a video the Resumable Upload API names.
pub const VIDEO_TYPE: &str = "video/mp4";

/// `POST /{app-id}/uploads`: the session's id, `upload:…`.
#[derive(Deserialize)]
struct Session {
    id: String,
}

/// `POST /upload:{session}`: the handle once the file is whole; the offset Meta has reached
/// (as `GET /upload:{session}` says it) otherwise.
#[derive(Deserialize)]
struct Transferred {
    #[serde(default)]
    h: Option<String>,
    #[serde(default)]
    file_offset: Option<u64>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct VideoNode {
    #[serde(default)]
    status: Option<VideoStatus>,
    /// `/{page}/videos/{id}/`, relative to `www.facebook.com`.
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Deserialize)]
struct VideoStatus {
    /// `ready`, `processing`, `error`, `expired`…
    #[serde(default)]
    video_status: Option<String>,
    #[serde(default)]
    uploading_phase: Option<Phase>,
    #[serde(default)]
    processing_phase: Option<Phase>,
    #[serde(default)]
    publishing_phase: Option<Phase>,
}

#[derive(Deserialize)]
struct Phase {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    errors: Vec<PhaseError>,
    #[serde(default)]
    error: Option<PhaseError>,
}

#[derive(Deserialize)]
struct PhaseError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

impl VideoStatus {
    /// Why Meta gave up on the video, if it did: the first error any phase names.
    fn failure(&self) -> Option<ProviderError> {
        let phases = [&self.uploading_phase, &self.processing_phase, &self.publishing_phase];
        let failed_phase =
            phases.iter().filter_map(|p| p.as_ref()).any(|p| p.status.as_deref() == Some("error"));
        let failed = matches!(self.video_status.as_deref(), Some("error" | "expired")) || failed_phase;
        if !failed {
            return None;
        }
        let named = phases
            .iter()
            .filter_map(|p| p.as_ref())
            .flat_map(|p| p.errors.iter().chain(p.error.as_ref()))
            .find(|e| !e.message.is_empty());
        Some(ProviderError::Rejected {
            code: named
                .and_then(|e| e.code)
                .map_or_else(|| "video_failed".to_owned(), |c| format!("meta_{c}")),
            message: named.map_or_else(
                || {
                    format!(
                        "Facebook could not process the video ({})",
                        self.video_status.as_deref().unwrap_or("error")
                    )
                },
                |e| e.message.clone(),
            ),
        })
    }
}

impl Facebook {
    pub(super) async fn video(
        &self,
        request: &PublishRequest<'_>,
        page: &str,
        tokens: &Tokens,
        id: MediaId,
    ) -> Result<Published, ProviderError> {
        let tokens = &self.with_fresh_user_token(request.channel, tokens.clone()).await?;
        let file = self.platform.media.load(request.channel.workspace_id, id).await?;
        if file.mime() != VIDEO_TYPE {
            return Err(ProviderError::Rejected {
                code: "invalid_media".into(),
                message: format!("Facebook takes MP4 videos here, not {}", file.mime()),
            });
        }
        let name = file
            .media
            .file_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "video.mp4".into());
        let session = self.upload_session(&tokens.user_access_token, &name, file.bytes.len()).await?;
        let handle = self.transfer(&session, &tokens.user_access_token, &file.bytes).await?;
        let video = self.create_video(page, &tokens.page_access_token, request.text, &handle).await?;
        let permalink = self.wait_ready(&video, &tokens.page_access_token).await?;
        let url = match permalink.as_deref() {
            Some(p) if p.starts_with("https://") => p.to_owned(),
            Some(p) if p.starts_with('/') => format!("https://www.facebook.com{p}"),
            _ => format!("https://www.facebook.com/{page}/videos/{video}"),
        };
        Ok(Published { provider_post_id: video, url: Some(url) })
    }

    /// `POST /{app-id}/uploads?file_name&file_length&file_type` with the user token
    /// (developers.facebook.com/docs/graph-api/guides/upload#step-1).
    async fn upload_session(
        &self,
        user_token: &str,
        name: &str,
        length: usize,
    ) -> Result<String, ProviderError> {
        let url = self.settings.graph(&format!("/{}/uploads", self.settings.app_id));
        let length = length.to_string();
        let query = [("file_name", name), ("file_length", length.as_str()), ("file_type", VIDEO_TYPE)];
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(user_token).query(&query))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let session = call.json::<Session>()?.id;
        // The id becomes a path: only Meta's `upload:` ids, nothing that could leave it.
        let well_formed = session.strip_prefix("upload:").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=.:~%".contains(&b))
        });
        if !well_formed {
            return Err(ProviderError::Retryable {
                after: None,
                message: "Meta answered an upload session id Crier cannot use".into(),
            });
        }
        Ok(session)
    }

    /// `POST /upload:{session}` per chunk, the access token as `Authorization: OAuth …` and the
    /// chunk's place as the `file_offset` header, the bytes as the body
    /// (developers.facebook.com/docs/graph-api/guides/upload#step-2), until Meta answers the
    /// handle. Meta's own offset, when it answers one, is where the next chunk starts.
    async fn transfer(&self, session: &str, user_token: &str, bytes: &[u8]) -> Result<String, ProviderError> {
        let url = self.settings.graph(&format!("/{session}"));
        let total = bytes.len();
        let mut offset = 0;
        loop {
            let end = (offset + self.video_chunk).min(total);
            let chunk = bytes[offset..end].to_vec();
            let call = self
                .platform
                .call(reqwest::Method::POST, &url, |b| {
                    b.header(reqwest::header::AUTHORIZATION, format!("OAuth {user_token}"))
                        .header("file_offset", offset.to_string())
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .body(chunk)
                })
                .await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let reply: Transferred = call.json()?;
            if let Some(handle) = reply.h.filter(|h| !h.is_empty()) {
                return Ok(handle);
            }
            let next = reply.file_offset.and_then(|o| usize::try_from(o).ok()).unwrap_or(end);
            if next <= offset || next >= total {
                return Err(ProviderError::Retryable {
                    after: None,
                    message: format!(
                        "Meta's upload of the video stopped at byte {next} of {total} without a file handle"
                    ),
                });
            }
            offset = next;
        }
    }

    /// `POST /{page-id}/videos` with the handle as `fbuploader_video_file_chunk` and the text as
    /// `description` (developers.facebook.com/docs/video-api/guides/publishing#publish-a-video;
    /// developers.facebook.com/docs/graph-api/reference/page/videos/#Creating).
    async fn create_video(
        &self,
        page: &str,
        page_token: &str,
        text: &str,
        handle: &str,
    ) -> Result<String, ProviderError> {
        let mut form = Form::new().text("fbuploader_video_file_chunk", handle.to_owned());
        if !text.is_empty() {
            form = form.text("description", text.to_owned());
        }
        let url = self.settings.graph(&format!("/{page}/videos"));
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(page_token).multipart(form))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let id = call.json::<Created>()?.id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::Retryable {
                after: None,
                message: "Meta answered a video id Crier cannot use".into(),
            });
        }
        Ok(id)
    }

    /// Reads the video's `status` until it is `ready` (its permalink then), or has failed.
    async fn wait_ready(&self, video: &str, page_token: &str) -> Result<Option<String>, ProviderError> {
        let url = self.settings.graph(&format!("/{video}"));
        let (url, fields) = (&url, [("fields", "status,permalink_url")]);
        let ready = poll::until_done(|| async move {
            let call = self
                .platform
                .call(reqwest::Method::GET, url, |b| b.bearer_auth(page_token).query(&fields))
                .await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let node: VideoNode = call.json()?;
            let Some(status) = node.status else { return Ok(Step::Pending) };
            if let Some(failed) = status.failure() {
                return Err(failed);
            }
            Ok(match status.video_status.as_deref() {
                Some("ready") => Step::Done(node.permalink_url),
                _ => Step::Pending,
            })
        })
        .await?;
        match ready {
            Some(permalink) => Ok(permalink),
            None => {
                tracing::info!(video_id = %video, "Facebook is still processing the video; it goes up when done");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(value: serde_json::Value) -> VideoStatus {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_failed_phase_is_a_rejection_with_metas_words() {
        assert!(status(serde_json::json!({"video_status": "processing"})).failure().is_none());
        let failed = status(serde_json::json!({
            "video_status": "error",
            "uploading_phase": {"status": "complete"},
            "processing_phase": {"status": "error", "errors": [{"code": 6000, "message": "Bad codec"}]},
        }));
        assert_eq!(
            failed.failure(),
            Some(ProviderError::Rejected { code: "meta_6000".into(), message: "Bad codec".into() })
        );
        let quiet = status(serde_json::json!({"video_status": "expired"}));
        assert!(
            matches!(quiet.failure(), Some(ProviderError::Rejected { code, .. }) if code == "video_failed")
        );
    }
}
