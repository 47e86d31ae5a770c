//! Publishing: the quota read first, then a container per file (and a carousel container over
//! several), each polled until `FINISHED`, and `media_publish`
//! (developers.facebook.com/docs/instagram-platform/content-publishing).

use std::time::Duration;

use crier_core::{MediaId, MediaKind, Timestamp};
use serde::Deserialize;

use super::Instagram;
use crate::meta::GraphError;
use crate::meta::poll::{self, Step};
use crate::platform::PlatformCall;
use crate::provider::{ProviderError, PublishRequest, Published};

/// Graph's errors as for Facebook ([`crate::meta::failure`]), and Instagram's own: code 9 with
/// subcode 2207042 is the account's daily publishing limit
/// (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes):
/// `RateLimited` for an hour, as the quota check does.
pub(super) fn failure(call: &PlatformCall, now: Timestamp) -> ProviderError {
    if let Some(error) = GraphError::of(call)
        && error.code == Some(9)
        && error.error_subcode == Some(2_207_042)
    {
        return ProviderError::RateLimited { reset: now + chrono::Duration::hours(1) };
    }
    crate::meta::failure(call, now)
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    status_code: Option<String>,
    /// Meta's words about an `ERROR` (`status`).
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Limits {
    data: Vec<Limit>,
}

#[derive(Deserialize)]
struct Limit {
    #[serde(default)]
    quota_usage: Option<u64>,
    #[serde(default)]
    config: Option<Quota>,
}

#[derive(Deserialize)]
struct Quota {
    quota_total: u64,
}

#[derive(Deserialize)]
struct Permalink {
    #[serde(default)]
    permalink: Option<String>,
}

impl Instagram {
    pub(super) async fn publish_media(
        &self,
        request: &PublishRequest<'_>,
        ig_user: &str,
        token: &str,
    ) -> Result<Published, ProviderError> {
        if request.media.is_empty() {
            return Err(ProviderError::Rejected {
                code: "media_required".into(),
                message: "an Instagram post needs an image or a video".into(),
            });
        }
        self.check_quota(ig_user, token).await?;
        let container = match request.media {
            [one] => self.item(request, ig_user, token, *one, Some(request.text), false).await?,
            many => {
                let mut children = Vec::with_capacity(many.len());
                for id in many {
                    let child = self.item(request, ig_user, token, *id, None, true).await?;
                    children.push(child);
                }
                // Each child (a video takes longest) is waited for until FINISHED before the
                // carousel is made of them, in the post's order.
                for child in &children {
                    self.wait_finished(token, child).await?;
                }
                let children = children.join(",");
                let form =
                    [("media_type", "CAROUSEL"), ("children", children.as_str()), ("caption", request.text)];
                self.container(ig_user, token, &form).await?
            }
        };
        self.wait_finished(token, &container).await?;
        // developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media_publish
        let url = self.settings.graph(&format!("/{ig_user}/media_publish"));
        let form = [("creation_id", container.as_str())];
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).form(&form)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let id = call.json::<Id>()?.id;
        let url = self.permalink(token, &id).await;
        Ok(Published { provider_post_id: id, url })
    }

    /// `GET /{ig-user-id}/content_publishing_limit`
    /// (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit):
    /// `RateLimited` when one more post does not fit. The window is a rolling 24 hours whose
    /// oldest post Meta does not name: Crier looks again in an hour.
    async fn check_quota(&self, ig_user: &str, token: &str) -> Result<(), ProviderError> {
        let url = self.settings.graph(&format!("/{ig_user}/content_publishing_limit"));
        let fields = [("fields", "quota_usage,config")];
        let call =
            self.platform.call(reqwest::Method::GET, &url, |b| b.bearer_auth(token).query(&fields)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let limits: Limits = call.json()?;
        let Some(limit) = limits.data.first() else { return Ok(()) };
        if limit.config.as_ref().is_some_and(|q| limit.quota_usage.unwrap_or(0) >= q.quota_total) {
            return Err(ProviderError::RateLimited {
                reset: self.platform.clock.now() + chrono::Duration::hours(1),
            });
        }
        Ok(())
    }

    /// One file's container, from a fresh public link to it: an image (`image_url`, its alt
    /// text), a reel (`REELS` + `video_url`), or in a carousel a video item (`VIDEO` +
    /// `video_url`: reels cannot be carousel items,
    /// developers.facebook.com/docs/instagram-platform/content-publishing#carousel-posts).
    async fn item(
        &self,
        request: &PublishRequest<'_>,
        ig_user: &str,
        token: &str,
        id: MediaId,
        caption: Option<&str>,
        carousel_item: bool,
    ) -> Result<String, ProviderError> {
        let workspace = request.channel.workspace_id;
        let link = self.platform.media.link(workspace, id).await?;
        let media = self.platform.media.describe(workspace, id).await?;
        let kind = media.facts.as_ref().map_or(MediaKind::Image, |f| f.kind);
        let mut form: Vec<(&str, &str)> = Vec::new();
        match kind {
            MediaKind::Image => {
                form.push(("image_url", &link.url));
                if let Some(alt) = media.alt_text.as_deref().filter(|a| !a.is_empty()) {
                    form.push(("alt_text", alt));
                }
            }
            MediaKind::Video if carousel_item => {
                form.push(("media_type", "VIDEO"));
                form.push(("video_url", &link.url));
            }
            MediaKind::Video => {
                form.push(("media_type", "REELS"));
                form.push(("video_url", &link.url));
            }
        }
        if carousel_item {
            form.push(("is_carousel_item", "true"));
        }
        if let Some(caption) = caption {
            form.push(("caption", caption));
        }
        self.container(ig_user, token, &form).await
    }

    /// `POST /{ig-user-id}/media`
    /// (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media#creating).
    async fn container(
        &self,
        ig_user: &str,
        token: &str,
        form: &[(&str, &str)],
    ) -> Result<String, ProviderError> {
        let url = self.settings.graph(&format!("/{ig_user}/media"));
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).form(form)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(call.json::<Id>()?.id)
    }

    /// `GET /{ig-container-id}?fields=status_code,status`
    /// (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container),
    /// until `FINISHED`, for about 30 seconds ([`crate::meta::poll`]; a reel still processing is
    /// retried, not waited for here).
    async fn wait_finished(&self, token: &str, container: &str) -> Result<(), ProviderError> {
        let url = self.settings.graph(&format!("/{container}"));
        let (url, fields) = (&url, [("fields", "status_code,status")]);
        let finished = poll::until_done(|| async move {
            let call = self
                .platform
                .call(reqwest::Method::GET, url, |b| b.bearer_auth(token).query(&fields))
                .await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let status: Status = call.json()?;
            match status.status_code.as_deref() {
                Some("FINISHED" | "PUBLISHED") => Ok(Step::Done(())),
                Some("ERROR" | "EXPIRED") => Err(ProviderError::Rejected {
                    code: "container_failed".into(),
                    message: status.status.unwrap_or_else(|| "Instagram could not prepare the media".into()),
                }),
                _ => Ok(Step::Pending),
            }
        })
        .await?;
        finished.ok_or_else(|| ProviderError::Retryable {
            after: Some(Duration::from_secs(60)),
            message: "Instagram had not finished preparing the media after 30 seconds".into(),
        })
    }

    /// The post's address (`permalink`), when Instagram gives it
    /// (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media).
    async fn permalink(&self, token: &str, id: &str) -> Option<String> {
        let url = self.settings.graph(&format!("/{id}"));
        let call = self
            .platform
            .call(reqwest::Method::GET, &url, |b| b.bearer_auth(token).query(&[("fields", "permalink")]))
            .await
            .ok()
            .filter(|call| call.ok())?;
        call.json::<Permalink>().ok()?.permalink
    }

    /// `POST /{ig-media-id}/comments`
    /// (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments#creating).
    pub(super) async fn comment(&self, media: &str, token: &str, text: &str) -> Result<(), ProviderError> {
        let url = self.settings.graph(&format!("/{media}/comments"));
        let form = [("message", text)];
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(token).form(&form)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(())
    }
}
