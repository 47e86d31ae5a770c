//! Sending a post: the text alone (`sendMessage`), or its media with the text as caption
//! (`sendPhoto`/`sendVideo` for one, `sendMediaGroup` for an album), then the thread's messages
//! as replies (`reply_parameters`). A text too long for a caption (over 1,024) follows the media
//! as its own message, a reply to them.

use crier_core::MediaKind;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{Body, result};
use super::{MAX_ALBUM, MAX_CAPTION, Telegram, TelegramConfig, TelegramOptions, utf16_len};
use crate::MediaFile;
use crate::provider::{ProviderError, PublishRequest, Published};

/// `Message` (#message): only its id matters here.
#[derive(Deserialize)]
struct Message {
    message_id: i64,
}

/// What every send of one post shares (#sendmessage and the other send methods).
struct Common<'a> {
    chat_id: i64,
    options: &'a TelegramOptions,
}

impl Common<'_> {
    fn json(&self, reply_to: Option<i64>) -> Value {
        let mut body = json!({"chat_id": self.chat_id});
        if self.options.disable_notification {
            body["disable_notification"] = json!(true);
        }
        if self.options.protect_content {
            body["protect_content"] = json!(true);
        }
        if let Some(id) = reply_to {
            // #replyparameters
            body["reply_parameters"] = json!({"message_id": id});
        }
        body
    }

    /// The same fields as multipart text parts (JSON values as their JSON text).
    fn form(&self, reply_to: Option<i64>) -> Form {
        let mut form = Form::new();
        if let Value::Object(fields) = self.json(reply_to) {
            for (key, value) in fields {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                form = form.text(key, text);
            }
        }
        form
    }
}

fn file_name(mime: &str) -> String {
    let extension = match mime {
        "image/jpeg" => "jpg",
        other => other.rsplit('/').next().unwrap_or("bin"),
    };
    format!("media.{extension}")
}

fn is_video(file: &MediaFile) -> bool {
    file.media.facts.as_ref().is_some_and(|f| f.kind == MediaKind::Video)
}

fn part(file: &MediaFile) -> Result<Part, ProviderError> {
    Part::bytes(file.bytes.clone())
        .file_name(file_name(file.mime()))
        .mime_str(file.mime())
        .map_err(|err| ProviderError::Rejected { code: "invalid_media".into(), message: err.to_string() })
}

/// The message's public link, where there is one: `t.me/{username}/{id}` for public chats,
/// `t.me/c/{id}/{message}` for private supergroups and channels (members only).
fn link(config: &TelegramConfig, message_id: i64) -> Option<String> {
    if let Some(username) = &config.username {
        return Some(format!("https://t.me/{username}/{message_id}"));
    }
    let internal = config.chat_id.to_string().strip_prefix("-100")?.to_owned();
    Some(format!("https://t.me/c/{internal}/{message_id}"))
}

impl Telegram {
    pub(super) async fn send_post(
        &self,
        request: &PublishRequest<'_>,
        config: &TelegramConfig,
        token: &str,
        options: &TelegramOptions,
    ) -> Result<Published, ProviderError> {
        let common = Common { chat_id: config.chat_id, options };
        let mut files = Vec::with_capacity(request.media.len());
        for id in request.media {
            files.push(self.platform.media.load(request.channel.workspace_id, *id).await?);
        }
        let text = request.text;
        let as_caption = !text.trim().is_empty() && utf16_len(text) <= MAX_CAPTION;
        let mut first: Option<i64> = None;
        let mut last: Option<i64> = None;
        if files.is_empty() {
            last = Some(self.send_text(token, &common, text, None).await?);
            first = last;
        } else {
            for (i, chunk) in files.chunks(MAX_ALBUM).enumerate() {
                let caption = (i == 0 && as_caption).then_some(text);
                let ids = self.send_media(token, &common, chunk, caption).await?;
                first = first.or(ids.first().copied());
                last = ids.last().copied().or(last);
            }
            if !as_caption && !text.trim().is_empty() {
                last = Some(self.send_text(token, &common, text, first).await?);
            }
        }
        for reply in &options.thread {
            last = Some(self.send_text(token, &common, reply, last).await?);
        }
        let id = first.ok_or_else(|| ProviderError::Retryable {
            after: None,
            message: "Telegram answered without a message".into(),
        })?;
        Ok(Published { provider_post_id: id.to_string(), url: link(config, id) })
    }

    /// Unwraps a call's answer into `T`, or classifies its failure.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        method: &str,
        body: Body,
    ) -> Result<T, ProviderError> {
        match self.call(token, method, body).await? {
            Ok(value) => result(value),
            Err(failure) => Err(failure.into_error(self.platform.clock.now())),
        }
    }

    /// core.telegram.org/bots/api#sendmessage (plain text: no `parse_mode`).
    async fn send_text(
        &self,
        token: &str,
        common: &Common<'_>,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<i64, ProviderError> {
        let mut body = common.json(reply_to);
        body["text"] = json!(text);
        let message: Message = self.send(token, "sendMessage", Body::Json(body)).await?;
        Ok(message.message_id)
    }

    /// One file: core.telegram.org/bots/api#sendphoto or #sendvideo; several:
    /// core.telegram.org/bots/api#sendmediagroup, each file a multipart part named in its
    /// `InputMedia*` as `attach://{name}` (#inputmediaphoto, #inputmediavideo).
    async fn send_media(
        &self,
        token: &str,
        common: &Common<'_>,
        files: &[MediaFile],
        caption: Option<&str>,
    ) -> Result<Vec<i64>, ProviderError> {
        let mut form = common.form(None);
        if let [file] = files {
            let (method, field) =
                if is_video(file) { ("sendVideo", "video") } else { ("sendPhoto", "photo") };
            form = form.part(field, part(file)?);
            if let Some(caption) = caption {
                form = form.text("caption", caption.to_owned());
            }
            if is_video(file) {
                form = form.text("supports_streaming", "true");
            }
            let message: Message = self.send(token, method, Body::Multipart(form)).await?;
            return Ok(vec![message.message_id]);
        }
        let mut media = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            let name = format!("file{i}");
            let mut item = json!({
                "type": if is_video(file) { "video" } else { "photo" },
                "media": format!("attach://{name}"),
            });
            if i == 0
                && let Some(caption) = caption
            {
                item["caption"] = json!(caption);
            }
            media.push(item);
            form = form.part(name, part(file)?);
        }
        form = form.text("media", Value::Array(media).to_string());
        let messages: Vec<Message> = self.send(token, "sendMediaGroup", Body::Multipart(form)).await?;
        Ok(messages.into_iter().map(|m| m.message_id).collect())
    }
}
