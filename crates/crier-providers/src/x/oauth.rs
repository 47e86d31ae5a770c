//! Connecting an X account and keeping its token fresh: OAuth 2.0 authorization code with PKCE,
//! Crier a confidential client (HTTP Basic with the app's id and secret at the token endpoint).
//! Access tokens last two hours; `offline.access` brings a refresh token, which X rotates: each
//! refresh spends it and returns a new pair, stored at once.

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::X;
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Reading and writing posts, the account's identity, a refresh token, media uploads.
pub(super) const SCOPES: &str = "tweet.read tweet.write users.read offline.access media.write";
/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::minutes(2);
/// When a refresh token is refused, how long to look for a pair another worker is storing.
const ROTATION_RECHECKS: [std::time::Duration; 3] =
    [std::time::Duration::ZERO, std::time::Duration::from_millis(200), std::time::Duration::from_millis(800)];

/// What is sealed for an X channel.
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
    code_verifier: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct Me {
    data: User,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    profile_image_url: Option<String>,
}

impl X {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        if !request.params.is_empty() {
            return Err(ConnectError::invalid("", "X takes no connection fields"));
        }
        let (code_verifier, code_challenge) = crate::connect::pkce();
        let base = self.settings.auth_base.trim_end_matches('/');
        let mut authorize_url = url::Url::parse(&format!("{base}/i/oauth2/authorize")).map_err(|_| {
            ConnectError::Unavailable { message: "X's consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("scope", SCOPES)
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
            message: "this connection's saved state is not an X one; start connecting again".into(),
        })?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("redirect_uri", request.callback_url),
            ("code_verifier", &flow.code_verifier),
            ("client_id", &self.settings.client_id),
        ];
        let url = self.settings.api("/2/oauth2/token");
        let call = self
            .platform
            .connect_call(reqwest::Method::POST, &url, |b| {
                b.basic_auth(&self.settings.client_id, Some(&self.settings.client_secret)).form(&form)
            })
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let reply: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        let tokens = self.tokens_of(reply, None).map_err(ConnectError::unreadable)?;
        let url = self.settings.api("/2/users/me?user.fields=profile_image_url");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let me: Me = call.json().map_err(ConnectError::unreadable)?;
        Ok(Connection {
            account: ChannelAccount {
                id: me.data.id,
                handle: me.data.username,
                display_name: me.data.name.filter(|n| !n.trim().is_empty()),
                avatar_url: me.data.profile_image_url.filter(|a| !a.is_empty()),
            },
            config: serde_json::json!({}),
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

    /// `grant_type=refresh_token`; the new pair replaces the old in the vault before it is used.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.as_str()),
            ("client_id", self.settings.client_id.as_str()),
        ];
        let url = self.settings.api("/2/oauth2/token");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                b.basic_auth(&self.settings.client_id, Some(&self.settings.client_secret)).form(&form)
            })
            .await?;
        if !call.ok() {
            // Another worker may have spent this refresh token a moment ago: its pair is stored,
            // or about to be (it is written as soon as X answers).
            if call.reply.status == 400 {
                for wait in ROTATION_RECHECKS {
                    tokio::time::sleep(wait).await;
                    let stored: Tokens = self.platform.vault.open(channel).await?.parse()?;
                    if stored.refresh_token != tokens.refresh_token {
                        return Ok(stored);
                    }
                }
            }
            return Err(match call.reply.status {
                // A refresh token spent, revoked or expired (`invalid_request`, `invalid_grant`).
                400 | 401 | 403 => ProviderError::AuthExpired {
                    message: format!(
                        "X refused to refresh the channel's token: {}; reconnect it",
                        call.error_message()
                    ),
                },
                _ => self.failure(&call),
            });
        }
        let reply: TokenReply = call.json()?;
        let fresh = self.tokens_of(reply, Some(&tokens.refresh_token))?;
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }

    /// docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token
    /// (`POST /2/oauth2/revoke`, confidential clients authenticate with Basic auth).
    pub(super) async fn revoke(&self, tokens: &Tokens) -> Result<(), ProviderError> {
        let form = [
            ("token", tokens.refresh_token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", self.settings.client_id.as_str()),
        ];
        let url = self.settings.api("/2/oauth2/revoke");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                b.basic_auth(&self.settings.client_id, Some(&self.settings.client_secret)).form(&form)
            })
            .await?;
        if call.ok() { Ok(()) } else { Err(self.failure(&call)) }
    }

    fn tokens_of(&self, reply: TokenReply, previous_refresh: Option<&str>) -> Result<Tokens, ProviderError> {
        let refresh_token = crate::connect::kept_refresh_token(
            reply.refresh_token,
            previous_refresh,
            "X gave no refresh token (the offline.access scope was not granted)",
        )?;
        let lifetime = reply.expires_in.unwrap_or(7200);
        Ok(Tokens {
            access_token: reply.access_token,
            refresh_token,
            expires_at: self.platform.clock.now().timestamp() + lifetime,
        })
    }
}
