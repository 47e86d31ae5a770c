//! Connecting a channel: either at once (app passwords, SMTP credentials) or through the
//! platform's consent page, with the flow's state sealed by Crier until the user comes back.

use crier_core::{ChannelAccount, WorkspaceId};

use crate::Credentials;

/// `POST /v1/channels/connect`, as a provider sees it.
#[derive(Debug)]
pub struct ConnectRequest<'a> {
    pub workspace_id: WorkspaceId,
    /// The provider's own fields of the request (may hold an app password: never logged).
    pub params: &'a serde_json::Map<String, serde_json::Value>,
    /// Crier's callback, where the platform sends the user back.
    pub callback_url: &'a str,
    /// The opaque `state` to hand the platform; Crier checks it at the callback.
    pub state: &'a str,
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

/// The platform's redirect back to Crier, with the flow's opened state.
#[derive(Debug)]
pub struct CallbackRequest<'a> {
    pub flow: &'a Credentials,
    pub code: &'a str,
    pub callback_url: &'a str,
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
}
