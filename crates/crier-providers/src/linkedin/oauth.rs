//! Connecting a LinkedIn member and keeping the token: the 3-legged authorization code flow
//! (learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow), the app's
//! id and secret in the token request's body as LinkedIn takes them, the member's id from OpenID
//! Connect's userinfo (learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2).
//! A refresh token comes only to apps approved for programmatic refresh
//! (learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens).

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::LinkedIn;
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Posting as the member, and who the member is (OpenID Connect).
pub(super) const SCOPES: &str = "openid profile w_member_social";
/// A token this close to its expiry is refreshed before use (when it can be).
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::days(1);
/// LinkedIn's access tokens last 60 days.
const DEFAULT_LIFETIME: i64 = 60 * 86_400;

/// What is sealed for a LinkedIn channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
    /// `urn:li:person:{sub}`: the author of the member's posts.
    pub author: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// `GET /v2/userinfo`, the claims Crier uses.
#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    picture: Option<String>,
}

impl LinkedIn {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        if !request.params.is_empty() {
            return Err(ConnectError::invalid("", "LinkedIn takes no connection fields"));
        }
        // learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow#step-2-request-an-authorization-code
        let mut authorize_url =
            url::Url::parse(&self.settings.auth("/oauth/v2/authorization")).map_err(|_| {
                ConnectError::Unavailable { message: "LinkedIn's consent page address is not valid".into() }
            })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("state", request.state)
            .append_pair("scope", SCOPES);
        // Nothing to carry to the callback but Crier's own state.
        Ok(ConnectStart::Redirect { authorize_url: authorize_url.into(), flow: Credentials::to_json(&()) })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        // learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow#step-3-exchange-authorization-code-for-an-access-token
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("redirect_uri", request.callback_url),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
        ];
        let url = self.settings.auth("/oauth/v2/accessToken");
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let reply: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        // learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2#api-request-to-retreive-member-details
        let url = self.settings.api("/v2/userinfo");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&reply.access_token))
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let me: UserInfo = call.json().map_err(ConnectError::unreadable)?;
        let author = format!("urn:li:person:{}", me.sub);
        let tokens = self.tokens_of(reply, None, author.clone()).map_err(ConnectError::unreadable)?;
        Ok(Connection {
            account: ChannelAccount {
                id: author,
                handle: me.name.clone().unwrap_or_else(|| me.sub.clone()),
                display_name: me.name,
                avatar_url: me.picture.filter(|p| !p.is_empty()),
            },
            config: serde_json::json!({}),
            credentials: Credentials::to_json(&tokens),
        })
    }

    /// The channel's tokens, refreshed first when the access token is about to expire and a
    /// refresh token allows it.
    pub(super) async fn usable_tokens(&self, channel: &Channel) -> Result<Tokens, ProviderError> {
        let tokens: Tokens = self.platform.vault.open(channel).await?.parse()?;
        let due = tokens.expires_at <= (self.platform.clock.now() + EXPIRY_MARGIN).timestamp();
        if due && tokens.refresh_token.is_some() {
            return self.refresh_tokens(channel, &tokens).await;
        }
        Ok(tokens)
    }

    /// `grant_type=refresh_token` (learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens);
    /// the new token (and refresh token, when LinkedIn sends one) is stored before use.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let Some(refresh_token) = &tokens.refresh_token else {
            return Err(ProviderError::AuthExpired {
                message: "LinkedIn refused the token and gave no refresh token (programmatic refresh needs \
                          LinkedIn's approval of the app); reconnect the channel"
                    .into(),
            });
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
        ];
        let url = self.settings.auth("/oauth/v2/accessToken");
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if !call.ok() {
            return Err(match call.reply.status {
                400 | 401 => ProviderError::AuthExpired {
                    message: format!(
                        "LinkedIn refused to refresh the channel's token: {}; reconnect it",
                        call.error_message()
                    ),
                },
                _ => self.failure(&call),
            });
        }
        let reply: TokenReply = call.json()?;
        let fresh = self.tokens_of(reply, Some(refresh_token), tokens.author.clone())?;
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }

    fn tokens_of(
        &self,
        reply: TokenReply,
        previous_refresh: Option<&str>,
        author: String,
    ) -> Result<Tokens, ProviderError> {
        if reply.access_token.is_empty() {
            return Err(ProviderError::Retryable {
                after: None,
                message: "LinkedIn's token answer has no access token".into(),
            });
        }
        Ok(Tokens {
            access_token: reply.access_token,
            refresh_token: reply.refresh_token.or_else(|| previous_refresh.map(str::to_owned)),
            expires_at: self.platform.clock.now().timestamp() + reply.expires_in.unwrap_or(DEFAULT_LIFETIME),
            author,
        })
    }
}
