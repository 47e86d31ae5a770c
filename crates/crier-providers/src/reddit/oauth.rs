//! Connecting a Reddit account and keeping its token fresh: OAuth2 authorization code flow
//! (github.com/reddit-archive/reddit/wiki/OAuth2), Crier a confidential "web app" client (HTTP
//! Basic with the app's id and secret at the token endpoint). `duration=permanent` brings a
//! refresh token; access tokens last one hour. Should Reddit answer a refresh with a new refresh
//! token, it replaces the old one in the vault at once.

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::{Reddit, subreddit_name};
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// The account's identity, submitting posts, reading (flair and subreddit lookups), and `edit`
/// for deleting a post (`/api/del`, reddit.com/dev/api by oauth scope).
pub(super) const SCOPES: &str = "identity submit read edit";
/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::minutes(5);
/// Reddit's access tokens last an hour.
const DEFAULT_LIFETIME: i64 = 3600;

/// What is sealed for a Reddit channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

/// The state of a connection in progress, sealed until the user comes back.
#[derive(Serialize, Deserialize)]
struct Flow {
    subreddit: String,
}

/// The token endpoint's answer. Reddit may answer 200 with `{"error": ...}` alone.
#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// `GET /api/v1/me` (reddit.com/dev/api#GET_api_v1_me), the fields Crier uses.
#[derive(Deserialize)]
struct Me {
    id: String,
    name: String,
    #[serde(default)]
    icon_img: Option<String>,
}

impl Reddit {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        for key in request.params.keys() {
            if key != "subreddit" {
                return Err(ConnectError::invalid(&format!("/{key}"), "Reddit takes only `subreddit`"));
            }
        }
        let raw = request
            .params
            .get("subreddit")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ConnectError::invalid("/subreddit", "the subreddit to post to is required"))?;
        let subreddit =
            subreddit_name(raw).map_err(|message| ConnectError::invalid("/subreddit", message))?;
        // github.com/reddit-archive/reddit/wiki/OAuth2#authorization
        let mut authorize_url = url::Url::parse(&self.settings.auth("/api/v1/authorize")).map_err(|_| {
            ConnectError::Unavailable { message: "Reddit's consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("response_type", "code")
            .append_pair("state", request.state)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("duration", "permanent")
            .append_pair("scope", SCOPES);
        Ok(ConnectStart::Redirect {
            authorize_url: authorize_url.into(),
            flow: Credentials::to_json(&Flow { subreddit }),
        })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        let flow: Flow = request.flow.parse().map_err(|_| ConnectError::Refused {
            message: "this connection's saved state is not a Reddit one; start connecting again".into(),
        })?;
        // github.com/reddit-archive/reddit/wiki/OAuth2#retrieving-the-access-token
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("redirect_uri", request.callback_url),
        ];
        let url = self.settings.auth("/api/v1/access_token");
        let call = self
            .platform
            .connect_call(reqwest::Method::POST, &url, |b| {
                self.client_auth(b.header(reqwest::header::USER_AGENT, &self.settings.user_agent)).form(&form)
            })
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let reply: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        if let Some(error) = &reply.error {
            return Err(ConnectError::Refused { message: format!("Reddit refused the code: {error}") });
        }
        let tokens = self.tokens_of(reply, None).map_err(ConnectError::unreadable)?;
        // reddit.com/dev/api#GET_api_v1_me
        let url = self.settings.api("/api/v1/me");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| self.authed(b, &tokens.access_token))
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let me: Me = call.json().map_err(ConnectError::unreadable)?;
        Ok(Connection {
            account: ChannelAccount {
                id: me.id,
                handle: format!("u/{}", me.name),
                display_name: None,
                // Reddit escapes `&` in this URL as HTML would.
                avatar_url: me.icon_img.filter(|a| !a.is_empty()).map(|a| a.replace("&amp;", "&")),
            },
            config: serde_json::json!({ "subreddit": flow.subreddit }),
            credentials: Credentials::to_json(&tokens),
        })
    }

    /// The channel's tokens, refreshed first when the access token has expired or is about to.
    pub(super) async fn usable_tokens(&self, channel: &Channel) -> Result<Tokens, ProviderError> {
        let tokens: Tokens = self.platform.vault.open(channel).await?.parse()?;
        if tokens.expires_at > (self.platform.clock.now() + EXPIRY_MARGIN).timestamp() {
            return Ok(tokens);
        }
        self.refresh_tokens(channel, &tokens).await
    }

    /// `grant_type=refresh_token` (github.com/reddit-archive/reddit/wiki/OAuth2#refreshing-the-token);
    /// the new token (and a new refresh token, when Reddit sends one) is stored before use.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", tokens.refresh_token.as_str())];
        let url = self.settings.auth("/api/v1/access_token");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                self.client_auth(b.header(reqwest::header::USER_AGENT, &self.settings.user_agent)).form(&form)
            })
            .await?;
        let refused = |detail: String| ProviderError::AuthExpired {
            message: format!("Reddit refused to refresh the channel's token: {detail}; reconnect it"),
        };
        if !call.ok() {
            return Err(match call.reply.status {
                400 | 401 | 403 => refused(call.error_message()),
                _ => self.failure(&call),
            });
        }
        let reply: TokenReply = call.json()?;
        if let Some(error) = &reply.error {
            return Err(refused(error.to_string()));
        }
        let fresh = self.tokens_of(reply, Some(&tokens.refresh_token))?;
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }

    fn tokens_of(&self, reply: TokenReply, previous_refresh: Option<&str>) -> Result<Tokens, ProviderError> {
        let access_token =
            reply.access_token.filter(|t| !t.is_empty()).ok_or_else(|| ProviderError::Retryable {
                after: None,
                message: "Reddit's token answer has no access token".into(),
            })?;
        let refresh_token = crate::connect::kept_refresh_token(
            reply.refresh_token,
            previous_refresh,
            "Reddit gave no refresh token (duration=permanent was not granted)",
        )?;
        let lifetime = reply.expires_in.unwrap_or(DEFAULT_LIFETIME);
        Ok(Tokens {
            access_token,
            refresh_token,
            expires_at: self.platform.clock.now().timestamp() + lifetime,
        })
    }
}
