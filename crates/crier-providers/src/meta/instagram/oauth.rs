//! Connecting an Instagram account through Facebook Login for Business
//! (developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/get-started):
//! the manual code flow (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow),
//! the long-lived user token (developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived),
//! and the Page's Instagram account
//! (developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/get-started#get-the-user-s-instagram-professional-account).

use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use super::Instagram;
use crate::meta::connect_failure;
use crate::meta::facebook::page_id;
use crate::provider::ProviderError;
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// Reading and publishing to the account, its first comments, and finding it through its Page
/// (developers.facebook.com/docs/instagram-platform/content-publishing#requirements).
pub(super) const SCOPES: &str = "instagram_basic,instagram_content_publish,instagram_manage_comments,pages_show_list,pages_read_engagement";
/// A token this close to its expiry is exchanged for a fresh one before use.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::days(7);
/// Long-lived user tokens last about 60 days.
const LONG_LIVED: i64 = 60 * 86_400;

/// What is sealed for an Instagram channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    /// The long-lived Facebook user token the Instagram endpoints take.
    pub access_token: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
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

/// `GET /me?fields=id`.
#[derive(Deserialize)]
struct Me {
    id: String,
}

#[derive(Deserialize)]
struct Page {
    id: String,
    #[serde(default)]
    instagram_business_account: Option<Account>,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    profile_picture_url: Option<String>,
}

impl Instagram {
    pub(super) fn start_connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        for key in request.params.keys() {
            if key != "page_id" {
                return Err(ConnectError::invalid(&format!("/{key}"), "Instagram takes only `page_id`"));
            }
        }
        let raw = request.params.get("page_id").and_then(|v| v.as_str()).ok_or_else(|| {
            ConnectError::invalid(
                "/page_id",
                "the id of the Facebook Page the Instagram account is connected to",
            )
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
            message: "this connection's saved state is not an Instagram one; start connecting again".into(),
        })?;
        let call = self.settings.exchange_code(&self.platform, request.callback_url, request.code).await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let short: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        let long = self.exchange(&short.access_token).await.map_err(|err| match err {
            ProviderError::Retryable { message, .. } => ConnectError::Unavailable { message },
            other => ConnectError::Refused { message: other.to_string() },
        })?;
        // developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/get-started#get-the-user-s-instagram-professional-account
        let url = self.settings.graph(&format!("/{}", flow.page_id));
        let fields = [("fields", "id,instagram_business_account{id,username,name,profile_picture_url}")];
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&long.access_token).query(&fields))
            .await?;
        if !call.ok() {
            return Err(match connect_failure(&call) {
                ConnectError::Refused { message } => ConnectError::invalid("/page_id", message),
                other => other,
            });
        }
        let page: Page = call.json().map_err(ConnectError::unreadable)?;
        let Some(account) = page.instagram_business_account else {
            return Err(ConnectError::invalid(
                "/page_id",
                format!(
                    "Page {} has no Instagram professional account connected to it (connect one in the \
                     Page's settings, or pick the Page it is connected to)",
                    page.id
                ),
            ));
        };
        // developers.facebook.com/docs/graph-api/reference/user: the app-scoped id of the person
        // connecting, which Facebook Login's deauthorize and data-deletion callbacks name.
        let url = self.settings.graph("/me");
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| {
                b.bearer_auth(&long.access_token).query(&[("fields", "id")])
            })
            .await?;
        if !call.ok() {
            return Err(connect_failure(&call));
        }
        let me: Me = call.json().map_err(ConnectError::unreadable)?;
        let handle = account.username.clone().unwrap_or_else(|| account.id.clone());
        Ok(Connection {
            account: ChannelAccount {
                id: account.id.clone(),
                handle,
                display_name: account.name.filter(|n| !n.is_empty()),
                avatar_url: account.profile_picture_url.filter(|p| !p.is_empty()),
            },
            config: serde_json::json!({"page_id": page.id, "ig_user_id": account.id, "meta_user_id": me.id}),
            credentials: Credentials::to_json(&long),
        })
    }

    /// `GET /oauth/access_token?grant_type=fb_exchange_token`
    /// (developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived#long-via-code):
    /// a valid user token (short- or long-lived) for a fresh long-lived one.
    async fn exchange(&self, token: &str) -> Result<Tokens, ProviderError> {
        let call = self.settings.renew_user_token(&self.platform, token).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let reply: TokenReply = call.json()?;
        Ok(Tokens {
            access_token: reply.access_token,
            expires_at: self.platform.clock.now().timestamp() + reply.expires_in.unwrap_or(LONG_LIVED),
        })
    }

    /// The channel's token, exchanged for a fresh one first when it expires within a week.
    pub(super) async fn usable_tokens(&self, channel: &Channel) -> Result<Tokens, ProviderError> {
        let tokens: Tokens = self.platform.vault.open(channel).await?.parse()?;
        let now = self.platform.clock.now();
        if tokens.expires_at <= (now + EXPIRY_MARGIN).timestamp() {
            return self.refresh_tokens(channel, &tokens).await;
        }
        Ok(tokens)
    }

    /// A fresh 60-day token for an unexpired one, stored before use. An expired (or revoked) one
    /// cannot be exchanged: the user connects again.
    pub(super) async fn refresh_tokens(
        &self,
        channel: &Channel,
        tokens: &Tokens,
    ) -> Result<Tokens, ProviderError> {
        if tokens.expires_at <= self.platform.clock.now().timestamp() {
            return Err(ProviderError::AuthExpired {
                message: "the channel's Facebook sign-in for Instagram has expired; reconnect it".into(),
            });
        }
        let fresh = self.exchange(&tokens.access_token).await.map_err(|err| match err {
            ProviderError::AuthExpired { message } | ProviderError::Rejected { message, .. } => {
                ProviderError::AuthExpired {
                    message: format!("Meta refused to renew the channel's token: {message}; reconnect it"),
                }
            }
            other => other,
        })?;
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        Ok(fresh)
    }
}
