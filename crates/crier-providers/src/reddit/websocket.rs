//! Where an image post's outcome arrives. `POST /api/submit` with `kind=image` answers before the
//! post exists, with a `websocket_url`; Reddit then sends one JSON message on it:
//! `{"type": "success", "payload": {"redirect": "https://www.reddit.com/r/…/comments/ID/…/"}}`
//! or `{"type": "failed", …}` (praw-dev/praw, `praw/models/reddit/subreddit.py`
//! `_submit_media`: "Reddit's API uses WebSockets to respond with the link of the newly created
//! post").
//!
//! The socket's host is Reddit's, but it is checked and pinned by the same policy as every other
//! call ([`crier_net::OutboundClient::check`]): `wss` only, `ws` only when the API itself is
//! plain http (a fake on loopback). Anything short of one of those two messages in time — a
//! refused connection, a close, silence — leaves the outcome unknown: the submission was taken,
//! so the post may exist and must not be sent again.

use std::time::Duration;

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::provider::ProviderError;

/// What Reddit said about an image post.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The post's address.
    Posted { url: String },
    /// Reddit could not make the post (its processing of the image failed).
    Failed { message: String },
}

/// A message is a few hundred bytes; anything far larger is not Reddit's.
const MAX_MESSAGE: usize = 64 * 1024;

fn unknown(why: &str) -> ProviderError {
    ProviderError::OutcomeUnknown {
        message: format!(
            "Reddit took the image post but {why}; it may be on Reddit: check the subreddit before retrying"
        ),
    }
}

/// The `https`/`http` address the policy checks for a `wss`/`ws` one.
fn checkable(socket: &url::Url, allow_plain: bool) -> Option<String> {
    let scheme = match socket.scheme() {
        "wss" => "https",
        "ws" if allow_plain => "http",
        _ => return None,
    };
    let mut checked = socket.clone();
    checked.set_scheme(scheme).ok()?;
    Some(checked.to_string())
}

/// One message, read: `None` for anything that is not an outcome.
fn read(text: &str) -> Option<Outcome> {
    let message: serde_json::Value = serde_json::from_str(text).ok()?;
    match message["type"].as_str()? {
        "success" => {
            let url = message["payload"]["redirect"].as_str().filter(|u| !u.is_empty())?;
            Some(Outcome::Posted { url: url.to_owned() })
        }
        "failed" => {
            let said = message["payload"]["message"].as_str().filter(|m| !m.trim().is_empty());
            Some(Outcome::Failed {
                message: said.map_or_else(
                    || "Reddit could not process the image for the post".to_owned(),
                    |m| format!("Reddit could not make the image post: {m}"),
                ),
            })
        }
        _ => None,
    }
}

/// Waits up to `wait` for the outcome on `socket`.
pub(super) async fn await_outcome(
    http: &crier_net::OutboundClient,
    socket: &str,
    allow_plain: bool,
    wait: Duration,
) -> Result<Outcome, ProviderError> {
    let parsed =
        url::Url::parse(socket).map_err(|_| unknown("named a websocket address Crier cannot read"))?;
    let checkable =
        checkable(&parsed, allow_plain).ok_or_else(|| unknown("named a websocket that is not `wss`"))?;
    let listen = async {
        let checked = http
            .check(&checkable)
            .await
            .map_err(|err| unknown(&format!("its websocket was refused: {err}")))?;
        let stream = tokio::net::TcpStream::connect(checked.pinned)
            .await
            .map_err(|_| unknown("its websocket could not be reached"))?;
        let config =
            WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
        let (mut connection, _) =
            tokio_tungstenite::client_async_tls_with_config(parsed.as_str(), stream, Some(config), None)
                .await
                .map_err(|_| unknown("its websocket could not be opened"))?;
        while let Some(message) = connection.next().await {
            let message = message.map_err(|_| unknown("its websocket failed"))?;
            match message {
                Message::Text(text) => {
                    if let Some(outcome) = read(text.as_str()) {
                        // The outcome is in hand; a failed close changes nothing.
                        let _ = connection.close(None).await;
                        return Ok(outcome);
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        Err(unknown("its websocket closed without saying how the post went"))
    };
    match tokio::time::timeout(wait, listen).await {
        Ok(result) => result,
        Err(_) => Err(unknown(&format!("its websocket said nothing for {} s", wait.as_secs()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_read() {
        let posted = read(
            r#"{"type": "success", "payload": {"redirect": "https://www.reddit.com/r/a/comments/b/c/"}}"#,
        );
        assert_eq!(posted, Some(Outcome::Posted { url: "https://www.reddit.com/r/a/comments/b/c/".into() }));
        assert!(matches!(read(r#"{"type": "failed"}"#), Some(Outcome::Failed { .. })));
        assert_eq!(read(r#"{"type": "progress"}"#), None);
        assert_eq!(read("not json"), None);
    }

    #[test]
    fn only_secure_sockets_unless_plain_is_allowed() {
        let wss = url::Url::parse("wss://ws.redditmedia.com/x?m=1").unwrap();
        assert_eq!(checkable(&wss, false).as_deref(), Some("https://ws.redditmedia.com/x?m=1"));
        let ws = url::Url::parse("ws://127.0.0.1:9/x").unwrap();
        assert_eq!(checkable(&ws, false), None);
        assert_eq!(checkable(&ws, true).as_deref(), Some("http://127.0.0.1:9/x"));
        assert_eq!(checkable(&url::Url::parse("https://x.example/").unwrap(), true), None);
    }
}
