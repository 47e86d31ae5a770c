//! Installing Crier's Slack app and keeping its bot token: OAuth v2
//! (docs.slack.dev/authentication/installing-with-oauth), Crier a confidential client (HTTP Basic
//! with the app's id and secret at `oauth.v2.access`, as Slack recommends). With token rotation on
//! (docs.slack.dev/authentication/using-token-rotation) the bot token lasts 12 hours and comes with
//! a refresh token that each refresh spends: the new pair is stored at once.

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::{Slack, channel_id};
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Bot scopes: posting, sharing files and reading their shares, finding the channel (public and
/// private) and joining a public one so files can be shared there.
pub(super) const SCOPES: &str = "chat:write files:write files:read channels:read groups:read channels:join";
/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// What is sealed for a Slack channel. `refresh_token` and `expires_at` only with token rotation.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// The state of a connection in progress, sealed until the user comes back.
#[derive(Serialize, Deserialize)]
struct Flow {
    channel: String,
}

/// `oauth.v2.access`'s answer (docs.slack.dev/reference/methods/oauth.v2.access), the fields
/// Crier uses.
#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    team: Option<Team>,
}

#[derive(Deserialize)]
struct Team {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// `conversations.info`'s `channel` (docs.slack.dev/reference/methods/conversations.info).
#[derive(Deserialize)]
struct ChannelInfo {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    is_member: bool,
    #[serde(default)]
    is_archived: bool,
}

/// A failure while connecting: Slack's refusal is the user's to fix, its trouble is not.
fn connect_error(err: ProviderError) -> ConnectError {
    match err {
        ProviderError::Retryable { message, .. } | ProviderError::OutcomeUnknown { message } => {
            ConnectError::Unavailable { message }
        }
        ProviderError::RateLimited { reset } => {
            ConnectError::Unavailable { message: format!("Slack is rate limiting Crier until {reset}") }
        }
        ProviderError::AuthExpired { message } | ProviderError::Rejected { message, .. } => {
            ConnectError::Refused { message }
        }
    }
}

impl Slack {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        for key in request.params.keys() {
            if key != "channel" {
                return Err(ConnectError::invalid(&format!("/{key}"), "Slack takes only `channel`"));
            }
        }
        let raw = request.params.get("channel").and_then(|v| v.as_str()).ok_or_else(|| {
            ConnectError::invalid("/channel", "the id of the channel to post to is required")
        })?;
        let channel = channel_id(raw).map_err(|message| ConnectError::invalid("/channel", message))?;
        // docs.slack.dev/authentication/installing-with-oauth#asking
        let base = self.settings.auth_base.trim_end_matches('/');
        let mut authorize_url = url::Url::parse(&format!("{base}/oauth/v2/authorize")).map_err(|_| {
            ConnectError::Unavailable { message: "Slack's consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("scope", SCOPES)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("state", request.state);
        Ok(ConnectStart::Redirect {
            authorize_url: authorize_url.into(),
            flow: Credentials::to_json(&Flow { channel }),
        })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        let flow: Flow = request.flow.parse().map_err(|_| ConnectError::Refused {
            message: "this connection's saved state is not a Slack one; start connecting again".into(),
        })?;
        // docs.slack.dev/reference/methods/oauth.v2.access
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("redirect_uri", request.callback_url),
        ];
        let reply = self.token_call(&form).await.map_err(connect_error)?;
        let tokens = self.tokens_of(&reply, None).map_err(ConnectError::unreadable)?;
        let token = &tokens.access_token;
        // docs.slack.dev/reference/methods/conversations.info
        let form = [("channel", flow.channel.as_str())];
        let info = self.api("conversations.info", token, |b| b.form(&form)).await.map_err(connect_error)?;
        let info: ChannelInfo = serde_json::from_value(info["channel"].clone()).map_err(|err| {
            ConnectError::Unavailable { message: format!("Slack's channel answer is unreadable: {err}") }
        })?;
        if info.is_archived {
            return Err(ConnectError::invalid("/channel", "the channel is archived"));
        }
        if !info.is_member {
            if info.is_private {
                return Err(ConnectError::invalid(
                    "/channel",
                    "the app is not in this private channel: invite it (/invite @app), then connect again",
                ));
            }
            // docs.slack.dev/reference/methods/conversations.join
            self.api("conversations.join", token, |b| b.form(&form)).await.map_err(connect_error)?;
        }
        let team = reply.team.unwrap_or(Team { id: String::new(), name: None });
        Ok(Connection {
            account: ChannelAccount {
                id: format!("{}/{}", team.id, info.id),
                handle: format!("#{}", info.name.as_deref().unwrap_or(&info.id)),
                display_name: team.name,
                avatar_url: None,
            },
            config: serde_json::json!({ "channel": info.id }),
            credentials: Credentials::to_json(&tokens),
        })
    }

    /// `oauth.v2.access` with the app's credentials; Slack answers its refusals with HTTP 200 and
    /// `ok: false` (`invalid_code`, `invalid_refresh_token`…).
    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenReply, ProviderError> {
        let url = self.settings.method("oauth.v2.access");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                b.basic_auth(&self.settings.client_id, Some(&self.settings.client_secret)).form(form)
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let body: serde_json::Value = call.json()?;
        if body["ok"].as_bool() != Some(true) {
            let error = body["error"].as_str().unwrap_or("unknown_error");
            return Err(match error {
                "ratelimited" | "internal_error" | "fatal_error" | "service_unavailable" => {
                    self.failure(&call)
                }
                _ => ProviderError::AuthExpired { message: format!("Slack refused the grant ({error})") },
            });
        }
        serde_json::from_value(body).map_err(|err| ProviderError::Retryable {
            after: None,
            message: format!("Slack's token answer is unreadable: {err}"),
        })
    }

    /// The channel's tokens, refreshed first when a rotating token has expired or is about to.
    pub(super) async fn usable_tokens(&self, channel: &Channel) -> Result<Tokens, ProviderError> {
        let tokens: Tokens = self.platform.vault.open(channel).await?.parse()?;
        match tokens.expires_at {
            Some(at) if at <= (self.platform.clock.now() + EXPIRY_MARGIN).timestamp() => {
                self.refresh_tokens(channel, &tokens).await
            }
            _ => Ok(tokens),
        }
    }

    /// `grant_type=refresh_token` (docs.slack.dev/authentication/using-token-rotation); the new
    /// pair is stored before use, since the old refresh token is spent.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        let Some(refresh_token) = &tokens.refresh_token else {
            return Err(ProviderError::AuthExpired {
                message: "Slack refused the bot token, which has no refresh token (the app does not rotate \
                          tokens); reconnect the channel"
                    .into(),
            });
        };
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
        let reply = self.token_call(&form).await.map_err(|err| match err {
            ProviderError::AuthExpired { message } => ProviderError::AuthExpired {
                message: format!("{message} while refreshing the channel's token; reconnect it"),
            },
            other => other,
        })?;
        let fresh = self.tokens_of(&reply, Some(refresh_token))?;
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }

    fn tokens_of(&self, reply: &TokenReply, previous_refresh: Option<&str>) -> Result<Tokens, ProviderError> {
        if reply.access_token.is_empty() {
            return Err(ProviderError::Retryable {
                after: None,
                message: "Slack's token answer has no access token".into(),
            });
        }
        let now = self.platform.clock.now().timestamp();
        Ok(Tokens {
            access_token: reply.access_token.clone(),
            refresh_token: reply.refresh_token.clone().or_else(|| previous_refresh.map(str::to_owned)),
            expires_at: reply.expires_in.map(|secs| now + secs),
        })
    }
}
