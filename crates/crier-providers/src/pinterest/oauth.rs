//! Connecting a Pinterest account and keeping its token fresh: OAuth 2 authorization code
//! (developers.pinterest.com/docs/getting-started/set-up-authentication-and-authorization/), Crier
//! a confidential client (HTTP Basic with the app's id and secret at `POST /v5/oauth/token`,
//! developers.pinterest.com/docs/api/v5/oauth-token). Access tokens last 30 days, refresh tokens a
//! year; with `continuous_refresh` each refresh answers a new refresh token, stored at once.

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::{Pinterest, board_id};
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Reading boards and the account, creating Pins (comma-separated, as Pinterest takes them).
pub(super) const SCOPES: &str = "boards:read,pins:read,pins:write,user_accounts:read";
/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::days(1);
/// Pinterest's access tokens last 30 days.
const DEFAULT_LIFETIME: i64 = 30 * 86_400;

/// What is sealed for a Pinterest channel.
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
    board_id: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// `GET /v5/user_account` (developers.pinterest.com/docs/api/v5/user_account-get).
#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    id: Option<String>,
    username: String,
    #[serde(default)]
    business_name: Option<String>,
    #[serde(default)]
    profile_image: Option<String>,
}

/// `GET /v5/boards/{board_id}` (developers.pinterest.com/docs/api/v5/boards-get).
#[derive(Deserialize)]
struct Board {
    id: String,
    name: String,
}

impl Pinterest {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        for key in request.params.keys() {
            if key != "board_id" {
                return Err(ConnectError::invalid(&format!("/{key}"), "Pinterest takes only `board_id`"));
            }
        }
        let raw =
            request.params.get("board_id").and_then(|v| v.as_str()).ok_or_else(|| {
                ConnectError::invalid("/board_id", "the id of the board to pin to is required")
            })?;
        let board = board_id(raw).map_err(|message| ConnectError::invalid("/board_id", message))?;
        // developers.pinterest.com/docs/getting-started/set-up-authentication-and-authorization/
        let base = self.settings.auth_base.trim_end_matches('/');
        let mut authorize_url = url::Url::parse(&format!("{base}/oauth/")).map_err(|_| {
            ConnectError::Unavailable { message: "Pinterest's consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("response_type", "code")
            .append_pair("scope", SCOPES)
            .append_pair("state", request.state);
        Ok(ConnectStart::Redirect {
            authorize_url: authorize_url.into(),
            flow: Credentials::to_json(&Flow { board_id: board }),
        })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        let flow: Flow = request.flow.parse().map_err(|_| ConnectError::Refused {
            message: "this connection's saved state is not a Pinterest one; start connecting again".into(),
        })?;
        // developers.pinterest.com/docs/api/v5/oauth-token
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("redirect_uri", request.callback_url),
            ("continuous_refresh", "true"),
        ];
        let url = self.settings.api("/v5/oauth/token");
        let call = self
            .platform
            .connect_call(reqwest::Method::POST, &url, |b| self.client_auth(b).form(&form))
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let reply: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        let tokens = self.tokens_of(reply, None).map_err(ConnectError::unreadable)?;
        // developers.pinterest.com/docs/api/v5/user_account-get
        let url = self.settings.api("/v5/user_account");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let account: Account = call.json().map_err(ConnectError::unreadable)?;
        // developers.pinterest.com/docs/api/v5/boards-get
        let url = self.settings.api(&format!("/v5/boards/{}", flow.board_id));
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if call.reply.status == 404 || call.reply.status == 403 {
            return Err(ConnectError::invalid(
                "/board_id",
                format!("this account has no board {}: {}", flow.board_id, call.error_message()),
            ));
        }
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let board: Board = call.json().map_err(ConnectError::unreadable)?;
        Ok(Connection {
            account: ChannelAccount {
                id: account.id.unwrap_or_else(|| account.username.clone()),
                handle: account.username,
                display_name: account.business_name.filter(|n| !n.is_empty()).or(Some(board.name)),
                avatar_url: account.profile_image.filter(|a| !a.is_empty()),
            },
            config: serde_json::json!({ "board_id": board.id }),
            credentials: Credentials::to_json(&tokens),
        })
    }

    /// The app's own authentication at the token endpoint.
    fn client_auth(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder.basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
    }

    /// The channel's tokens, refreshed first when the access token has expired or is about to.
    pub(super) async fn usable_tokens(&self, channel: &Channel) -> Result<Tokens, ProviderError> {
        let tokens: Tokens = self.platform.vault.open(channel).await?.parse()?;
        if tokens.expires_at > (self.platform.clock.now() + EXPIRY_MARGIN).timestamp() {
            return Ok(tokens);
        }
        self.refresh_tokens(channel, &tokens).await
    }

    /// `grant_type=refresh_token` (developers.pinterest.com/docs/api/v5/oauth-token); the new
    /// token (and refresh token) is stored before use.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", tokens.refresh_token.as_str())];
        let url = self.settings.api("/v5/oauth/token");
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| self.client_auth(b).form(&form)).await?;
        if !call.ok() {
            return Err(match call.reply.status {
                400 | 401 | 403 => ProviderError::AuthExpired {
                    message: format!(
                        "Pinterest refused to refresh the channel's token: {}; reconnect it",
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

    fn tokens_of(&self, reply: TokenReply, previous_refresh: Option<&str>) -> Result<Tokens, ProviderError> {
        crate::connect::require_access_token(&reply.access_token, "Pinterest")?;
        let refresh_token = crate::connect::kept_refresh_token(
            reply.refresh_token,
            previous_refresh,
            "Pinterest gave no refresh token",
        )?;
        Ok(Tokens {
            access_token: reply.access_token,
            refresh_token,
            expires_at: self.platform.clock.now().timestamp() + reply.expires_in.unwrap_or(DEFAULT_LIFETIME),
        })
    }
}
