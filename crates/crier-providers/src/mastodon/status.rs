//! Publishing: media uploads (with Mastodon's asynchronous processing), then the statuses of the
//! thread, each sent with an `Idempotency-Key` that Mastodon remembers for an hour, so a publish
//! repeated after a lost answer returns the status already made instead of posting it twice.

use std::time::Duration;

use crier_core::{MediaId, TargetId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::Tokens;
use super::{Mastodon, MastodonOptions};
use crate::provider::{ProviderError, PublishRequest, Published};
use crate::{MediaFile, PlatformCall};

/// How long an upload may stay in processing before the publish is given up for a later retry.
const PROCESSING_DEADLINE: Duration = Duration::from_secs(60);
/// The first wait before asking whether an upload is processed, doubled after each answer up to
/// `MAX_POLL_WAIT`: small images are done at once, videos take seconds to minutes, and every poll
/// counts against the account's rate limit (300 calls in 5 minutes).
const FIRST_POLL_WAIT: Duration = Duration::from_millis(250);
const MAX_POLL_WAIT: Duration = Duration::from_secs(5);

/// The key Mastodon deduplicates the `index`-th status of a target's thread by (per account,
/// for an hour).
pub(super) fn idempotency_key(target: TargetId, index: usize) -> String {
    format!("crier-{target}-{index}")
}

#[derive(Deserialize)]
struct Status {
    id: String,
    /// The status's page; `uri` (its ActivityPub id) when an instance gives none.
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize)]
struct Attachment {
    id: String,
    /// `null` while the instance is still processing the file.
    #[serde(default)]
    url: Option<String>,
}

/// An extension matching the content type: Mastodon's upload checks reject a file whose name
/// claims another type than its bytes, so the uploader's own file name is not sent.
fn file_name(mime: &str) -> String {
    let extension = match mime {
        "image/jpeg" => "jpg",
        "video/quicktime" => "mov",
        other => other.rsplit('/').next().unwrap_or("bin"),
    };
    format!("media.{extension}")
}

impl Mastodon {
    /// Uploads the media, then posts the statuses in order, each a reply to the one before.
    pub(super) async fn publish_thread(
        &self,
        request: &PublishRequest<'_>,
        instance: &str,
        tokens: &Tokens,
        options: &MastodonOptions,
    ) -> Result<Published, ProviderError> {
        let mut media_ids = Vec::with_capacity(request.media.len());
        for id in request.media {
            media_ids.push(self.upload(request, instance, tokens, *id).await?);
        }
        let texts = std::iter::once(request.text).chain(options.thread.iter().map(String::as_str));
        let mut root: Option<Status> = None;
        let mut parent: Option<String> = None;
        for (index, text) in texts.enumerate() {
            let mut body = json!({"status": text});
            if index == 0 && !media_ids.is_empty() {
                body["media_ids"] = json!(media_ids);
            }
            if let Some(parent) = &parent {
                body["in_reply_to_id"] = json!(parent);
            }
            // A thread is read as one piece: its replies share the post's audience, content
            // warning and language.
            if let Some(visibility) = options.visibility {
                body["visibility"] = json!(visibility);
            }
            if let Some(spoiler_text) = options.spoiler_text.as_deref().filter(|s| !s.is_empty()) {
                body["spoiler_text"] = json!(spoiler_text);
            }
            if let Some(sensitive) = options.sensitive {
                body["sensitive"] = json!(sensitive);
            }
            if let Some(language) = &options.language {
                body["language"] = json!(language);
            }
            let status = self.post_status(request, instance, tokens, index, &body).await?;
            parent = Some(status.id.clone());
            if root.is_none() {
                root = Some(status);
            }
        }
        let root = root.ok_or_else(|| ProviderError::Rejected {
            code: "empty_post".into(),
            message: "nothing to publish".into(),
        })?;
        Ok(Published { url: root.url.or(root.uri), provider_post_id: root.id })
    }

