//! Publishing: the quota read first, then for the post and each reply a container, polled until
//! `FINISHED`, and `threads_publish`. The post's media go in its container: one image or video by
//! its public link, or a carousel container over one item container per image or video, each
//! finished first.

use std::time::Duration;

use crier_core::{MediaId, MediaKind};
use serde::Deserialize;

use super::oauth::Tokens;
use super::{Threads, ThreadsOptions};
use crate::meta::poll::{self, Step};
use crate::provider::{ProviderError, PublishRequest, Published};

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
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
    #[serde(default)]
    reply_quota_usage: Option<u64>,
    #[serde(default)]
    reply_config: Option<Quota>,
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

impl Threads {
    pub(super) async fn publish_thread(
        &self,
        request: &PublishRequest<'_>,
        tokens: &Tokens,
        options: &ThreadsOptions,
    ) -> Result<Published, ProviderError> {
        let replies = options.thread.len() as u64 + u64::from(options.reply_to_id.is_some());
        self.check_quota(tokens, u64::from(options.reply_to_id.is_none()), replies).await?;
        let media = self.media_form(request, tokens).await?;
        let root = self.post_one(tokens, request.text, options.reply_to_id.as_deref(), media).await?;
        let mut parent = root.clone();
        for (i, text) in options.thread.iter().enumerate() {
            // The post is up: a failed reply must not make the worker post it again.
            match self.post_one(tokens, text, Some(&parent), Vec::new()).await {
                Ok(id) => parent = id,
                Err(err) => {
                    tracing::warn!(
                        channel_id = %request.channel.id, target_id = %request.target_id, reply = i,
                        error = %err, "the Threads post is up but a reply of its thread failed"
                    );
                    break;
                }
            }
        }
        let url = self.permalink(tokens, &root).await;
        Ok(Published { provider_post_id: root, url })
    }

