//! Connecting a Threads user and keeping the token: the authorization window and code exchange
//! (developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions), the
//! exchange for a 60-day token and its refresh
//! (developers.facebook.com/docs/threads/get-started/long-lived-tokens).

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::Threads;
use crate::meta::connect_failure;
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// `threads_delete` lets Crier delete the posts it made
/// (developers.facebook.com/docs/threads/posts/delete-posts).
pub(super) const SCOPES: &str = "threads_basic,threads_content_publish,threads_delete";
/// A token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::days(7);
/// Threads refreshes only tokens at least a day old.
const MIN_AGE_TO_REFRESH: i64 = 86_400;
/// Long-lived tokens last 60 days.
const LONG_LIVED: i64 = 60 * 86_400;

/// What is sealed for a Threads channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    pub access_token: String,
    /// When it expires, and when it was issued (Unix seconds).
    pub expires_at: i64,
    pub issued_at: i64,
    /// The Threads user id the posts are made as.
    pub user_id: String,
}

#[derive(Deserialize)]
struct CodeReply {
    access_token: String,
}

#[derive(Deserialize)]
struct LongReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct Me {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    threads_profile_picture_url: Option<String>,
}

impl Threads {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        if !request.params.is_empty() {
            return Err(ConnectError::invalid("", "Threads takes no connection fields"));
        }
        // developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions#step-1--get-authorization
        let base = self.settings.threads_auth_base.trim_end_matches('/');
        let mut authorize_url = url::Url::parse(&format!("{base}/oauth/authorize")).map_err(|_| {
            ConnectError::Unavailable { message: "the Threads consent page address is not valid".into() }
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_id", &self.settings.app_id)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("scope", SCOPES)
            .append_pair("response_type", "code")
            .append_pair("state", request.state);
        Ok(ConnectStart::Redirect { authorize_url: authorize_url.into(), flow: Credentials::to_json(&()) })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        // developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions#step-2--exchange-the-code-for-a-token
        let form = [
            ("client_id", self.settings.app_id.as_str()),
            ("client_secret", self.settings.app_secret.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", request.callback_url),
            ("code", request.code),
        ];
        let url = format!("{}/oauth/access_token", self.settings.threads_base.trim_end_matches('/'));
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let short: CodeReply = call.json().map_err(ConnectError::unreadable)?;
        // developers.facebook.com/docs/threads/get-started/long-lived-tokens#get-a-long-lived-token
        let query = [
            ("grant_type", "th_exchange_token"),
            ("client_secret", self.settings.app_secret.as_str()),
            ("access_token", short.access_token.as_str()),
        ];
        let url = format!("{}/access_token", self.settings.threads_base.trim_end_matches('/'));
        let call = self.platform.connect_call(reqwest::Method::GET, &url, |b| b.query(&query)).await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let long: LongReply = call.json().map_err(ConnectError::unreadable)?;
        // developers.facebook.com/docs/threads/threads-profiles#retrieve-a-threads-user-s-profile-information
        let url = self.api("/me");
        let fields = [("fields", "id,username,name,threads_profile_picture_url")];
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&long.access_token).query(&fields))
            .await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let me: Me = call.json().map_err(ConnectError::unreadable)?;
        let tokens = self.tokens_of(long, me.id.clone());
        let handle = me.username.clone().unwrap_or_else(|| me.id.clone());
        Ok(Connection {
            account: ChannelAccount {
                id: me.id,
                handle,
                display_name: me.name.filter(|n| !n.is_empty()),
                avatar_url: me.threads_profile_picture_url.filter(|p| !p.is_empty()),
            },
            config: serde_json::json!({}),
            credentials: Credentials::to_json(&tokens),
        })
    }

    fn tokens_of(&self, reply: LongReply, user_id: String) -> Tokens {
        let now = self.platform.clock.now().timestamp();
        Tokens {
            access_token: reply.access_token,
            expires_at: now + reply.expires_in.unwrap_or(LONG_LIVED),
            issued_at: now,
            user_id,
        }
    }

    /// The channel's token, refreshed first when it expires within a week (and is old enough).
    pub(super) async fn usable_tokens(&self, channel: &Channel) -> Result<Tokens, ProviderError> {
        let tokens: Tokens = self.platform.vault.open(channel).await?.parse()?;
        let now = self.platform.clock.now();
        let due = tokens.expires_at <= (now + EXPIRY_MARGIN).timestamp();
        if due
            && tokens.expires_at > now.timestamp()
            && now.timestamp() - tokens.issued_at >= MIN_AGE_TO_REFRESH
        {
            return self.refresh_tokens(channel, &tokens).await;
        }
        Ok(tokens)
    }

    /// `GET /refresh_access_token?grant_type=th_refresh_token`
    /// (developers.facebook.com/docs/threads/get-started/long-lived-tokens#refresh-a-long-lived-token):
    /// a new 60-day token for an unexpired one, stored before use. An expired token cannot be
    /// refreshed: the user connects again.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        if tokens.expires_at <= self.platform.clock.now().timestamp() {
            return Err(ProviderError::AuthExpired {
                message: "the channel's Threads token has expired (Threads refreshes only live tokens); reconnect it"
                    .into(),
            });
        }
        let query = [("grant_type", "th_refresh_token"), ("access_token", tokens.access_token.as_str())];
        let url = format!("{}/refresh_access_token", self.settings.threads_base.trim_end_matches('/'));
        let call = self.platform.call(reqwest::Method::GET, &url, |b| b.query(&query)).await?;
        if !call.ok() {
            return Err(match self.failure(&call) {
                ProviderError::AuthExpired { message } | ProviderError::Rejected { message, .. } => {
                    ProviderError::AuthExpired {
                        message: format!(
                            "Threads refused to refresh the channel's token: {message}; reconnect it"
                        ),
                    }
                }
                other => other,
            });
        }
        let reply: LongReply = call.json()?;
        let fresh = self.tokens_of(reply, tokens.user_id.clone());
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }
}
