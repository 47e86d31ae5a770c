//! Reddit. A channel is a user's OAuth2 token pair for Crier's Reddit app and one subreddit
//! (`config.subreddit`, chosen when connecting): connected through Reddit's consent page
//! (authorization code, `duration=permanent`, Crier a confidential client whose id and secret
//! are the deployment's [`RedditSettings`]), refreshed ahead of the one-hour expiry.
//!
//! Posts are `POST /api/submit` (reddit.com/dev/api#POST_api_submit): a self post (the text is
//! its body) or a link post (`options.url`), with `options.title` (required), `nsfw`, `spoiler`
//! and `flair_id`. A post with images is an image post (one image) or a gallery (2 to 20), the
//! text its body; see `media.rs` for the upload and `websocket.rs` for how an image post's id
//! comes back. Video is not implemented (Reddit's video posts need a poster image and report
//! through the same websocket after transcoding), so `media_rules` take images only.
//!
//! Reddit offers no idempotency key, so an interrupted publish cannot be told apart from one that
//! went through: `lookup` answers `Unknowable`. Every request carries the deployment's
//! User-Agent, as Reddit's API rules require.

mod media;
mod oauth;
mod websocket;

use std::time::Duration;

use async_trait::async_trait;
use crier_core::{Channel, MediaFacts};
use serde::Deserialize;

use crate::platform::{Platform, PlatformCall};
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules,
};

/// A self post's body, in characters.
pub const MAX_TEXT: usize = 40_000;
/// A title, in characters.
pub const MAX_TITLE: usize = 300;
/// Images in a gallery: "we will only allow 20 images per Image Gallery"
/// (reddit.com/r/modnews/comments/hisodw, the gallery launch).
pub const MAX_IMAGES: usize = 20;
/// Reddit takes images up to 20 MB (GIFs up to 100 MB when uploaded in the web page; Crier keeps
/// one limit, the images' own): techcrunch.com/2016/05/25/reddit-image-uploads.
pub const MAX_IMAGE_BYTES: u64 = 20_000_000;
/// The types Reddit's media upload takes for image posts (PRAW's `_upload_media` type table:
/// png, jpeg, gif).
pub const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/gif"];
/// How long an image post's websocket may stay silent before its outcome counts as unknown.
pub const MEDIA_WAIT: Duration = Duration::from_secs(60);

/// Crier's Reddit app, from the deployment's settings.
#[derive(Clone)]
pub struct RedditSettings {
    pub client_id: String,
    pub client_secret: String,
    /// Sent with every request (`<platform>:<app id>:<version> (by /u/<username>)`).
    pub user_agent: String,
    /// `https://oauth.reddit.com` (overridable for tests).
    pub api_base: String,
    /// `https://www.reddit.com` (the consent page and token endpoint; overridable for tests).
    pub auth_base: String,
    /// How long to wait on an image post's websocket ([`MEDIA_WAIT`]; shorter in tests). The
    /// worker's own bound on a publish (half its lease) may end the wait sooner, with the same
    /// outcome: unknown.
    pub media_wait: Duration,
}

impl std::fmt::Debug for RedditSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedditSettings")
            .field("client_id", &self.client_id)
            .field("user_agent", &self.user_agent)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .finish_non_exhaustive()
    }
}

impl RedditSettings {
    /// Reddit's own addresses.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        user_agent: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            user_agent: user_agent.into(),
            api_base: "https://oauth.reddit.com".into(),
            auth_base: "https://www.reddit.com".into(),
            media_wait: MEDIA_WAIT,
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }

    fn auth(&self, path: &str) -> String {
        format!("{}{path}", self.auth_base.trim_end_matches('/'))
    }

    /// Whether the API is reached over plain http: only a fake's loopback base is; then, and
    /// only then, the upload target and websocket Reddit names may be plain too.
    fn plain_http(&self) -> bool {
        self.api_base.starts_with("http://")
    }
}

pub struct Reddit {
    platform: Platform,
    settings: RedditSettings,
}

/// A subreddit's name without `r/`: 3 to 21 letters, digits or underscores.
pub fn subreddit_name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let name = trimmed
        .strip_prefix("/r/")
        .or_else(|| trimmed.strip_prefix("r/"))
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    let valid = (3..=21).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!("`{raw}` is not a subreddit name (3 to 21 letters, digits or underscores)"))
    }
}

