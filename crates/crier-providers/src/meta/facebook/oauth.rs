//! Connecting a Facebook Page: Facebook Login's code flow
//! (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow), the code exchanged
//! for a user token and that for a long-lived one
//! (developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived), then the
//! Page's own token read with it (developers.facebook.com/docs/pages-api/getting-started#page-access-token).

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::{Facebook, page_id};
use crate::meta::connect_failure;
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Listing the user's Pages, reading them and posting as them.
pub(super) const SCOPES: &str = "pages_show_list,pages_read_engagement,pages_manage_posts";
/// Long-lived user tokens last about 60 days.
const USER_TOKEN_LIFETIME: i64 = 60 * 86_400;
/// A user token this close to its end is renewed before a video upload needs it.
const USER_TOKEN_MARGIN: i64 = 7 * 86_400;

/// What is sealed for a Facebook channel.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Tokens {
    pub page_access_token: String,
    /// The long-lived user token the Page token was read with (to read it again).
    pub user_access_token: String,
    /// When the user token expires (Unix seconds).
    pub user_expires_at: i64,
}

/// Carried through the consent page.
#[derive(Serialize, Deserialize)]
struct Flow {
    page_id: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct Me {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    id: String,
    #[serde(default)]
    name: Option<String>,
    /// Present only when the user may act as the Page with the scopes granted.
    #[serde(default)]
    access_token: Option<String>,
}

impl Facebook {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        for key in request.params.keys() {
            if key != "page_id" {
                return Err(ConnectError::invalid(&format!("/{key}"), "Facebook takes only `page_id`"));
            }
        }
        let raw =
            request.params.get("page_id").and_then(|v| v.as_str()).ok_or_else(|| {
                ConnectError::invalid("/page_id", "the id of the Page to post to is required")
            })?;
        let page = page_id(raw).map_err(|message| ConnectError::invalid("/page_id", message))?;
        Ok(ConnectStart::Redirect {
            authorize_url: self.settings.login_dialog(request.callback_url, request.state, SCOPES)?,
            flow: Credentials::to_json(&Flow { page_id: page }),
        })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        let flow: Flow = request.flow.parse().map_err(|_| ConnectError::Refused {
            message: "this connection's saved state is not a Facebook one; start connecting again".into(),
        })?;
        let call = self.settings.exchange_code(&self.platform, request.callback_url, request.code).await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let short: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        // developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived#long-via-code
        let query = self.settings.long_lived_query(&short.access_token);
        let url = self.settings.graph("/oauth/access_token");
        let call = self.platform.connect_call(reqwest::Method::GET, &url, |b| b.query(&query)).await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let long: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        // developers.facebook.com/docs/graph-api/reference/user/ (the app-scoped user id)
        let url = self.settings.graph("/me");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| {
                b.bearer_auth(&long.access_token).query(&[("fields", "id,name")])
            })
            .await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let me: Me = call.json().map_err(ConnectError::unreadable)?;
        let page = self.read_page(&flow.page_id, &long.access_token).await.map_err(|err| match err {
            ProviderError::Rejected { message, .. } | ProviderError::AuthExpired { message } => {
                ConnectError::invalid("/page_id", message)
            }
            other => ConnectError::Unavailable { message: other.to_string() },
        })?;
        let Some(page_token) = page.access_token.filter(|t| !t.is_empty()) else {
            return Err(ConnectError::invalid(
                "/page_id",
                format!(
                    "the account that signed in cannot post as Page {} (it needs a task on the Page and the \
                     pages_manage_posts permission)",
                    flow.page_id
                ),
            ));
        };
        let name = page.name.unwrap_or_else(|| page.id.clone());
        let tokens = Tokens {
            page_access_token: page_token,
            user_access_token: long.access_token,
            user_expires_at: self.platform.clock.now().timestamp()
                + long.expires_in.unwrap_or(USER_TOKEN_LIFETIME),
        };
        Ok(Connection {
            account: ChannelAccount {
                id: me.id,
                handle: name.clone(),
                display_name: Some(
                    me.name.map_or_else(|| name.clone(), |user| format!("{name} (by {user})")),
                ),
                avatar_url: None,
            },
            config: serde_json::json!({"page_id": page.id}),
            credentials: Credentials::to_json(&tokens),
        })
    }

    /// `GET /{page-id}?fields=id,name,access_token` with a user token
    /// (developers.facebook.com/docs/graph-api/reference/page/).
    async fn read_page(&self, page: &str, user_token: &str) -> Result<Page, ProviderError> {
        let url = self.settings.graph(&format!("/{page}"));
        let call = self
            .platform
            .call(reqwest::Method::GET, &url, |b| {
                b.bearer_auth(user_token).query(&[("fields", "id,name,access_token")])
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        call.json()
    }

    /// The tokens with a user token good for a video upload (the Resumable Upload API takes a
    /// user token, not the Page's): renewed and stored first when it ends within a week; an
    /// expired or refused one means reconnecting.
    pub(super) async fn with_fresh_user_token(
        &self,
        channel: &Channel,
        tokens: Tokens,
    ) -> Result<Tokens, ProviderError> {
        let reconnect = |why: &str| ProviderError::AuthExpired {
            message: format!(
                "video uploads need the Facebook sign-in that connected the Page, and {why}; reconnect the channel"
            ),
        };
        let now = self.platform.clock.now().timestamp();
        if tokens.user_expires_at <= now {
            return Err(reconnect("it has expired"));
        }
        if tokens.user_expires_at > now + USER_TOKEN_MARGIN {
            return Ok(tokens);
        }
        let call = self.settings.renew_user_token(&self.platform, &tokens.user_access_token).await?;
        if !call.ok() {
            return Err(match self.failure(&call) {
                ProviderError::AuthExpired { message } | ProviderError::Rejected { message, .. } => {
                    reconnect(&format!("Meta refused to renew it: {message}"))
                }
                other => other,
            });
        }
        let fresh: TokenReply = call.json()?;
        let tokens = Tokens {
            user_access_token: fresh.access_token,
            user_expires_at: now + fresh.expires_in.unwrap_or(USER_TOKEN_LIFETIME),
            ..tokens
        };
        self.platform.vault.replace(channel, &Credentials::to_json(&tokens)).await?;
        Ok(tokens)
    }

    /// The Page token read again with the long-lived user token, and stored.
    pub(super) async fn refresh_page_token(
        &self,
        channel: &Channel,
        page: &str,
        tokens: Tokens,
    ) -> Result<(), ProviderError> {
        let reconnect = |why: String| ProviderError::AuthExpired {
            message: format!(
                "Facebook no longer gives a token for Page {page} ({why}); reconnect the channel"
            ),
        };
        if tokens.user_expires_at <= self.platform.clock.now().timestamp() {
            return Err(reconnect("the sign-in that connected it has expired".into()));
        }
        let fresh = match self.read_page(page, &tokens.user_access_token).await {
            Ok(fresh) => fresh,
            Err(ProviderError::AuthExpired { message } | ProviderError::Rejected { message, .. }) => {
                return Err(reconnect(message));
            }
            Err(other) => return Err(other),
        };
        let Some(page_access_token) = fresh.access_token.filter(|t| !t.is_empty()) else {
            return Err(reconnect("the user no longer manages the Page".into()));
        };
        let tokens = Tokens { page_access_token, ..tokens };
        self.platform.vault.replace(channel, &Credentials::to_json(&tokens)).await
    }
}
