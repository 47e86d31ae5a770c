//! Why a file was refused. The `Display` text goes to the uploader as is, so it names the problem in
//! their terms (what the file is, what limit it broke) and never the parser that noticed.

use std::fmt;

/// The formats named in every "unsupported" message, so the uploader knows what would work.
const SUPPORTED: &str = "images: PNG, JPEG, GIF, WebP; video: MP4, MOV";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Not one of the supported formats. `detected` is a phrase such as "a ZIP archive" when the
    /// bytes are recognisable, so the message says what was sent instead.
    #[error("{} is not a supported media type ({SUPPORTED})", detected.unwrap_or("this file"))]
    Unsupported { detected: Option<&'static str> },
    #[error("the file ends early: it is truncated or incomplete")]
    Truncated,
    /// The reason is a short fixed phrase written here, never a parser's message.
    #[error("the file is damaged: {0}")]
    Malformed(String),
    /// An image over [`crate::ProbeLimits::max_image_bytes`].
    #[error("the image is too large: the limit is {}", Bytes(*limit))]
    TooLarge { limit: u64 },
    /// A video whose index (`moov`) is over [`crate::ProbeLimits::max_video_header_bytes`].
    #[error("the video's index (its moov box) is larger than the {} limit", Bytes(*limit))]
    HeaderTooLarge { limit: u64 },
    #[error("the image is {width}×{height} pixels, more than the limit of {}", Pixels(*limit))]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the file is empty")]
    Empty,
}

impl ProbeError {
    pub(crate) fn malformed(reason: &str) -> Self {
        Self::Malformed(reason.to_owned())
    }
}

/// A byte count the way people read limits: "50 MiB" rather than "52428800".
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = KIB * KIB;
        match self.0 {
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// A pixel count: "100 megapixels" when round, else the exact number.
struct Pixels(u64);

impl fmt::Display for Pixels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1_000_000 && n % 1_000_000 == 0 => write!(f, "{} megapixels", n / 1_000_000),
            n => write!(f, "{n} pixels"),
        }
    }
}
