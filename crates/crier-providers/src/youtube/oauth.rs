//! Connecting a Google account's YouTube channel and keeping its token fresh: Google's OAuth 2
//! web-server flow with PKCE (developers.google.com/identity/protocols/oauth2/web-server), the
//! app's id and secret in the token request's body, the channel from `channels.list?mine=true`
//! (developers.google.com/youtube/v3/docs/channels/list). Access tokens last an hour.

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::errors::google_error;
use super::{YouTube, scopes};
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::minutes(5);
/// Google's access tokens last an hour.
const DEFAULT_LIFETIME: i64 = 3600;

/// What is sealed for a YouTube channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
    /// The scopes Google last said the grant has (space-separated), at connect and at each
    /// refresh that answers them; absent for channels connected before Crier kept them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The state of a connection in progress, sealed until the user comes back.
#[derive(Serialize, Deserialize)]
struct Flow {
    code_verifier: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    /// The scopes granted, space-separated.
    #[serde(default)]
    scope: Option<String>,
}

/// `channels.list` with `part=snippet`, the fields Crier uses.
#[derive(Deserialize)]
struct ChannelList {
    #[serde(default)]
    items: Vec<ChannelItem>,
}

#[derive(Deserialize)]
struct ChannelItem {
    id: String,
    snippet: Snippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snippet {
    title: String,
    #[serde(default)]
    custom_url: Option<String>,
    #[serde(default)]
    thumbnails: serde_json::Value,
}

impl YouTube {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        if !request.params.is_empty() {
            return Err(ConnectError::invalid("", "YouTube takes no connection fields"));
        }
        let (code_verifier, code_challenge) = crate::connect::pkce();
        // developers.google.com/identity/protocols/oauth2/web-server#creatingclient
        let base = self.settings.auth_base.trim_end_matches('/');
        let mut authorize_url = url::Url::parse(&format!("{base}/o/oauth2/v2/auth")).map_err(|_| {
            ConnectError::Unavailable { message: "Google's consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("response_type", "code")
            .append_pair("scope", &scopes::requested(self.settings.delete_videos))
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("state", request.state)
            .append_pair("code_challenge", &code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(ConnectStart::Redirect {
            authorize_url: authorize_url.into(),
            flow: Credentials::to_json(&Flow { code_verifier }),
        })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        let flow: Flow = request.flow.parse().map_err(|_| ConnectError::Refused {
            message: "this connection's saved state is not a YouTube one; start connecting again".into(),
        })?;
        // developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("redirect_uri", request.callback_url),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
            ("code_verifier", flow.code_verifier.as_str()),
        ];
        let url = self.settings.oauth("/token");
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let reply: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        let tokens = self.tokens_of(reply, None).map_err(ConnectError::unreadable)?;
        // What the user actually granted: `can_delete` reads it from the config.
        let config = match &tokens.scope {
            Some(scope) => serde_json::json!({ scopes::GRANTED_KEY: scopes::parse(scope) }),
            None => serde_json::json!({}),
        };
        // developers.google.com/youtube/v3/docs/channels/list
        let url = self.settings.api("/youtube/v3/channels?part=snippet&mine=true");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if !call.ok() {
            return Err(match call.connect_failure() {
                ConnectError::Refused { .. } => {
                    ConnectError::Refused { message: google_error(&call).message }
                }
                other => other,
            });
        }
        let list: ChannelList = call.json().map_err(ConnectError::unreadable)?;
        let Some(channel) = list.items.into_iter().next() else {
            return Err(ConnectError::Refused {
                message: "this Google account has no YouTube channel; create one at youtube.com first".into(),
            });
        };
        let avatar = ["high", "medium", "default"]
            .iter()
            .find_map(|size| channel.snippet.thumbnails[*size]["url"].as_str())
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        Ok(Connection {
            account: ChannelAccount {
                handle: channel
                    .snippet
                    .custom_url
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| channel.id.clone()),
                id: channel.id,
                display_name: Some(channel.snippet.title).filter(|t| !t.trim().is_empty()),
                avatar_url: avatar,
            },
            config,
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

    /// `grant_type=refresh_token` (developers.google.com/identity/protocols/oauth2/web-server#offline);
    /// the new access token (and a refresh token, when Google answers one) stored before use.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.as_str()),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
        ];
        let url = self.settings.oauth("/token");
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if !call.ok() {
            return Err(match call.reply.status {
                // `invalid_grant`: the refresh token was revoked, expired or is unknown.
                400 | 401 | 403 => ProviderError::AuthExpired {
                    message: format!(
                        "Google refused to refresh the channel's token: {}; reconnect it",
                        google_error(&call).message
                    ),
                },
                _ => self.failure(&call),
            });
        }
        let reply: TokenReply = call.json()?;
        let mut fresh = self.tokens_of(reply, Some(&tokens.refresh_token))?;
        // Google answers `scope` on refresh too; when it does not, the grant is unchanged.
        if fresh.scope.is_none() {
            fresh.scope.clone_from(&tokens.scope);
        }
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }

    fn tokens_of(&self, reply: TokenReply, previous_refresh: Option<&str>) -> Result<Tokens, ProviderError> {
        crate::connect::require_access_token(&reply.access_token, "Google")?;
        let refresh_token = crate::connect::kept_refresh_token(
            reply.refresh_token.filter(|t| !t.is_empty()),
            previous_refresh,
            "Google gave no refresh token (the consent must ask for offline access)",
        )?;
        Ok(Tokens {
            access_token: reply.access_token,
            refresh_token,
            expires_at: self.platform.clock.now().timestamp() + reply.expires_in.unwrap_or(DEFAULT_LIFETIME),
            scope: reply.scope.filter(|s| !s.trim().is_empty()),
        })
    }

    /// Revokes the grant (developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke):
    /// revoking the refresh token ends the access tokens with it.
    pub(super) async fn revoke(&self, credentials: &Credentials) -> Result<(), ProviderError> {
        let tokens: Tokens = credentials.parse()?;
        let form = [("token", tokens.refresh_token.as_str())];
        let url = self.settings.oauth("/revoke");
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        // 400 `invalid_token`: already revoked or expired, nothing left to revoke.
        if call.ok() || call.reply.status == 400 {
            return Ok(());
        }
        Err(self.failure(&call))
    }
}
