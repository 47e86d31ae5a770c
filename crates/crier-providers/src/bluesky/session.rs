//! A Bluesky channel's session: the access and refresh JWTs from `createSession`, refreshed
//! ahead of the access token's expiry and stored back at once (the refresh token rotates).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_core::{Channel, Timestamp};
use serde::{Deserialize, Serialize};

use super::Bluesky;
use crate::{Credentials, ProviderError};

/// What is sealed for a Bluesky channel. The app password itself is not kept.
#[derive(Serialize, Deserialize)]
pub(super) struct Session {
    pub did: String,
    pub handle: String,
    pub access_jwt: String,
    pub refresh_jwt: String,
}

/// The answer of `createSession` and `refreshSession`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SessionReply {
    pub did: String,
    pub handle: String,
    pub access_jwt: String,
    pub refresh_jwt: String,
}

impl From<SessionReply> for Session {
    fn from(r: SessionReply) -> Self {
        Self { did: r.did, handle: r.handle, access_jwt: r.access_jwt, refresh_jwt: r.refresh_jwt }
    }
}

/// The claims Crier reads from a JWT it was given (not verified: the PDS verifies its own tokens;
/// Crier only needs to know when to refresh and what kind of password made the session).
#[derive(Deserialize, Default)]
pub(super) struct Claims {
    pub exp: Option<i64>,
    pub scope: Option<String>,
}

pub(super) fn claims(jwt: &str) -> Claims {
    jwt.split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Refresh when the access token has less than this left.
const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

pub(super) fn expires_soon(jwt: &str, now: Timestamp) -> bool {
    claims(jwt).exp.is_none_or(|exp| exp - REFRESH_AHEAD.num_seconds() <= now.timestamp())
}

/// AT Protocol says "your token is bad" as 401, or as 400 `ExpiredToken` / `InvalidToken`.
pub(super) fn is_auth_error(status: u16, error: Option<&str>) -> bool {
    status == 401 || matches!(error, Some("ExpiredToken" | "InvalidToken" | "AuthenticationRequired"))
}

impl Bluesky {
    /// The channel's session, refreshed first if its access token is about to expire.
    pub(super) async fn session(&self, channel: &Channel) -> Result<Session, ProviderError> {
        let session: Session = self.platform.vault.open(channel).await?.parse()?;
        if expires_soon(&session.access_jwt, self.platform.clock.now()) {
            return self.refresh_session(channel, &session).await;
        }
        Ok(session)
    }

    /// `refreshSession`; the new pair is sealed before it is used, so a crash cannot lose it.
    pub(super) async fn refresh_session(
        &self,
        channel: &Channel,
        session: &Session,
    ) -> Result<Session, ProviderError> {
        let url = super::xrpc(channel, "com.atproto.server.refreshSession")?;
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(&session.refresh_jwt)).await?;
        if !call.ok() {
            if is_auth_error(call.reply.status, call.error_name().as_deref()) {
                return Err(ProviderError::AuthExpired {
                    message: format!("Bluesky refused to refresh the session: {}", call.error_message()),
                });
            }
            return Err(call.failure(self.platform.clock.now()));
        }
        let fresh: Session = call.json::<SessionReply>()?.into();
        self.platform.vault.replace(channel, &Credentials::to_json(&fresh)).await?;
        tracing::info!(channel_id = %channel.id, "refreshed a Bluesky session");
        Ok(fresh)
    }
}
