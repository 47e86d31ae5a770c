//! Image posts and galleries. Reddit documents no media upload on reddit.com/dev/api; the flow
//! is the one its own web client and PRAW use (praw-dev/praw, `praw/models/reddit/subreddit.py`:
//! `_upload_media`, `submit_image`, `submit_gallery`, and since 7.8 `submit` with `gallery=`):
//!
//! 1. `POST /api/media/asset.json` (form `filepath`, `mimetype`) leases an upload:
//!    `{"args": {"action": "//reddit-uploaded-media.s3-accelerate.amazonaws.com", "fields":
//!    [{"name", "value"}…]}, "asset": {"asset_id", "websocket_url"}}`.
//! 2. A multipart POST of those fields, then `file`, to `https:` + `action` (an S3 POST policy
//!    upload: 201 and an XML `<PostResponse>`; a refusal is an XML `<Error><Code>…`).
//! 3. One image: `POST /api/submit` with `kind=image` and `url` = action + `/` + the `key` field.
//!    Reddit answers before the post exists; the post's address arrives on the websocket
//!    ([`super::websocket`]). 2 to 20 images: `POST /api/submit_gallery_post.json` with a JSON
//!    body (`sr`, `title`, `items: [{media_id: asset_id, caption, outbound_url}]`, `api_type`,
//!    `show_error_list`, `nsfw`, `spoiler`, `sendreplies`, `text`), answered at once with
//!    `{"json": {"errors": [], "data": {"id", "url"}}}`. A gallery takes 2 to 20 images (Devvit's
//!    `imageUrls`, reddit/devvit#187: "2-20 … Reddit will automatically create a gallery post"),
//!    hence the image post for one.
//!
//! Both take the post's text as `text`, its body (PRAW's `submit`: "`selftext` may accompany any
//! of them"). The upload target comes from Reddit, never from a user, and is still called through
//! the platform's SSRF-safe client, without Reddit's token.

use serde::Deserialize;
use serde_json::json;

use super::{Reddit, Submission, common_form, fullname_in, json_errors, websocket};
use crate::MediaFile;
use crate::platform::snake;
use crate::provider::{ProviderError, PublishRequest, Published};

/// The lease `asset.json` answers.
#[derive(Deserialize)]
struct Lease {
    args: LeaseArgs,
    asset: Asset,
}

#[derive(Deserialize)]
struct LeaseArgs {
    action: String,
    fields: Vec<LeaseField>,
}

#[derive(Deserialize)]
struct LeaseField {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct Asset {
    asset_id: String,
    #[serde(default)]
    websocket_url: Option<String>,
}

/// One image, uploaded.
struct Uploaded {
    /// The address an image post names (`url`).
    url: String,
    /// The id a gallery item names (`media_id`).
    asset_id: String,
    websocket_url: Option<String>,
}

/// Every failure after Reddit took the submission: the post may exist, so it is never retried.
fn unknown(message: impl Into<String>) -> ProviderError {
    ProviderError::OutcomeUnknown { message: message.into() }
}

/// S3's `<Error><Code>EntityTooLarge</Code><Message>…</Message>…` (docs.aws.amazon.com/AmazonS3/
/// latest/API/ErrorResponses.html): the text between `<tag>` and `</tag>`.
fn xml_field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim())
}

impl Reddit {
    /// The post's images, in order, checked again (the rules were checked at accept time).
    pub(super) async fn load_images(
        &self,
        request: &PublishRequest<'_>,
    ) -> Result<Vec<MediaFile>, ProviderError> {
        if request.media.len() > super::MAX_IMAGES {
            return Err(ProviderError::Rejected {
                code: "too_many_media".into(),
                message: format!("a Reddit gallery takes at most {} images", super::MAX_IMAGES),
            });
        }
        let mut files = Vec::with_capacity(request.media.len());
        for id in request.media {
            let file = self.platform.media.load(request.channel.workspace_id, *id).await?;
            if !super::IMAGE_TYPES.contains(&file.mime()) {
                return Err(ProviderError::Rejected {
                    code: "media_unsupported".into(),
                    message: format!(
                        "{} is not an image Reddit takes from Crier (JPEG, PNG or GIF; no video)",
                        file.mime()
                    ),
                });
            }
            files.push(file);
        }
        Ok(files)
    }