/// A channel's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedditConfig {
    subreddit: String,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RedditOptions {
    title: Option<String>,
    /// `self` (the default) or `link`.
    kind: Option<String>,
    url: Option<String>,
    nsfw: bool,
    spoiler: bool,
    flair_id: Option<String>,
}

/// A post's options, checked: the title, and the link for a link post.
struct Submission {
    title: String,
    /// The `kind` the target named, if any: a post with media names none ([`media_conflict`]).
    named_kind: Option<String>,
    link: Option<String>,
    nsfw: bool,
    spoiler: bool,
    flair_id: Option<String>,
}

/// The options as Reddit takes them, or every issue found (pointers relative to the target).
fn submission(value: &serde_json::Value, text: &str) -> Result<Submission, Vec<TargetIssue>> {
    let parsed: RedditOptions = if value.is_null() {
        RedditOptions::default()
    } else {
        serde_json::from_value(value.clone())
            .map_err(|err| vec![TargetIssue::new("/options", err.to_string())])?
    };
    let mut issues = Vec::new();
    let title = parsed.title.unwrap_or_default();
    let title_chars = title.chars().count();
    if title.trim().is_empty() {
        issues.push(TargetIssue::new("/options/title", "Reddit posts need a title"));
    } else if title_chars > MAX_TITLE {
        issues.push(TargetIssue::new(
            "/options/title",
            format!("{title_chars} characters; Reddit allows {MAX_TITLE} in a title"),
        ));
    }
    let named_kind = parsed.kind.clone();
    let link = match parsed.kind.as_deref().unwrap_or("self") {
        "self" => {
            if parsed.url.is_some() {
                issues.push(TargetIssue::new("/options/url", "only a link post (`kind: link`) has a url"));
            }
            let chars = text.chars().count();
            if chars > MAX_TEXT {
                issues.push(TargetIssue::new(
                    "/text",
                    format!("{chars} characters; Reddit allows {MAX_TEXT} in a post"),
                ));
            }
            None
        }
        "link" => {
            let url = parsed.url.unwrap_or_default();
            let web = url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !web {
                issues.push(TargetIssue::new("/options/url", "a link post needs an http(s) url"));
            }
            if !text.trim().is_empty() {
                issues.push(TargetIssue::new(
                    "/text",
                    "a Reddit link post has no text; give this target an empty text or post `kind: self`",
                ));
            }
            Some(url)
        }
        other => {
            issues.push(TargetIssue::new("/options/kind", format!("`{other}` is not `self` or `link`")));
            None
        }
    };
    if parsed.flair_id.as_deref().is_some_and(|f| f.trim().is_empty()) {
        issues.push(TargetIssue::new("/options/flair_id", "a flair id cannot be empty"));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Submission {
        title,
        named_kind,
        link,
        nsfw: parsed.nsfw,
        spoiler: parsed.spoiler,
        flair_id: parsed.flair_id,
    })
}

/// A post with images is an image post or a gallery, whose kind Crier chooses from the count: a
/// target that names `link` or `self` asked for a post that carries no images.
fn media_conflict(named_kind: Option<&str>, media: usize) -> Option<TargetIssue> {
    let kind = named_kind.filter(|_| media > 0)?;
    Some(TargetIssue::new(
        "/options/kind",
        format!(
            "a Reddit `{kind}` post carries no images; leave `kind` out to post them (one image makes an \
             image post, 2 to {MAX_IMAGES} a gallery), or post without media"
        ),
    ))
}

