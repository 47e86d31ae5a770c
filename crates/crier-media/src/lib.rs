//! Decides what an uploaded media file really is, from its bytes alone.
//!
//! Users upload images and videos by multipart form, by URL, or in resumable chunks of up to
//! 1 GiB. The name and the declared content type are claims; this crate finds the truth:
//!
//! - the type comes from magic bytes, never from the name or the declared type, so a
//!   PNG renamed `.mp4` is caught ([`claimed_mime`] gives the caller the claim to compare);
//! - image dimensions are read from the header and checked against a pixel budget *before*
//!   anything is decoded (decompression bombs), then the whole image is decoded with the `image`
//!   crate under its allocation limits, plus a structural end check, so truncated or corrupt files
//!   are refused;
//! - for MP4 and MOV the top-level boxes are walked as the chunks arrive: only `ftyp` and `moov`
//!   (the index, bounded) are kept, the media data is counted and dropped, so a 1 GiB video costs
//!   a few megabytes at most; Mozilla's `mp4parse` then reads the tracks from the kept boxes.
//!
//! Every [`ProbeError`] displays as a sentence that is safe and useful to show the uploader.

mod bmff;
mod claim;
mod error;
mod movie;
mod prober;
mod sniff;
mod still;

pub use claim::claimed_mime;
pub use error::ProbeError;
pub use prober::Prober;

/// Whether a file is a picture or a moving picture; the two take different paths after upload
/// (thumbnailing versus transcoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
}

/// What the bytes of an accepted file say about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaFacts {
    /// One of `image/png`, `image/jpeg`, `image/gif`, `image/webp`, `video/mp4`, `video/quicktime`.
    pub mime: String,
    pub kind: MediaKind,
    /// Width as displayed: a JPEG's EXIF rotation or a video track's 90° matrix swaps the stored
    /// width and height, since layout cares about what people see.
    pub width: u32,
    pub height: u32,
    /// Videos only; `None` for images (animated ones included) and for a fragmented video that
    /// does not state its length.
    pub duration_ms: Option<u64>,
    /// Short lowercase codec name of the video track, such as `h264`, `hevc`, `av1`, `vp9`.
    pub video_codec: Option<String>,
    /// Short lowercase codec name of the first audio track (`aac`, `opus`, …); `None` when silent.
    pub audio_codec: Option<String>,
}

const MIB: u64 = 1024 * 1024;

/// Bounds that keep one upload from costing the server more than its share.
#[derive(Debug, Clone, Copy)]
pub struct ProbeLimits {
    /// Images are held whole in memory to be decoded, so they get a byte ceiling (default 50 MiB).
    pub max_image_bytes: u64,
    /// Width × height ceiling read from the header before decoding (default 100 million): a tiny
    /// file can claim a picture that takes gigabytes to decode.
    pub max_pixels: u64,
    /// Ceiling on the video boxes that are kept, `ftyp` and `moov` (default 64 MiB): the index of a
    /// long video is a few megabytes, and anything far larger is an attack or damage.
    pub max_video_header_bytes: u64,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        Self { max_image_bytes: 50 * MIB, max_pixels: 100_000_000, max_video_header_bytes: 64 * MIB }
    }
}

/// Probes a file held whole in memory: [`Prober::new`], one [`Prober::feed`], [`Prober::finish`].
pub fn probe(bytes: &[u8], limits: ProbeLimits) -> Result<MediaFacts, ProbeError> {
    let mut prober = Prober::new(limits);
    prober.feed(bytes)?;
    prober.finish()
}