    /// The upload target, made absolute. Reddit names it scheme-relative (`//host/…`); it is
    /// `https:` unless the API itself is reached over http (a fake on loopback).
    fn upload_target(&self, action: &str) -> Result<String, ProviderError> {
        let scheme = if self.settings.plain_http() { "http:" } else { "https:" };
        let absolute = match action.strip_prefix("//") {
            Some(_) => format!("{scheme}{action}"),
            None => action.to_owned(),
        };
        let allowed = url::Url::parse(&absolute)
            .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && self.settings.plain_http()));
        if !allowed {
            return Err(ProviderError::Retryable {
                after: None,
                message: "Reddit's upload lease named an upload address Crier cannot use".into(),
            });
        }
        Ok(absolute.trim_end_matches('/').to_owned())
    }

    /// Leases an upload and sends the bytes (steps 1 and 2 above).
    async fn upload(&self, file: &MediaFile, access_token: &str) -> Result<Uploaded, ProviderError> {
        let name = format!("image.{}", file.mime().trim_start_matches("image/"));
        let form = [("filepath", name.as_str()), ("mimetype", file.mime())];
        // github.com/praw-dev/praw praw/models/reddit/subreddit.py `_upload_media` (undocumented
        // on reddit.com/dev/api): POST /api/media/asset.json.
        let url = self.settings.api("/api/media/asset.json");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| self.authed(b, access_token).form(&form))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let lease: Lease = call.json()?;
        let target = self.upload_target(&lease.args.action)?;
        let key =
            lease.args.fields.iter().find(|f| f.name == "key").map(|f| f.value.clone()).ok_or_else(|| {
                ProviderError::Retryable { after: None, message: "Reddit's upload lease has no `key`".into() }
            })?;
        // The policy's fields first, the file last, as S3's POST upload requires
        // (docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html).
        let mut multipart = reqwest::multipart::Form::new();
        for field in &lease.args.fields {
            multipart = multipart.text(field.name.clone(), field.value.clone());
        }
        let part = reqwest::multipart::Part::bytes(file.bytes.clone())
            .file_name(name.clone())
            .mime_str(file.mime())
            .map_err(|err| ProviderError::Rejected {
                code: "media_unsupported".into(),
                message: err.to_string(),
            })?;
        multipart = multipart.part("file", part);
        let call = self
            .platform
            .call(reqwest::Method::POST, &target, |b| {
                b.header(reqwest::header::USER_AGENT, &self.settings.user_agent).multipart(multipart)
            })
            .await?;
        if !call.ok() {
            let xml = String::from_utf8_lossy(&call.reply.body);
            let message = xml_field(&xml, "Message").unwrap_or("the upload was refused").to_owned();
            return Err(match call.reply.status {
                408 | 429 | 500..=599 => ProviderError::Retryable { after: None, message },
                status => ProviderError::Rejected {
                    code: xml_field(&xml, "Code").map_or_else(|| format!("upload_{status}"), snake),
                    message: format!("Reddit's media storage refused the image: {message}"),
                },
            });
        }
        Ok(Uploaded {
            url: format!("{target}/{key}"),
            asset_id: lease.asset.asset_id,
            websocket_url: lease.asset.websocket_url,
        })
    }

    /// One image: `kind=image`, then the outcome from the websocket.
    pub(super) async fn submit_image(
        &self,
        subreddit: &str,
        text: &str,
        post: &Submission,
        file: &MediaFile,
        access_token: &str,
    ) -> Result<Published, ProviderError> {
        let uploaded = self.upload(file, access_token).await?;
        let mut form = common_form(subreddit, post);
        form.extend([("kind", "image"), ("url", uploaded.url.as_str()), ("resubmit", "true")]);
        if !text.is_empty() {
            form.push(("text", text));
        }
        // reddit.com/dev/api#POST_api_submit (`kind` image, as PRAW's `submit_image` sends it).
        let body = self.submit_form(form, post, access_token).await?;
        // Newer PRAW reads the socket from the submission's answer; older, from the lease.
        let socket = body["json"]["data"]["websocket_url"]
            .as_str()
            .map(str::to_owned)
            .or(uploaded.websocket_url)
            .ok_or_else(|| unknown("Reddit took the image post but named no websocket to report it on"))?;
        let outcome = websocket::await_outcome(
            &self.platform.http,
            &socket,
            self.settings.plain_http(),
            self.settings.media_wait,
        )
        .await?;
        match outcome {
            websocket::Outcome::Posted { url } => {
                let name = fullname_in(&url).ok_or_else(|| {
                    unknown(format!("Reddit reported the image post at {url:?}, with no post id"))
                })?;
                Ok(Published { provider_post_id: name, url: Some(url) })
            }
            websocket::Outcome::Failed { message } => {
                Err(ProviderError::Rejected { code: "media_post_failed".into(), message })
            }
        }
    }

    /// 2 to 20 images: one gallery, answered at once.
    pub(super) async fn submit_gallery(
        &self,
        subreddit: &str,
        text: &str,
        post: &Submission,
        files: &[MediaFile],
        access_token: &str,
    ) -> Result<Published, ProviderError> {
        let mut items = Vec::with_capacity(files.len());
        for file in files {
            let uploaded = self.upload(file, access_token).await?;
            // A caption is shown under the image (180 characters), not alt text: left empty.
            items.push(json!({"media_id": uploaded.asset_id, "caption": "", "outbound_url": ""}));
        }
        let mut body = json!({
            "api_type": "json",
            "sr": subreddit,
            "title": post.title,
            "items": items,
            "nsfw": post.nsfw,
            "spoiler": post.spoiler,
            "sendreplies": true,
            "show_error_list": true,
        });
        if !text.is_empty() {
            body["text"] = json!(text);
        }
        if let Some(flair) = &post.flair_id {
            body["flair_id"] = json!(flair);
        }
        // github.com/praw-dev/praw `submit_gallery`: POST /api/submit_gallery_post.json, JSON body.
        let url = self.settings.api("/api/submit_gallery_post.json");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| self.authed(b, access_token).json(&body))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let answer: serde_json::Value =
            call.json().map_err(|_| unknown("Reddit's answer to the gallery was unreadable"))?;
        if let Some(err) = json_errors(&answer, self.platform.clock.now()) {
            return Err(err);
        }
        let data = &answer["json"]["data"];
        let post_url = data["url"].as_str().filter(|u| !u.is_empty()).map(str::to_owned);
        let named = data["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(|id| if id.starts_with("t3_") { id.to_owned() } else { format!("t3_{id}") });
        let name = named
            .or_else(|| post_url.as_deref().and_then(fullname_in))
            .ok_or_else(|| unknown("Reddit took the gallery without naming it"))?;
        Ok(Published { provider_post_id: name, url: post_url })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_errors_are_read() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>EntityTooLarge</Code><Message>Your proposed upload \
                   exceeds the maximum allowed size</Message><ProposedSize>30000000</ProposedSize></Error>";
        assert_eq!(xml_field(xml, "Code"), Some("EntityTooLarge"));
        assert!(xml_field(xml, "Message").unwrap().starts_with("Your proposed upload"));
        assert_eq!(xml_field(xml, "Key"), None);
    }
}