/// Reddit's `{"json": {"errors": [[code, message, field]], ...}}` as a `ProviderError`: a
/// `RATELIMIT` carries its wait (the answer's `ratelimit` seconds, else the one its message
/// names), anything else is a refusal for good. `None` when there is no error.
fn json_errors(body: &serde_json::Value, now: crier_core::Timestamp) -> Option<ProviderError> {
    let first = body["json"]["errors"].as_array().and_then(|e| e.first())?;
    let code = first[0].as_str().unwrap_or("SUBMIT_ERROR").to_owned();
    let message = first[1].as_str().unwrap_or_default().to_owned();
    let field = first[2].as_str().filter(|f| !f.is_empty());
    if code == "RATELIMIT" {
        let stated = body["json"]["ratelimit"].as_f64().filter(|s| s.is_finite() && *s > 0.0);
        #[expect(clippy::cast_possible_truncation, reason = "seconds, clamped to a day")]
        let stated = stated.map(|s| chrono::Duration::seconds(s.min(86_400.0).ceil() as i64));
        let wait = stated.or_else(|| named_wait(&message)).unwrap_or_else(|| chrono::Duration::minutes(10));
        return Some(ProviderError::RateLimited { reset: now + wait });
    }
    let message = match field {
        Some(field) => format!("{message} ({field})"),
        None => message,
    };
    Some(ProviderError::Rejected { code, message })
}

/// The post id in a post's address (`…/comments/{id}/{slug}/`), as a fullname `t3_{id}`.
fn fullname_in(url: &str) -> Option<String> {
    let rest = url.split("/comments/").nth(1)?;
    let id = rest.split(['/', '?', '#']).next()?;
    let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    valid.then(|| format!("t3_{id}"))
}

/// `try again in 9 minutes`, `take a break for 5 minutes`, `...30 seconds`: the wait Reddit names.
fn named_wait(message: &str) -> Option<chrono::Duration> {
    let lower = message.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.windows(2).find_map(|pair| {
        let n: i64 = pair[0].parse().ok()?;
        match pair[1] {
            "millisecond" | "milliseconds" => Some(chrono::Duration::milliseconds(n)),
            "second" | "seconds" => Some(chrono::Duration::seconds(n)),
            "minute" | "minutes" => Some(chrono::Duration::minutes(n)),
            "hour" | "hours" => Some(chrono::Duration::hours(n)),
            _ => None,
        }
    })
}

/// The fields every `/api/submit` form carries (reddit.com/dev/api#POST_api_submit).
fn common_form<'a>(subreddit: &'a str, post: &'a Submission) -> Vec<(&'static str, &'a str)> {
    let yes_no = |b: bool| if b { "true" } else { "false" };
    vec![
        ("api_type", "json"),
        ("sr", subreddit),
        ("title", &post.title),
        ("sendreplies", "true"),
        ("nsfw", yes_no(post.nsfw)),
        ("spoiler", yes_no(post.spoiler)),
    ]
}

impl Reddit {
    pub fn new(platform: Platform, settings: RedditSettings) -> Self {
        Self { platform, settings }
    }

    /// The app's own authentication at the token and revoke endpoints.
    fn client_auth(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder.basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
    }

    /// A call on the user's behalf.
    fn authed(&self, builder: reqwest::RequestBuilder, access_token: &str) -> reqwest::RequestBuilder {
        builder.header(reqwest::header::USER_AGENT, &self.settings.user_agent).bearer_auth(access_token)
    }

    /// `x-ratelimit-reset` (seconds from now, reddit.com/dev/api), when `x-ratelimit-remaining`
    /// says nothing is left.
    fn exhausted_until(&self, call: &PlatformCall) -> Option<crier_core::Timestamp> {
        let header = |name: &str| call.reply.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let remaining: f64 = header("x-ratelimit-remaining")?.parse().ok()?;
        if remaining >= 1.0 {
            return None;
        }
        let secs: f64 = header("x-ratelimit-reset")?.parse().ok()?;
        #[expect(clippy::cast_possible_truncation, reason = "seconds until a reset, at most minutes")]
        let secs = secs.clamp(0.0, 3600.0).ceil() as i64;
        Some(self.platform.clock.now() + chrono::Duration::seconds(secs.max(1)))
    }

    /// A failed call: 401 → refresh, 429 (or an exhausted quota) → its reset, 5xx → retry.
    fn failure(&self, call: &PlatformCall) -> ProviderError {
        let now = self.platform.clock.now();
        if let Some(reset) = self.exhausted_until(call).filter(|_| !call.ok()) {
            return ProviderError::RateLimited { reset };
        }
        match call.reply.status {
            429 => ProviderError::RateLimited { reset: now + chrono::Duration::minutes(1) },
            _ => call.failure(now),
        }
    }

