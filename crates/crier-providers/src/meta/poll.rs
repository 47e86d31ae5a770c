//! Waiting for Meta to finish with a file: Instagram's and Threads' containers, Facebook's
//! videos. Each is read once at once, then after a bounded backoff of about 30 seconds in all
//! (Meta suggests reading about once a minute for at most five; what is still not done after
//! that is the caller's to decide: retried later, or taken as done).

use std::future::Future;
use std::time::Duration;

use crate::provider::ProviderError;

/// Waits between reads: about 30 s in all.
pub(crate) const BACKOFF: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(750),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(15),
];

/// What one read found.
pub(crate) enum Step<T> {
    Done(T),
    Pending,
}

/// Reads with `read` (at once, then after each wait of [`BACKOFF`]) until it answers
/// [`Step::Done`] or fails; `None` when it was still pending after the last wait.
pub(crate) async fn until_done<T, F, Fut>(mut read: F) -> Result<Option<T>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>, ProviderError>>,
{
    for wait in std::iter::once(Duration::ZERO).chain(BACKOFF) {
        tokio::time::sleep(wait).await;
        if let Step::Done(value) = read().await? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}
