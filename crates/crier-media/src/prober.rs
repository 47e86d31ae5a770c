//! The streaming prober: bytes go in as they arrive, facts come out at the end.

use crate::bmff::BoxWalk;
use crate::sniff::{Format, NAME_LEN, Sniff, sniff};
use crate::{MediaFacts, MediaKind, ProbeError, ProbeLimits, movie, still};

enum State {
    /// Collecting the first bytes until the type is known.
    Sniffing { head: Vec<u8> },
    /// Images are kept whole (bounded by `max_image_bytes`): decoding needs them all.
    Image { format: Format, bytes: Vec<u8> },
    /// Videos keep only their header boxes.
    Video { format: Format, walk: BoxWalk },
    /// A refusal from `feed` sticks: later calls give the same answer.
    Failed(ProbeError),
}

/// Fed the file in chunks, in order; memory stays bounded for video.
///
/// [`Prober::feed`] refuses as soon as it can (a ZIP at its first bytes, an image at the byte past
/// its limit, a broken box structure at that box), so an upload can be cut off early;
/// [`Prober::finish`] does the checks that need the end of the file.
pub struct Prober {
    limits: ProbeLimits,
    state: State,
}

impl Prober {
    pub fn new(limits: ProbeLimits) -> Self {
        Self { limits, state: State::Sniffing { head: Vec::with_capacity(NAME_LEN) } }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ProbeError> {
        let result = self.feed_inner(chunk);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
        }
        result
    }

    pub fn finish(self) -> Result<MediaFacts, ProbeError> {
        match self.state {
            State::Failed(error) => Err(error),
            State::Sniffing { head } if head.is_empty() => Err(ProbeError::Empty),
            State::Sniffing { head } => match sniff(&head, true) {
                Sniff::Media(format) if format.kind() == MediaKind::Image => {
                    still::facts(format, &head, &self.limits)
                }
                // A whole video inside the few bytes needed to sniff cannot be complete.
                Sniff::Media(_) | Sniff::Truncated | Sniff::NeedMore => Err(ProbeError::Truncated),
                Sniff::NotMedia(detected) => Err(ProbeError::Unsupported { detected }),
            },
            State::Image { format, bytes } => still::facts(format, &bytes, &self.limits),
            State::Video { format, walk } => movie::facts(format, &walk.finish()?),
        }
    }

    /// The media type once the first bytes have decided it, so a caller can pick a path early.
    pub fn sniffed_mime(&self) -> Option<&'static str> {
        match &self.state {
            State::Image { format, .. } | State::Video { format, .. } => Some(format.mime()),
            State::Sniffing { .. } | State::Failed(_) => None,
        }
    }

    /// Bytes the prober holds right now; for tests that check video memory stays bounded.
    #[doc(hidden)]
    pub fn buffered_bytes(&self) -> usize {
        match &self.state {
            State::Sniffing { head } => head.len(),
            State::Image { bytes, .. } => bytes.len(),
            State::Video { walk, .. } => walk.buffered(),
            State::Failed(_) => 0,
        }
    }

    fn feed_inner(&mut self, mut chunk: &[u8]) -> Result<(), ProbeError> {
        if let State::Sniffing { head } = &mut self.state {
            // Only what sniffing needs is copied; the rest of the chunk goes straight on.
            let take = (NAME_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            let next = match sniff(head, false) {
                Sniff::NeedMore => return Ok(()),
                Sniff::NotMedia(detected) => return Err(ProbeError::Unsupported { detected }),
                // Only reported for a complete file, which `feed` never has.
                Sniff::Truncated => return Err(ProbeError::Truncated),
                Sniff::Media(format) => {
                    let head = std::mem::take(head);
                    match format.kind() {
                        MediaKind::Image => {
                            check_image_size(head.len(), 0, &self.limits)?;
                            State::Image { format, bytes: head }
                        }
                        MediaKind::Video => {
                            let mut walk = BoxWalk::new(self.limits.max_video_header_bytes);
                            walk.feed(&head)?;
                            State::Video { format, walk }
                        }
                    }
                }
            };
            self.state = next;
        }
        match &mut self.state {
            State::Sniffing { .. } => Ok(()),
            State::Failed(error) => Err(error.clone()),
            State::Image { bytes, .. } => {
                check_image_size(bytes.len(), chunk.len(), &self.limits)?;
                bytes.extend_from_slice(chunk);
                Ok(())
            }
            State::Video { walk, .. } => walk.feed(chunk),
        }
    }
}

/// Shows the state, never the bytes (which can be megabytes).
impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Sniffing { .. } => "sniffing",
            State::Image { .. } => "image",
            State::Video { .. } => "video",
            State::Failed(_) => "failed",
        };
        f.debug_struct("Prober")
            .field("limits", &self.limits)
            .field("state", &state)
            .field("mime", &self.sniffed_mime())
            .field("buffered_bytes", &self.buffered_bytes())
            .finish()
    }
}

fn check_image_size(held: usize, more: usize, limits: &ProbeLimits) -> Result<(), ProbeError> {
    if (held as u64).saturating_add(more as u64) > limits.max_image_bytes {
        return Err(ProbeError::TooLarge { limit: limits.max_image_bytes });
    }
    Ok(())
}