    /// `POST /api/submit` (reddit.com/dev/api#POST_api_submit) with `form` and the post's flair:
    /// Reddit's answer, once neither the status nor its `json.errors` say it failed.
    async fn submit_form<'a>(
        &self,
        mut form: Vec<(&'a str, &'a str)>,
        post: &'a Submission,
        access_token: &str,
    ) -> Result<serde_json::Value, ProviderError> {
        if let Some(flair) = &post.flair_id {
            form.push(("flair_id", flair));
        }
        let url = self.settings.api("/api/submit");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| self.authed(b, access_token).form(&form))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let body: serde_json::Value = call.json()?;
        match json_errors(&body, self.platform.clock.now()) {
            Some(err) => Err(err),
            None => Ok(body),
        }
    }

    async fn submit(
        &self,
        subreddit: &str,
        text: &str,
        post: &Submission,
        access_token: &str,
    ) -> Result<Published, ProviderError> {
        let mut form = common_form(subreddit, post);
        match &post.link {
            Some(url) => form.extend([("kind", "link"), ("url", url.as_str())]),
            None => form.extend([("kind", "self"), ("text", text)]),
        }
        let body = self.submit_form(form, post, access_token).await?;
        let data = &body["json"]["data"];
        // The fullname (`t3_…`), which `delete` needs, or the bare id it is made from.
        let name = data["name"].as_str().map(str::to_owned).or_else(|| {
            data["id"]
                .as_str()
                .map(|id| if id.starts_with("t3_") { id.to_owned() } else { format!("t3_{id}") })
        });
        // Accepted without a name, the post may well be there: resending could post it twice.
        let name = name.ok_or_else(|| ProviderError::OutcomeUnknown {
            message: "Reddit accepted the post without naming it".into(),
        })?;
        Ok(Published {
            provider_post_id: name,
            url: data["url"].as_str().filter(|u| !u.is_empty()).map(str::to_owned),
        })
    }
}

