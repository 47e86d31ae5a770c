//! A video post's video, through the Videos API
//! (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api):
//! `initializeUpload` with the file's size, which cuts the file into parts (4 MiB each) and names
//! each part's byte range and upload URL; a `PUT` of each part, whose `etag` is kept;
//! `finalizeUpload` with those etags in order; then `GET /rest/videos/{urn}` until the video is
//! `AVAILABLE`. LinkedIn processes the video after the upload, and the post is only created once
//! it has: a video LinkedIn cannot process (`PROCESSING_FAILED`) then fails the attempt as
//! rejected, rather than leaving a published post whose video never shows.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::LinkedIn;
use super::oauth::Tokens;
use crate::MediaFile;
use crate::provider::ProviderError;

/// The smallest video LinkedIn takes ("Video File Size Specifications": 75 KB to 500 MB).
pub const MIN_VIDEO_BYTES: u64 = 75 * 1000;
/// The largest.
pub const MAX_VIDEO_BYTES: u64 = 500 * 1000 * 1000;
/// The shortest and longest video LinkedIn takes: 3 seconds to 30 minutes.
pub const MIN_VIDEO_MS: u64 = 3_000;
pub const MAX_VIDEO_MS: u64 = 30 * 60 * 1000;
/// How long a video may stay in processing before the publish is given up for a later retry
/// (which uploads it again).
const PROCESSING_DEADLINE: Duration = Duration::from_secs(120);
/// A short video is often processed by the first poll; the wait doubles up to `MAX_POLL_WAIT`.
const FIRST_POLL_WAIT: Duration = Duration::from_millis(250);
const MAX_POLL_WAIT: Duration = Duration::from_secs(5);

/// What the Videos API's `initializeUpload` answers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VideoUpload {
    video: String,
    upload_instructions: Vec<Instruction>,
    /// Empty for a single-part upload; given back to `finalizeUpload` as it came.
    #[serde(default)]
    upload_token: String,
}

/// One part: bytes `first_byte..=last_byte` of the file go to `upload_url`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instruction {
    upload_url: String,
    first_byte: u64,
    last_byte: u64,
}

/// `GET /rest/videos/{urn}`, the part Crier reads.
#[derive(Deserialize)]
struct VideoState {
    status: String,
}

/// The parts' byte ranges, checked to follow one another and cover the file exactly: LinkedIn
/// names them, and a gap would upload a different video.
fn part_ranges(instructions: &[Instruction], size: u64) -> Option<Vec<std::ops::Range<usize>>> {
    let mut next = 0u64;
    let mut ranges = Vec::with_capacity(instructions.len());
    for part in instructions {
        if part.first_byte != next || part.last_byte < part.first_byte || part.last_byte >= size {
            return None;
        }
        ranges.push(usize::try_from(part.first_byte).ok()?..usize::try_from(part.last_byte + 1).ok()?);
        next = part.last_byte + 1;
    }
    (next == size && !ranges.is_empty()).then_some(ranges)
}

/// An etag as sent back to `finalizeUpload`: without the quotes HTTP may put around it.
fn part_id(etag: &str) -> &str {
    let etag = etag.trim();
    etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(etag)
}

impl LinkedIn {
    /// The post's `content` for one video: `{"media": {"id": video urn, "title": …}}`, the title
    /// being the video's description (alt text) when it has one, the one human-written text Crier
    /// holds about it.
    pub(super) async fn video_content(
        &self,
        tokens: &Tokens,
        file: MediaFile,
    ) -> Result<Value, ProviderError> {
        let title =
            file.media.alt_text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        let urn = self.upload_video(tokens, file).await?;
        let mut media = json!({"id": urn});
        if let Some(title) = title {
            media["title"] = json!(title);
        }
        Ok(json!({"media": media}))
    }

