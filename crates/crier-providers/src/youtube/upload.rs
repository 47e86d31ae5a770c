//! `videos.insert` with the resumable upload protocol
//! (developers.google.com/youtube/v3/guides/using_resumable_upload_protocol): a POST with the
//! video's metadata opens a session (its URI in `Location`), then PUTs send the bytes in chunks
//! with `Content-Range`. YouTube answers `308 Resume Incomplete` with the `Range` it holds until
//! the last chunk, which answers the video resource. After a 5xx or a lost connection the
//! session is asked where it stands (`Content-Range: bytes */total`) and the upload goes on from
//! there, a few times at most.

use std::time::Duration;

use serde::Deserialize;

use super::YouTube;
use crate::MediaFile;
use crate::platform::PlatformCall;
use crate::provider::ProviderError;

/// Interruptions (5xx, lost connections) one upload survives.
const MAX_INTERRUPTIONS: u32 = 4;
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
struct Inserted {
    id: String,
}

/// What one PUT to the session came to.
enum Step {
    /// YouTube holds the bytes up to here (exclusive).
    Resume(usize),
    Done(String),
    /// The session is gone (sessions last about a week): a new attempt opens another.
    Expired,
}

fn expired() -> ProviderError {
    ProviderError::Retryable { after: None, message: "the YouTube upload session expired".into() }
}

/// `Range: bytes=0-524287` → 524288; none: nothing held yet.
fn held(call: &PlatformCall) -> usize {
    call.reply
        .headers
        .get(reqwest::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes=0-"))
        .and_then(|last| last.parse::<usize>().ok())
        .map_or(0, |last| last + 1)
}

impl YouTube {
    /// Uploads the file with its metadata; the new video's id.
    pub(super) async fn upload(
        &self,
        file: MediaFile,
        metadata: &serde_json::Value,
        token: &str,
    ) -> Result<String, ProviderError> {
        let total = file.bytes.len();
        if total == 0 {
            return Err(ProviderError::Rejected {
                code: "media_empty".into(),
                message: "the video file is empty".into(),
            });
        }
        let session = self.open_session(metadata, total, file.mime(), token).await?;
        let bytes = file.bytes;
        let chunk = self.settings.chunk();
        let mut offset = 0;
        let mut interruptions = 0;
        let mut wait = FIRST_RETRY_WAIT;
        loop {
            let step = if offset < total {
                let end = (offset + chunk).min(total);
                let range = format!("bytes {offset}-{}/{total}", end - 1);
                let body = bytes[offset..end].to_vec();
                self.put(&session, token, range, body).await
            } else {
                // Everything was sent but the answer was lost: ask.
                self.put(&session, token, format!("bytes */{total}"), Vec::new()).await
            };
            match step {
                Ok(Step::Done(id)) => return Ok(id),
                Ok(Step::Resume(at)) => offset = at.min(total),
                Ok(Step::Expired) => return Err(expired()),
                Err(ProviderError::Retryable { message, .. }) => {
                    interruptions += 1;
                    if interruptions > MAX_INTERRUPTIONS {
                        return Err(ProviderError::Retryable {
                            after: None,
                            message: format!(
                                "the YouTube upload was interrupted {interruptions} times: {message}"
                            ),
                        });
                    }
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    // Where does the session stand?
                    match self.put(&session, token, format!("bytes */{total}"), Vec::new()).await {
                        Ok(Step::Done(id)) => return Ok(id),
                        Ok(Step::Resume(at)) => offset = at.min(total),
                        Ok(Step::Expired) => return Err(expired()),
                        Err(ProviderError::Retryable { .. }) => {}
                        Err(other) => return Err(other),
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Step 1: the metadata, answered with the session URI.
    async fn open_session(
        &self,
        metadata: &serde_json::Value,
        total: usize,
        mime: &str,
        token: &str,
    ) -> Result<String, ProviderError> {
        // developers.google.com/youtube/v3/guides/using_resumable_upload_protocol#Start_Resumable_Session
        let url = self.settings.api("/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                b.bearer_auth(token)
                    .header("X-Upload-Content-Length", total.to_string())
                    .header("X-Upload-Content-Type", mime)
                    .json(metadata)
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        call.reply
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::Retryable {
                after: None,
                message: "YouTube opened no upload session (no Location)".into(),
            })
    }

    /// Steps 2 to 4: one chunk (or, with an empty body, the status question).
    async fn put(
        &self,
        session: &str,
        token: &str,
        content_range: String,
        body: Vec<u8>,
    ) -> Result<Step, ProviderError> {
        // developers.google.com/youtube/v3/guides/using_resumable_upload_protocol#Upload_Chunks
        let call = self
            .platform
            .call(reqwest::Method::PUT, session, |b| {
                b.bearer_auth(token).header(reqwest::header::CONTENT_RANGE, content_range).body(body)
            })
            .await?;
        match call.reply.status {
            200 | 201 => Ok(Step::Done(call.json::<Inserted>()?.id)),
            308 => Ok(Step::Resume(held(&call))),
            404 | 410 => Ok(Step::Expired),
            _ => Err(self.failure(&call)),
        }
    }
}