    async fn post_status(
        &self,
        request: &PublishRequest<'_>,
        instance: &str,
        tokens: &Tokens,
        index: usize,
        body: &Value,
    ) -> Result<Status, ProviderError> {
        let url = format!("{instance}/api/v1/statuses");
        let key = idempotency_key(request.target_id, index);
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                b.bearer_auth(&tokens.access_token).header("Idempotency-Key", key).json(body)
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        call.json()
    }

    /// `POST /api/v2/media` with the alt text, then waits until the instance has processed it:
    /// a status cannot take an attachment still in processing.
    async fn upload(
        &self,
        request: &PublishRequest<'_>,
        instance: &str,
        tokens: &Tokens,
        id: MediaId,
    ) -> Result<String, ProviderError> {
        let MediaFile { media, bytes } = self.platform.media.load(request.channel.workspace_id, id).await?;
        let mime = media.facts.as_ref().map_or("application/octet-stream", |f| f.mime.as_str());
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name(mime)).mime_str(mime).map_err(
            |err| ProviderError::Rejected {
                code: "media_unreadable".into(),
                message: format!("media {id} has a content type Crier cannot send ({mime}): {err}"),
            },
        )?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(alt) = media.alt_text.as_deref().filter(|a| !a.trim().is_empty()) {
            form = form.text("description", alt.to_owned());
        }
        let url = format!("{instance}/api/v2/media");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(&tokens.access_token).multipart(form))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let attachment: Attachment = call.json()?;
        if call.reply.status == 202 || attachment.url.is_none() {
            self.wait_processed(instance, tokens, &attachment.id).await?;
        }
        Ok(attachment.id)
    }

    /// Polls `GET /api/v1/media/:id` (206 while processing, 200 once done) within the deadline.
    async fn wait_processed(&self, instance: &str, tokens: &Tokens, id: &str) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + PROCESSING_DEADLINE;
        let url = format!("{instance}/api/v1/media/{id}");
        let mut wait = FIRST_POLL_WAIT;
        loop {
            if tokio::time::Instant::now() + wait > deadline {
                return Err(ProviderError::Retryable {
                    after: None,
                    message: format!(
                        "Mastodon was still processing media {id} after {} s",
                        PROCESSING_DEADLINE.as_secs()
                    ),
                });
            }
            tokio::time::sleep(wait).await;
            let call = self
                .platform
                .call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token))
                .await?;
            match call.reply.status {
                200 if call.json::<Attachment>()?.url.is_some() => return Ok(()),
                200 | 206 => {}
                _ => return Err(self.failure(&call)),
            }
            wait = (wait * 2).min(MAX_POLL_WAIT);
        }
    }

    /// A failed call, as Mastodon means it.
    pub(super) fn failure(&self, call: &PlatformCall) -> ProviderError {
        let status = call.reply.status;
        let message = call.error_message();
        match status {
            401 | 408 | 429 | 500..=599 => call.failure(self.platform.clock.now()),
            // A disabled or suspended login, or a token without the scopes Crier needs: no post
            // will go through until the account's owner acts and reconnects.
            403 => ProviderError::AuthExpired { message },
            // An attachment that is processed by now, but was not when the status was sent.
            422 if message.contains("not finished processing") => {
                ProviderError::Retryable { after: None, message }
            }
            // Mastodon's `error` is a sentence, not a name: the code is the status.
            _ => ProviderError::Rejected { code: format!("platform_{status}"), message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_target_and_place_in_the_thread() {
        let target = TargetId::generate();
        assert_eq!(idempotency_key(target, 0), idempotency_key(target, 0));
        assert_ne!(idempotency_key(target, 0), idempotency_key(target, 1));
        assert_ne!(idempotency_key(target, 0), idempotency_key(TargetId::generate(), 0));
    }

    #[test]
    fn file_names_match_their_type() {
        assert_eq!(file_name("image/jpeg"), "media.jpg");
        assert_eq!(file_name("image/png"), "media.png");
        assert_eq!(file_name("video/quicktime"), "media.mov");
        assert_eq!(file_name("video/mp4"), "media.mp4");
    }
}