#[async_trait]
impl Provider for Reddit {
    fn name(&self) -> &'static str {
        "reddit"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[ConnectField::text("subreddit", "Subreddit to post to")];
        FIELDS
    }

    /// `{"subreddit": "rust"}`.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match serde_json::from_value::<RedditConfig>(config.clone()) {
            Ok(parsed) => match subreddit_name(&parsed.subreddit) {
                Ok(name) if name == parsed.subreddit => Vec::new(),
                Ok(_) => vec![TargetIssue::new("/subreddit", "the subreddit is stored without `r/`")],
                Err(message) => vec![TargetIssue::new("/subreddit", message)],
            },
            Err(err) => vec![TargetIssue::new("", err.to_string())],
        }
    }

    fn validate_target(
        &self,
        _channel: &Channel,
        text: &str,
        options: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        submission(options, text).err().unwrap_or_default()
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT, counted_in: "characters" })
    }

    fn validate_with_media(
        &self,
        _channel: &Channel,
        options: &serde_json::Value,
        media: &[MediaFacts],
    ) -> Vec<TargetIssue> {
        // Options Reddit cannot read are `validate_target`'s to report.
        let kind = options.get("kind").and_then(|k| k.as_str());
        media_conflict(kind, media.len()).into_iter().collect()
    }

    /// Images only: JPEG, PNG or GIF up to 20 MB, one (an image post) or up to 20 (a gallery).
    /// No video: Crier does not implement Reddit's video posts.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_IMAGES,
            max_videos: 0,
            image_types: IMAGE_TYPES.map(String::from).to_vec(),
            max_image_bytes: Some(MAX_IMAGE_BYTES),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        self.start_connect(request)
    }

    async fn finish_connect(&self, request: &CallbackRequest<'_>) -> Result<Connection, ConnectError> {
        self.complete_connect(request).await
    }

    /// Revokes the refresh token (and with it the access tokens it issued):
    /// github.com/reddit-archive/reddit/wiki/OAuth2#manually-revoking-a-token.
    async fn disconnect(&self, _channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        let tokens: oauth::Tokens = credentials.parse()?;
        let form = [("token", tokens.refresh_token.as_str()), ("token_type_hint", "refresh_token")];
        let url = self.settings.auth("/api/v1/revoke_token");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                self.client_auth(b.header(reqwest::header::USER_AGENT, &self.settings.user_agent)).form(&form)
            })
            .await?;
        if call.ok() { Ok(()) } else { Err(self.failure(&call)) }
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let post = submission(request.options, request.text).map_err(|issues| ProviderError::Rejected {
            code: "invalid_options".into(),
            message: issues
                .iter()
                .map(|i| format!("{}: {}", i.pointer, i.message))
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        if let Some(issue) = media_conflict(post.named_kind.as_deref(), request.media.len()) {
            return Err(ProviderError::Rejected { code: "invalid_options".into(), message: issue.message });
        }
        let config: RedditConfig = serde_json::from_value(request.channel.config.clone()).map_err(|err| {
            ProviderError::Rejected {
                code: "invalid_config".into(),
                message: format!("the channel's settings: {err}"),
            }
        })?;
        if request.media.is_empty() {
            let tokens = self.usable_tokens(request.channel).await?;
            return self.submit(&config.subreddit, request.text, &post, &tokens.access_token).await;
        }
        let files = self.load_images(request).await?;
        let tokens = self.usable_tokens(request.channel).await?;
        match files.as_slice() {
            [one] => {
                self.submit_image(&config.subreddit, request.text, &post, one, &tokens.access_token).await
            }
            many => {
                self.submit_gallery(&config.subreddit, request.text, &post, many, &tokens.access_token).await
            }
        }
    }

    /// Trades the refresh token for a new access token, stored at once.
    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let tokens = self.platform.vault.open(channel).await?.parse()?;
        self.refresh_tokens(channel, &tokens).await.map(|_| ())
    }

    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// `POST /api/del` with `id` the post's fullname `t3_…` (reddit.com/dev/api#POST_api_del).
    /// Reddit answers `{}` for a post already gone as for one it deleted; a 404 counts as
    /// deleted too.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let name = request.provider_post_id;
        let id = name.strip_prefix("t3_").unwrap_or_default();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{name:?} is not a Reddit post fullname"),
            });
        }
        let tokens = self.usable_tokens(request.channel).await?;
        let url = self.settings.api("/api/del");
        let form = [("id", name)];
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| self.authed(b, &tokens.access_token).form(&form))
            .await?;
        if call.ok() || call.reply.status == 404 {
            return Ok(());
        }
        Err(self.failure(&call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subreddit_names() {
        assert_eq!(subreddit_name("r/rust").unwrap(), "rust");
        assert_eq!(subreddit_name("/r/rust_gamedev/").unwrap(), "rust_gamedev");
        assert!(subreddit_name("ab").is_err());
        assert!(subreddit_name("a".repeat(22).as_str()).is_err());
        assert!(subreddit_name("no-dash").is_err());
    }

    #[test]
    fn post_ids_are_read_from_addresses() {
        let url = "https://www.reddit.com/r/rust/comments/1a2b3c/hello_world/";
        assert_eq!(fullname_in(url).as_deref(), Some("t3_1a2b3c"));
        assert_eq!(fullname_in("https://www.reddit.com/r/rust/comments/x9?a=b").as_deref(), Some("t3_x9"));
        assert_eq!(fullname_in("https://www.reddit.com/r/rust/"), None);
        assert_eq!(fullname_in("https://www.reddit.com/r/rust/comments//"), None);
        assert_eq!(fullname_in("https://www.reddit.com/r/rust/comments/A-B/"), None);
    }

    #[test]
    fn media_conflicts_with_a_named_kind() {
        assert!(media_conflict(None, 3).is_none());
        assert!(media_conflict(Some("link"), 0).is_none());
        let issue = media_conflict(Some("link"), 1).unwrap();
        assert_eq!(issue.pointer, "/options/kind");
        assert!(issue.message.contains("`link` post carries no images"), "{}", issue.message);
        assert!(media_conflict(Some("self"), 2).is_some());
    }

    #[test]
    fn waits_named_in_rate_limit_messages() {
        let wait = named_wait("you are doing that too much. try again in 9 minutes.");
        assert_eq!(wait, Some(chrono::Duration::minutes(9)));
        assert_eq!(named_wait("Take a break for 30 seconds"), Some(chrono::Duration::seconds(30)));
        assert_eq!(named_wait("slow down"), None);
    }
}