    /// `GET /{user-id}/threads_publishing_limit`
    /// (developers.facebook.com/docs/threads/troubleshooting#retrieve-publishing-quota-limit):
    /// `RateLimited` when the posts or replies about to be made do not fit. The window is a rolling
    /// 24 hours whose oldest post Meta does not name: Crier looks again in an hour.
    async fn check_quota(&self, tokens: &Tokens, posts: u64, replies: u64) -> Result<(), ProviderError> {
        let url = self.api(&format!("/{}/threads_publishing_limit", tokens.user_id));
        let fields = [("fields", "quota_usage,config,reply_quota_usage,reply_config")];
        let call = self
            .platform
            .call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token).query(&fields))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let limits: Limits = call.json()?;
        let Some(limit) = limits.data.first() else { return Ok(()) };
        let over = |used: Option<u64>, quota: &Option<Quota>, wanted: u64| {
            wanted > 0 && quota.as_ref().is_some_and(|q| used.unwrap_or(0) + wanted > q.quota_total)
        };
        if over(limit.quota_usage, &limit.config, posts)
            || over(limit.reply_quota_usage, &limit.reply_config, replies)
        {
            return Err(ProviderError::RateLimited {
                reset: self.platform.clock.now() + chrono::Duration::hours(1),
            });
        }
        Ok(())
    }

    /// One container (developers.facebook.com/docs/threads/posts#step-1--create-a-threads-media-container),
    /// its status polled (developers.facebook.com/docs/threads/troubleshooting#publishing-does-not-return-a-media-id),
    /// then published (developers.facebook.com/docs/threads/posts#step-2--publish-a-threads-media-container).
    async fn post_one(
        &self,
        tokens: &Tokens,
        text: &str,
        reply_to: Option<&str>,
        media: Vec<(&'static str, String)>,
    ) -> Result<String, ProviderError> {
        let mut form: Vec<(&str, &str)> =
            if media.is_empty() { vec![("media_type", "TEXT")] } else { Vec::new() };
        form.extend(media.iter().map(|(k, v)| (*k, v.as_str())));
        if !text.is_empty() {
            form.push(("text", text));
        }
        if let Some(parent) = reply_to {
            form.push(("reply_to_id", parent));
        }
        let container = self.container(tokens, &form).await?;
        self.wait_finished(tokens, &container).await?;
        let url = self.api(&format!("/{}/threads_publish", tokens.user_id));
        let form = [("creation_id", container.as_str())];
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(&tokens.access_token).form(&form))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(call.json::<Id>()?.id)
    }

    /// `POST /{user-id}/threads`: a container
    /// (developers.facebook.com/docs/threads/posts#step-1--create-a-threads-media-container).
    async fn container(&self, tokens: &Tokens, form: &[(&str, &str)]) -> Result<String, ProviderError> {
        let url = self.api(&format!("/{}/threads", tokens.user_id));
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(&tokens.access_token).form(form))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(call.json::<Id>()?.id)
    }

    /// The post's media as container fields: one file by its public link (`IMAGE` + `image_url`,
    /// `VIDEO` + `video_url`), or a `CAROUSEL` of item containers, each finished first
    /// (developers.facebook.com/docs/threads/posts#carousel-posts).
    async fn media_form(
        &self,
        request: &PublishRequest<'_>,
        tokens: &Tokens,
    ) -> Result<Vec<(&'static str, String)>, ProviderError> {
        match request.media {
            [] => Ok(Vec::new()),
            [one] => self.media_item(request, *one).await,
            many => {
                let mut children = Vec::with_capacity(many.len());
                for id in many {
                    let mut fields = self.media_item(request, *id).await?;
                    fields.push(("is_carousel_item", "true".into()));
                    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    children.push(self.container(tokens, &form).await?);
                }
                for child in &children {
                    self.wait_finished(tokens, child).await?;
                }
                Ok(vec![("media_type", "CAROUSEL".into()), ("children", children.join(","))])
            }
        }
    }

    async fn media_item(
        &self,
        request: &PublishRequest<'_>,
        id: MediaId,
    ) -> Result<Vec<(&'static str, String)>, ProviderError> {
        let workspace = request.channel.workspace_id;
        let link = self.platform.media.link(workspace, id).await?;
        let media = self.platform.media.describe(workspace, id).await?;
        Ok(match media.facts.as_ref().map(|f| f.kind) {
            Some(MediaKind::Video) => vec![("media_type", "VIDEO".into()), ("video_url", link.url)],
            _ => vec![("media_type", "IMAGE".into()), ("image_url", link.url)],
        })
    }

    /// `GET /{container-id}?fields=status,error_message`
    /// (developers.facebook.com/docs/threads/troubleshooting#publishing-does-not-return-a-media-id),
    /// until `FINISHED`, for about 30 seconds ([`crate::meta::poll`]; a video still processing is
    /// retried, not waited for here).
    async fn wait_finished(&self, tokens: &Tokens, container: &str) -> Result<(), ProviderError> {
        let url = self.api(&format!("/{container}"));
        let (url, fields) = (&url, [("fields", "status,error_message")]);
        let finished = poll::until_done(|| async move {
            let call = self
                .platform
                .call(reqwest::Method::GET, url, |b| b.bearer_auth(&tokens.access_token).query(&fields))
                .await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let status: Status = call.json()?;
            match status.status.as_deref() {
                Some("FINISHED") => Ok(Step::Done(())),
                Some("ERROR" | "EXPIRED") => Err(ProviderError::Rejected {
                    code: "container_failed".into(),
                    message: status
                        .error_message
                        .unwrap_or_else(|| "Threads could not prepare the post".into()),
                }),
                _ => Ok(Step::Pending),
            }
        })
        .await?;
        finished.ok_or_else(|| ProviderError::Retryable {
            after: Some(Duration::from_secs(60)),
            message: "Threads had not finished preparing the post after 30 seconds".into(),
        })
    }

    /// The post's address (`permalink`), when Threads gives it.
    async fn permalink(&self, tokens: &Tokens, id: &str) -> Option<String> {
        let url = self.api(&format!("/{id}"));
        let call = self
            .platform
            .call(reqwest::Method::GET, &url, |b| {
                b.bearer_auth(&tokens.access_token).query(&[("fields", "permalink")])
            })
            .await
            .ok()
            .filter(|call| call.ok())?;
        call.json::<Permalink>().ok()?.permalink
    }
}
