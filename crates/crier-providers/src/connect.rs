//! Connecting a channel: either at once (app passwords, SMTP credentials) or through the
//! platform's consent page, with the flow's state sealed by Crier until the user comes back.

use crier_core::{ChannelAccount, WorkspaceId};

use crate::Credentials;

/// `POST /v1/channels/connect`, as a provider sees it. `Debug` names the fields of `params`
/// without their values, and not the `state`.
pub struct ConnectRequest<'a> {
    pub workspace_id: WorkspaceId,
    /// The provider's own fields of the request (may hold an app password: never logged).
    pub params: &'a serde_json::Map<String, serde_json::Value>,
    /// Crier's callback, where the platform sends the user back.
    pub callback_url: &'a str,
    /// The opaque `state` to hand the platform; Crier checks it at the callback.
    pub state: &'a str,
}

impl std::fmt::Debug for ConnectRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("workspace_id", &self.workspace_id)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

/// A connected account: what the channel is created with.
#[derive(Debug)]
pub struct Connection {
    pub account: ChannelAccount,
    /// Provider settings stored in the clear (instance URL, PDS, SMTP host…; never secrets).
    pub config: serde_json::Value,
    pub credentials: Credentials,
}

#[derive(Debug)]
pub enum ConnectStart {
    /// Connected at once.
    Connected(Connection),
    /// Send the user to `authorize_url`; `flow` (a PKCE verifier, an app's client credentials)
    /// is sealed until the callback hands it back.
    Redirect { authorize_url: String, flow: Credentials },
}

/// The platform's redirect back to Crier, with the flow's opened state. `Debug` shows neither the
/// state nor the code.
pub struct CallbackRequest<'a> {
    pub flow: &'a Credentials,
    pub code: &'a str,
    pub callback_url: &'a str,
}

impl std::fmt::Debug for CallbackRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackRequest").field("callback_url", &self.callback_url).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectError {
    /// A field of the request is wrong (at a JSON pointer into the request body).
    #[error("{pointer}: {message}")]
    Invalid { pointer: String, message: String },
    /// The platform refused (a wrong password, a code already used).
    #[error("the platform refused: {message}")]
    Refused { message: String },
    /// The platform could not be reached or failed.
    #[error("the platform is unavailable: {message}")]
    Unavailable { message: String },
    /// This provider does not connect that way.
    #[error("{0}")]
    Unsupported(String),
}

impl ConnectError {
    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        Self::Invalid { pointer: pointer.to_owned(), message: message.into() }
    }

    /// A reply Crier cannot read while connecting is the platform's failure, not the user's.
    pub(crate) fn unreadable(err: crate::ProviderError) -> Self {
        Self::Unavailable { message: err.to_string() }
    }
}

/// A PKCE verifier (RFC 7636: 32 random bytes, 43 characters) and its S256 challenge, for the
/// consent-page flows that offer PKCE.
pub(crate) fn pkce() -> (String, String) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An OAuth 2 token answer must carry an access token; one without is the platform's hiccup.
pub(crate) fn require_access_token(access_token: &str, platform: &str) -> Result<(), crate::ProviderError> {
    if access_token.is_empty() {
        return Err(crate::ProviderError::Retryable {
            after: None,
            message: format!("{platform}'s token answer has no access token"),
        });
    }
    Ok(())
}

/// The refresh token to keep after a token answer: the new one when the platform rotated it,
/// else the one kept from before (a refresh often answers without one). `missing` says why none
/// may have come, for a first grant without one.
pub(crate) fn kept_refresh_token(
    answered: Option<String>,
    previous: Option<&str>,
    missing: &str,
) -> Result<String, crate::ProviderError> {
    answered.or_else(|| previous.map(str::to_owned)).ok_or_else(|| crate::ProviderError::Rejected {
        code: "no_refresh_token".into(),
        message: missing.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn debug_output_names_secrets_without_their_values() {
        let params = serde_json::json!({"identifier": "alice", "app_password": "hunter2-hunter2"});
        let request = ConnectRequest {
            workspace_id: crier_core::WorkspaceId::generate(),
            params: params.as_object().unwrap(),
            callback_url: "https://crier.example/cb",
            state: "state-secret",
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("app_password"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("state-secret"), "{shown}");
        let flow = Credentials::from_bytes(b"verifier-secret".to_vec());
        let callback =
            CallbackRequest { flow: &flow, code: "code-secret", callback_url: "https://crier.example/cb" };
        let shown = format!("{callback:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn pkce_challenge_is_the_verifiers_s256() {
        let (verifier, challenge) = pkce();
        assert_eq!(verifier.len(), 43);
        assert_eq!(challenge, URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())));
        assert_ne!(pkce().0, verifier);
    }
}
