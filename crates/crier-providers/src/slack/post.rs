//! Publishing: `chat.postMessage`, each reply in the message's thread; or, with media, each file
//! uploaded (`files.getUploadURLExternal`, then the bytes to the URL it names) and all of them
//! shared at once with the text by `files.completeUploadExternal`.

use std::time::Duration;

use crier_core::MediaId;
use serde::Deserialize;
use serde_json::json;

use super::{MAX_ALT_TEXT, Slack, SlackOptions};
use crate::MediaFile;
use crate::provider::{ProviderError, PublishRequest, Published};

/// How often `files.info` is asked for the shared message (Slack shares files asynchronously).
const SHARE_CHECKS: [Duration; 4] =
    [Duration::ZERO, Duration::from_millis(250), Duration::from_millis(750), Duration::from_millis(1500)];

#[derive(Deserialize)]
struct UploadUrl {
    upload_url: String,
    file_id: String,
}

/// A file's name for Slack: the uploader's, else one made from the type.
fn file_name(file: &MediaFile, index: usize) -> String {
    if let Some(name) = file.media.file_name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.to_owned();
    }
    let extension = file.mime().rsplit('/').next().filter(|e| e.chars().all(char::is_alphanumeric));
    format!("media-{}.{}", index + 1, extension.unwrap_or("bin"))
}

impl Slack {
    pub(super) async fn post(
        &self,
        request: &PublishRequest<'_>,
        channel: &str,
        token: &str,
        options: &SlackOptions,
    ) -> Result<Published, ProviderError> {
        if !request.media.is_empty() {
            return self.share_files(request, channel, token).await;
        }
        let mut body = json!({"channel": channel, "text": request.text});
        if let Some(unfurl) = options.unfurl_links {
            body["unfurl_links"] = json!(unfurl);
        }
        // docs.slack.dev/reference/methods/chat.postMessage
        let posted = self.api("chat.postMessage", token, |b| b.json(&body)).await?;
        let ts = posted["ts"].as_str().map(str::to_owned).ok_or_else(|| ProviderError::Retryable {
            after: None,
            message: "Slack accepted the message without its ts".into(),
        })?;
        for reply in &options.thread {
            let body = json!({"channel": channel, "text": reply, "thread_ts": ts});
            self.api("chat.postMessage", token, |b| b.json(&body)).await?;
        }
        let url = self.permalink(channel, &ts, token).await;
        Ok(Published { provider_post_id: ts, url })
    }

    /// `chat.getPermalink` (docs.slack.dev/reference/methods/chat.getPermalink); the message is
    /// out whatever this answers, so a failure only leaves the URL out.
    async fn permalink(&self, channel: &str, ts: &str, token: &str) -> Option<String> {
        let form = [("channel", channel), ("message_ts", ts)];
        let answer = self.api("chat.getPermalink", token, |b| b.form(&form)).await.ok()?;
        answer["permalink"].as_str().map(str::to_owned)
    }

    async fn share_files(
        &self,
        request: &PublishRequest<'_>,
        channel: &str,
        token: &str,
    ) -> Result<Published, ProviderError> {
        let mut files = Vec::with_capacity(request.media.len());
        for (index, id) in request.media.iter().enumerate() {
            files.push(self.upload(request, token, *id, index).await?);
        }
        let listed: Vec<_> = files.iter().map(|(id, title)| json!({"id": id, "title": title})).collect();
        let mut body = json!({"files": listed, "channel_id": channel});
        if !request.text.trim().is_empty() {
            body["initial_comment"] = json!(request.text);
        }
        // docs.slack.dev/reference/methods/files.completeUploadExternal
        self.api("files.completeUploadExternal", token, |b| b.json(&body)).await?;
        let first = files.first().map(|(id, _)| id.clone()).unwrap_or_default();
        match self.shared_ts(channel, &first, token).await {
            Some(ts) => {
                let url = self.permalink(channel, &ts, token).await;
                Ok(Published { provider_post_id: ts, url })
            }
            // Shared, but Slack has not said in which message yet: the file names the post.
            None => Ok(Published { provider_post_id: first, url: None }),
        }
    }

    /// One file: an upload URL and id, then the bytes to that URL.
    async fn upload(
        &self,
        request: &PublishRequest<'_>,
        token: &str,
        id: MediaId,
        index: usize,
    ) -> Result<(String, String), ProviderError> {
        let file = self.platform.media.load(request.channel.workspace_id, id).await?;
        let name = file_name(&file, index);
        let length = file.bytes.len().to_string();
        let alt: Option<String> =
            file.media.alt_text.as_deref().map(|a| a.chars().take(MAX_ALT_TEXT).collect());
        let mut form = vec![("filename", name.as_str()), ("length", length.as_str())];
        if let Some(alt) = alt.as_deref().filter(|a| !a.is_empty()) {
            form.push(("alt_txt", alt));
        }
        // docs.slack.dev/reference/methods/files.getUploadURLExternal
        let answer = self.api("files.getUploadURLExternal", token, |b| b.form(&form)).await?;
        let target: UploadUrl = serde_json::from_value(answer).map_err(|err| ProviderError::Retryable {
            after: None,
            message: format!("Slack's upload URL answer is unreadable: {err}"),
        })?;
        // The bytes, raw, to the URL Slack named (the same page: "files can be sent as raw bytes").
        let mime = file.mime().to_owned();
        let call = self
            .platform
            .call(reqwest::Method::POST, &target.upload_url, |b| {
                b.header(reqwest::header::CONTENT_TYPE, mime).body(file.bytes)
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok((target.file_id, name))
    }

    /// The `ts` of the message a file was shared in, from `files.info`'s `shares`
    /// (docs.slack.dev/reference/methods/files.info), asked a few times while Slack shares it.
    async fn shared_ts(&self, channel: &str, file_id: &str, token: &str) -> Option<String> {
        let form = [("file", file_id)];
        for wait in SHARE_CHECKS {
            tokio::time::sleep(wait).await;
            let Ok(answer) = self.api("files.info", token, |b| b.form(&form)).await else {
                return None;
            };
            let shares = &answer["file"]["shares"];
            let ts = ["public", "private"]
                .iter()
                .find_map(|kind| shares[*kind][channel][0]["ts"].as_str().map(str::to_owned));
            if ts.is_some() {
                return ts;
            }
        }
        None
    }
}