    /// Uploads the video in its parts, finalizes it and waits until LinkedIn has processed it.
    async fn upload_video(&self, tokens: &Tokens, file: MediaFile) -> Result<String, ProviderError> {
        let size = file.bytes.len() as u64;
        if size < MIN_VIDEO_BYTES {
            // Crier's media rules have no smallest size, so this is the first place to say it.
            return Err(ProviderError::Rejected {
                code: "video_too_small".into(),
                message: format!(
                    "the video is {size} bytes; LinkedIn takes videos of {} KB to {} MB",
                    MIN_VIDEO_BYTES / 1000,
                    MAX_VIDEO_BYTES / 1_000_000
                ),
            });
        }
        let token = &tokens.access_token;
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#initialize-video-upload
        let request = json!({
            "owner": tokens.author,
            "fileSizeBytes": size,
            "uploadCaptions": false,
            "uploadThumbnail": false,
        });
        let upload: VideoUpload = self.initialize_upload("videos", request, token).await?;
        let ranges =
            part_ranges(&upload.upload_instructions, size).ok_or_else(|| ProviderError::Retryable {
                after: None,
                message: format!(
                    "LinkedIn's upload parts for {} do not cover the {size}-byte video",
                    upload.video
                ),
            })?;
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#upload-the-video
        let mut part_ids = Vec::with_capacity(ranges.len());
        for (part, range) in upload.upload_instructions.iter().zip(ranges) {
            let bytes = file.bytes[range].to_vec();
            let call = self.put_upload(&part.upload_url, token, "application/octet-stream", bytes).await?;
            let etag = call.reply.headers.get(reqwest::header::ETAG).and_then(|v| v.to_str().ok());
            let id =
                etag.map(part_id).filter(|id| !id.is_empty()).ok_or_else(|| ProviderError::Retryable {
                    after: None,
                    message: format!("LinkedIn took a part of {} without an etag", upload.video),
                })?;
            part_ids.push(id.to_owned());
        }
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#finalize-video-upload
        let url = self.settings.api("/rest/videos?action=finalizeUpload");
        let body = json!({"finalizeUploadRequest": {
            "video": upload.video,
            "uploadToken": upload.upload_token,
            "uploadedPartIds": part_ids,
        }});
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| self.rest(b, token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        self.wait_available(&upload.video, token).await?;
        Ok(upload.video)
    }

    /// Polls `GET /rest/videos/{encoded urn}`
    /// (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api#get-a-video)
    /// until `AVAILABLE`, with a doubling wait and a deadline.
    async fn wait_available(&self, urn: &str, token: &str) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
        let url = self.settings.api(&format!("/rest/videos/{}", urn.replace(':', "%3A")));
        let mut wait = FIRST_POLL_WAIT;
        loop {
            let call = self.platform.call(reqwest::Method::GET, &url, |b| self.rest(b, token)).await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let state: VideoState = call.json()?;
            match state.status.as_str() {
                "AVAILABLE" => return Ok(()),
                "PROCESSING_FAILED" => {
                    return Err(ProviderError::Rejected {
                        code: "video_processing_failed".into(),
                        message: format!(
                            "LinkedIn could not process the video ({urn}: PROCESSING_FAILED); it takes MP4 \
                             videos of 3 seconds to 30 minutes and 75 KB to 500 MB"
                        ),
                    });
                }
                // WAITING_UPLOAD (not yet seen as finalized) or PROCESSING.
                _ => {}
            }
            if tokio::time::Instant::now() + wait > deadline {
                return Err(ProviderError::Retryable {
                    after: None,
                    message: format!(
                        "LinkedIn was still processing the video {urn} after {} s",
                        PROCESSING_DEADLINE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL_WAIT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(first_byte: u64, last_byte: u64) -> Instruction {
        Instruction { upload_url: String::new(), first_byte, last_byte }
    }

    #[test]
    fn parts_must_cover_the_file_exactly() {
        assert_eq!(part_ranges(&[part(0, 9), part(10, 14)], 15), Some(vec![0..10, 10..15]));
        assert_eq!(part_ranges(&[part(0, 9), part(11, 14)], 15), None, "a gap");
        assert_eq!(part_ranges(&[part(0, 9)], 15), None, "short");
        assert_eq!(part_ranges(&[part(0, 15)], 15), None, "past the end");
        assert_eq!(part_ranges(&[], 0), None);
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(part_id("\"/ambry-video/signedId/AQ1\""), "/ambry-video/signedId/AQ1");
        assert_eq!(part_id("/ambry-video/signedId/AQ1"), "/ambry-video/signedId/AQ1");
    }
}
