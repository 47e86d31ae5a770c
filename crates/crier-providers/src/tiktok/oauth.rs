//! Connecting a TikTok user and keeping the token fresh: Login Kit's authorization code flow
//! (developers.tiktok.com/doc/login-kit-web) with PKCE, the code exchanged and refreshed at
//! `POST /v2/oauth/token/` (developers.tiktok.com/doc/oauth-user-access-token-management), the
//! user from `GET /v2/user/info/` (developers.tiktok.com/doc/tiktok-api-v2-get-user-info).
//! Access tokens last 24 hours, refresh tokens a year; a refresh may answer a new refresh token.

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TikTok;
use super::errors::tiktok_error;
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Who the user is, and posting videos for them (comma-separated, as TikTok takes them).
pub(super) const SCOPES: &str = "user.info.basic,video.publish";
/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::hours(1);
/// TikTok's access tokens last 24 hours.
const DEFAULT_LIFETIME: i64 = 86_400;

/// What is sealed for a TikTok channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

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
    #[serde(default)]
    open_id: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    data: UserData,
}

#[derive(Deserialize)]
struct UserData {
    user: User,
}

#[derive(Deserialize)]
struct User {
    open_id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
}

/// TikTok's PKCE challenge: the verifier's SHA-256 as lowercase hex, as Login Kit documents it
/// (developers.tiktok.com/doc/login-kit-desktop, "code_challenge"), not RFC 7636's base64url.
fn challenge_of(verifier: &str) -> String {
    Sha256::digest(verifier.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn oauth_failure(call: &crate::PlatformCall) -> String {
    tiktok_error(call).map_or_else(|| format!("HTTP {}", call.reply.status), |e| e.message)
}

impl TikTok {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        if !request.params.is_empty() {
            return Err(ConnectError::invalid("", "TikTok takes no connection fields"));
        }
        let (code_verifier, _) = crate::connect::pkce();
        // developers.tiktok.com/doc/login-kit-web (step 2, the authorization request)
        let base = self.settings.auth_base.trim_end_matches('/');
        let mut authorize_url = url::Url::parse(&format!("{base}/v2/auth/authorize/")).map_err(|_| {
            ConnectError::Unavailable { message: "TikTok's consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_key", &self.settings.client_key)
            .append_pair("scope", SCOPES)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("state", request.state)
            .append_pair("code_challenge", &challenge_of(&code_verifier))
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
            message: "this connection's saved state is not a TikTok one; start connecting again".into(),
        })?;
        // developers.tiktok.com/doc/oauth-user-access-token-management (fetch an access token)
        let form = [
            ("client_key", self.settings.client_key.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
            ("code", request.code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", request.callback_url),
            ("code_verifier", flow.code_verifier.as_str()),
        ];
        let url = self.settings.api("/v2/oauth/token/");
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if tiktok_error(&call).is_some() {
            return Err(match call.connect_failure() {
                ConnectError::Refused { .. } => ConnectError::Refused { message: oauth_failure(&call) },
                other => other,
            });
        }
        let reply: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        let open_id = reply.open_id.clone();
        let tokens = self.tokens_of(reply, None).map_err(ConnectError::unreadable)?;
        // developers.tiktok.com/doc/tiktok-api-v2-get-user-info
        let url = self.settings.api("/v2/user/info/?fields=open_id,union_id,avatar_url,display_name");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if tiktok_error(&call).is_some() {
            return Err(match call.connect_failure() {
                ConnectError::Refused { .. } => ConnectError::Refused { message: oauth_failure(&call) },
                other => other,
            });
        }
        let user = call.json::<UserInfo>().map_err(ConnectError::unreadable)?.data.user;
        let id = open_id.filter(|o| !o.is_empty()).unwrap_or(user.open_id);
        let name = user.display_name.filter(|n| !n.trim().is_empty());
        Ok(Connection {
            account: ChannelAccount {
                handle: name.clone().unwrap_or_else(|| id.clone()),
                id,
                display_name: name,
                avatar_url: user.avatar_url.filter(|a| !a.is_empty()),
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

    /// `grant_type=refresh_token` (developers.tiktok.com/doc/oauth-user-access-token-management,
    /// refresh an access token); the new pair stored before use, as the old refresh token may be
    /// spent.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let form = [
            ("client_key", self.settings.client_key.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.as_str()),
        ];
        let url = self.settings.api("/v2/oauth/token/");
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if let Some(error) = tiktok_error(&call) {
            return Err(match call.reply.status {
                // `invalid_grant` and friends come with 200 or 4xx: the grant is gone.
                status if status < 500 && status != 429 => ProviderError::AuthExpired {
                    message: format!(
                        "TikTok refused to refresh the channel's token: {}; reconnect it",
                        error.message
                    ),
                },
                status => self.failure_of(status, error.code, error.message),
            });
        }
        let reply: TokenReply = call.json()?;
        let fresh = self.tokens_of(reply, Some(&tokens.refresh_token))?;
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }

    fn tokens_of(&self, reply: TokenReply, previous_refresh: Option<&str>) -> Result<Tokens, ProviderError> {
        crate::connect::require_access_token(&reply.access_token, "TikTok")?;
        let refresh_token = crate::connect::kept_refresh_token(
            reply.refresh_token.filter(|t| !t.is_empty()),
            previous_refresh,
            "TikTok gave no refresh token",
        )?;
        Ok(Tokens {
            access_token: reply.access_token,
            refresh_token,
            expires_at: self.platform.clock.now().timestamp() + reply.expires_in.unwrap_or(DEFAULT_LIFETIME),
        })
    }

    /// `POST /v2/oauth/revoke/` (developers.tiktok.com/doc/oauth-user-access-token-management,
    /// revoke access): the user's grant to the app ends.
    pub(super) async fn revoke(&self, credentials: &Credentials) -> Result<(), ProviderError> {
        let tokens: Tokens = credentials.parse()?;
        let form = [
            ("client_key", self.settings.client_key.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
            ("token", tokens.access_token.as_str()),
        ];
        let url = self.settings.api("/v2/oauth/revoke/");
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        match tiktok_error(&call) {
            None => Ok(()),
            // A token already expired or revoked: nothing is left to revoke.
            Some(_) if call.reply.status < 500 && call.reply.status != 429 => Ok(()),
            Some(error) => Err(self.failure_of(call.reply.status, error.code, error.message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_hex() {
        assert_eq!(challenge_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
