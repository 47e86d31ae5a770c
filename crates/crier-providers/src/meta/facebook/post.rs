//! Publishing to a Page: text and link to the feed, one image as a photo post, several images
//! uploaded unpublished and attached to one feed post, one video as a video post
//! ([`super::video`]), then the optional first comment.

use crier_core::{MediaId, MediaKind};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::json;

use super::oauth::Tokens;
use super::{Facebook, FacebookOptions};
use crate::provider::{ProviderError, PublishRequest, Published};

#[derive(Deserialize)]
struct Created {
    id: String,
    /// A published photo's feed post (`{page-id}_{post-id}`).
    #[serde(default)]
    post_id: Option<String>,
}

impl Facebook {
    pub(super) async fn create_post(
        &self,
        request: &PublishRequest<'_>,
        page: &str,
        tokens: &Tokens,
        options: &FacebookOptions,
    ) -> Result<Published, ProviderError> {
        let token = tokens.page_access_token.as_str();
        let videos = self.videos_among(request).await?;
        let post_id = match request.media {
            [one] if videos == 1 => return self.video(request, page, tokens, *one).await,
            _ if videos > 0 => {
                // Refused when the post was accepted (`media_rules`); a post changed since is
                // refused here rather than half published.
                return Err(ProviderError::Rejected {
                    code: "invalid_media".into(),
                    message: "a Facebook post takes up to ten images or one video, not both".into(),
                });
            }
            [] => self.feed(page, token, request.text, options.link.as_deref(), &[]).await?,
            [one] => {
                let photo = self.photo(request, page, token, *one, true).await?;
                photo.post_id.unwrap_or(photo.id)
            }
            many => {
                let mut photos = Vec::with_capacity(many.len());
                for id in many {
                    photos.push(self.photo(request, page, token, *id, false).await?.id);
                }
                self.feed(page, token, request.text, options.link.as_deref(), &photos).await?
            }
        };
        Ok(Published { url: Some(format!("https://www.facebook.com/{post_id}")), provider_post_id: post_id })
    }

    /// How many of the post's media are videos.
    async fn videos_among(&self, request: &PublishRequest<'_>) -> Result<usize, ProviderError> {
        let mut videos = 0;
        for id in request.media {
            let media = self.platform.media.describe(request.channel.workspace_id, *id).await?;
            if media.facts.as_ref().is_some_and(|f| f.kind == MediaKind::Video) {
                videos += 1;
            }
        }
        Ok(videos)
    }

    /// `POST /{page-id}/feed` (developers.facebook.com/docs/pages-api/posts#publish-posts), with
    /// unpublished photos as `attached_media`
    /// (developers.facebook.com/docs/graph-api/reference/page/feed/#publish).
    async fn feed(
        &self,
        page: &str,
        token: &str,
        text: &str,
        link: Option<&str>,
        photos: &[String],
    ) -> Result<String, ProviderError> {
        let mut body = json!({"message": text});
        if let Some(link) = link {
            body["link"] = json!(link);
        }
        if !photos.is_empty() {
            body["attached_media"] = photos.iter().map(|id| json!({"media_fbid": id})).collect();
        }
        let url = self.settings.graph(&format!("/{page}/feed"));
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(call.json::<Created>()?.id)
    }

    /// `POST /{page-id}/photos` with the bytes as multipart `source`
    /// (developers.facebook.com/docs/graph-api/reference/page/photos/#Creating): published with the
    /// text as its caption, or unpublished to attach to a feed post.
    async fn photo(
        &self,
        request: &PublishRequest<'_>,
        page: &str,
        token: &str,
        id: MediaId,
        published: bool,
    ) -> Result<Created, ProviderError> {
        let file = self.platform.media.load(request.channel.workspace_id, id).await?;
        let mime = file.mime().to_owned();
        let alt = file.media.alt_text.clone().filter(|a| !a.trim().is_empty());
        let source = Part::bytes(file.bytes).file_name("photo").mime_str(&mime).map_err(|_| {
            ProviderError::Rejected {
                code: "invalid_media".into(),
                message: format!("{mime} is not a media type"),
            }
        })?;
        let mut form = Form::new().part("source", source).text("published", published.to_string());
        if published {
            form = form.text("caption", request.text.to_owned());
        }
        if let Some(alt) = alt {
            form = form.text("alt_text_custom", alt);
        }
        let url = self.settings.graph(&format!("/{page}/photos"));
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).multipart(form)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        call.json()
    }

    /// `POST /{object-id}/comments` as the Page
    /// (developers.facebook.com/docs/graph-api/reference/object/comments/#publish).
    pub(super) async fn comment(&self, post: &str, token: &str, text: &str) -> Result<(), ProviderError> {
        let url = self.settings.graph(&format!("/{post}/comments"));
        let body = json!({"message": text});
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(())
    }
}
