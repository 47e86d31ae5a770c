//! One post as one message: multipart/mixed holding the text (with its HTML alternative) and each
//! media as an attachment, to every recipient at once.

use std::time::SystemTime;

use crier_core::TargetId;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};

use super::config::{EmailConfig, mailbox};
use super::html;
use super::options::{self, EmailOptions};
use crate::{MediaFile, ProviderError};

/// The Message-ID of a target's mail: the same on every attempt, so that a mail sent twice
/// (a crash after the relay took it) is recognisably one, for people and for their filters.
pub(super) fn message_id(target_id: TargetId) -> String {
    format!("<{target_id}@crier>")
}

pub(super) struct Outgoing<'a> {
    pub config: &'a EmailConfig,
    pub options: &'a EmailOptions,
    pub text: &'a str,
    pub media: &'a [MediaFile],
    pub target_id: TargetId,
    pub date: SystemTime,
}

fn invalid(message: String) -> ProviderError {
    ProviderError::Rejected { code: "invalid_message".into(), message }
}

/// Accept-time checks make every failure here unlikely; one that happens is a post that can never
/// be sent as it is, so it is rejected rather than retried.
pub(super) fn build(out: &Outgoing<'_>) -> Result<Message, ProviderError> {
    let subject = options::subject(out.options, out.text)
        .ok_or_else(|| invalid("the text is empty, so it gives no subject: set options.subject".into()))?;
    let mut builder = Message::builder()
        .from(mailbox(&out.config.from).map_err(invalid)?)
        .subject(subject)
        .message_id(Some(message_id(out.target_id)))
        .date(out.date);
    if let Some(reply_to) = &out.config.reply_to {
        builder = builder.reply_to(mailbox(reply_to).map_err(invalid)?);
    }
    // One To header with every recipient: they see each other, as on a mailing list's copy.
    let recipients = out.options.recipients.as_ref().unwrap_or(&out.config.recipients);
    for recipient in recipients {
        builder = builder.to(mailbox(recipient).map_err(invalid)?);
    }

    let text_part = if out.options.html {
        let html = html::render(out.text).ok_or_else(|| invalid("the HTML part could not be made".into()))?;
        MultiPart::alternative_plain_html(out.text.to_owned(), html)
    } else {
        MultiPart::mixed().singlepart(SinglePart::plain(out.text.to_owned()))
    };
    let mut body = MultiPart::mixed().multipart(text_part);
    for file in out.media {
        body = body.singlepart(attachment(file)?);
    }
    builder.multipart(body).map_err(|err| invalid(err.to_string()))
}

/// The content type is Crier's own sniffing (`MediaFile::mime`), never the uploader's claim.
fn attachment(file: &MediaFile) -> Result<SinglePart, ProviderError> {
    let content_type = ContentType::parse(file.mime()).map_err(|err| {
        invalid(format!("media {} has an unusable type {:?}: {err}", file.media.id, file.mime()))
    })?;
    Ok(Attachment::new(file_name(file)).body(file.bytes.clone(), content_type))
}

/// The uploader's file name without any directory part, else `{media_id}.{ext}`.
fn file_name(file: &MediaFile) -> String {
    let given = file.media.file_name.as_deref().unwrap_or_default();
    let base = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let base: String = base.chars().filter(|c| !c.is_control()).collect();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        return format!("{}.{}", file.media.id, extension(file.mime()));
    }
    base.to_owned()
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/avif" => "avif",
        "image/heic" => "heic",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => "bin",
    }
}
