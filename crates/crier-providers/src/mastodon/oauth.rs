//! Connecting a Mastodon account: OAuth 2 with PKCE on the user's own instance. Crier registers
//! itself as an app on the instance (`POST /api/v1/apps`, once per connection: instances are
//! many and Crier keeps no per-instance state), sends the user to the instance's consent page,
//! and exchanges the code for a token that does not expire.

use crier_core::ChannelAccount;
use serde::{Deserialize, Serialize};

use super::instance::{Limits, host_of, normalise_instance};
use super::{Mastodon, MastodonConfig};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};

/// What Crier asks for: who the account is, and posting with media. Nothing to read timelines,
/// follow or delete the account.
pub(super) const SCOPES: &str = "read:accounts write:statuses write:media";
const CLIENT_NAME: &str = "Crier";

/// What is sealed for a Mastodon channel.
#[derive(Serialize, Deserialize)]
pub(super) struct Tokens {
    /// The app registered on the instance for this connection; needed to revoke the token.
    pub client_id: String,
    pub client_secret: String,
    pub access_token: String,
}

/// The state of a connection in progress, sealed until the user comes back.
#[derive(Serialize, Deserialize)]
struct Flow {
    instance: String,
    client_id: String,
    client_secret: String,
    code_verifier: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectParams {
    instance: String,
}

#[derive(Deserialize)]
struct App {
    client_id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    avatar: Option<String>,
}

impl Mastodon {
    pub(super) async fn start_connect(
        &self,
        request: &ConnectRequest<'_>,
    ) -> Result<ConnectStart, ConnectError> {
        let params: ConnectParams = serde_json::from_value(serde_json::Value::Object(request.params.clone()))
            .map_err(|err| ConnectError::invalid("", err.to_string()))?;
        let instance = normalise_instance(&params.instance)?;
        let url = format!("{instance}/api/v1/apps");
        let form =
            [("client_name", CLIENT_NAME), ("redirect_uris", request.callback_url), ("scopes", SCOPES)];
        // A policy refusal (http, a private address) is about the address the user gave.
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.form(&form)).await.map_err(
            |err| match err {
                ConnectError::Refused { message } => ConnectError::invalid("/instance", message),
                other => other,
            },
        )?;
        if !call.ok() {
            return Err(match call.reply.status {
                // No app registration there: a typo, or a server that does not speak Mastodon's API.
                404 | 405 | 410 => ConnectError::invalid(
                    "/instance",
                    format!("{instance} does not answer as a Mastodon instance ({})", call.error_message()),
                ),
                _ => call.connect_failure(),
            });
        }
        let app: App = call.json().map_err(ConnectError::unreadable)?;
        let (code_verifier, code_challenge) = crate::connect::pkce();
        let mut authorize_url = url::Url::parse(&format!("{instance}/oauth/authorize"))
            .map_err(|_| ConnectError::invalid("/instance", "not an address"))?;
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", request.callback_url)
            .append_pair("scope", SCOPES)
            .append_pair("state", request.state)
            .append_pair("code_challenge", &code_challenge)
            .append_pair("code_challenge_method", "S256");
        let flow =
            Flow { instance, client_id: app.client_id, client_secret: app.client_secret, code_verifier };
        Ok(ConnectStart::Redirect { authorize_url: authorize_url.into(), flow: Credentials::to_json(&flow) })
    }

    pub(super) async fn complete_connect(
        &self,
        request: &CallbackRequest<'_>,
    ) -> Result<Connection, ConnectError> {
        let flow: Flow = request.flow.parse().map_err(|_| ConnectError::Refused {
            message: "this connection's saved state is not a Mastodon one; start connecting again".into(),
        })?;
        let url = format!("{}/oauth/token", flow.instance);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", request.code),
            ("client_id", &flow.client_id),
            ("client_secret", &flow.client_secret),
            ("redirect_uri", request.callback_url),
            ("code_verifier", &flow.code_verifier),
            ("scope", SCOPES),
        ];
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let token: TokenReply = call.json().map_err(ConnectError::unreadable)?;
        let url = format!("{}/api/v1/accounts/verify_credentials", flow.instance);
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(&token.access_token))
            .await?;
        if !call.ok() {
            return Err(call.connect_failure());
        }
        let account: Account = call.json().map_err(ConnectError::unreadable)?;
        // The account is connected by now: an instance that cannot describe itself this moment
        // gets Mastodon's defaults rather than failing a consent the user already gave.
        let info = self.instance_info(&flow.instance, &token.access_token).await.ok().flatten();
        let domain = info.as_ref().and_then(|i| i.domain.clone()).unwrap_or_else(|| host_of(&flow.instance));
        let limits = info.map(|i| i.limits).unwrap_or_else(Limits::default);
        let config = MastodonConfig { instance: flow.instance, limits };
        Ok(Connection {
            account: ChannelAccount {
                id: account.id,
                handle: format!("{}@{domain}", account.username),
                display_name: account.display_name.filter(|n| !n.trim().is_empty()),
                avatar_url: account.avatar.filter(|a| !a.is_empty()),
            },
            // A struct of strings and numbers always serialises.
            config: serde_json::to_value(&config).unwrap_or_default(),
            credentials: Credentials::to_json(&Tokens {
                client_id: flow.client_id,
                client_secret: flow.client_secret,
                access_token: token.access_token,
            }),
        })
    }
}
