//! Deciding the type from the first bytes.
//!
//! The six supported formats are matched by explicit magic checks below, because the answer must
//! be exact (an MP4 is told from a HEIC photo or an M4A song by its `ftyp` brand, which generic
//! sniffers lump together). Everything else is only *named*, for the refusal message, with the
//! `infer` crate's signature table plus a few text checks it lacks (SVG, HTML, plain text).

use crate::MediaKind;

/// Bytes needed to recognise every supported format (an ISO BMFF `ftyp` brand ends at byte 12).
const DECIDE_LEN: usize = 12;
/// Bytes looked at to name an unsupported file (tar's signature sits at byte 257).
pub(crate) const NAME_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Jpeg,
    Gif,
    WebP,
    Mp4,
    QuickTime,
}

impl Format {
    pub(crate) fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::WebP => "image/webp",
            Self::Mp4 => "video/mp4",
            Self::QuickTime => "video/quicktime",
        }
    }

    pub(crate) fn kind(self) -> MediaKind {
        match self {
            Self::Png | Self::Jpeg | Self::Gif | Self::WebP => MediaKind::Image,
            Self::Mp4 | Self::QuickTime => MediaKind::Video,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    Media(Format),
    /// Recognisably not supported; the phrase names it when possible.
    NotMedia(Option<&'static str>),
    /// The whole file is a strict prefix of a supported signature.
    Truncated,
    NeedMore,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG: &[u8] = b"\xff\xd8\xff";

/// `complete` says `head` is the whole file, so there is nothing more to wait for.
pub(crate) fn sniff(head: &[u8], complete: bool) -> Sniff {
    if head.starts_with(PNG) {
        return Sniff::Media(Format::Png);
    }
    if head.starts_with(JPEG) {
        return Sniff::Media(Format::Jpeg);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Sniff::Media(Format::Gif);
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return Sniff::Media(Format::WebP);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return bmff_brand(&head[8..12]);
    }
    if head.len() < DECIDE_LEN && !complete {
        return Sniff::NeedMore;
    }
    if complete && head.len() >= 2 && is_cut_signature(head) {
        return Sniff::Truncated;
    }
    if head.len() < NAME_LEN && !complete {
        return Sniff::NeedMore;
    }
    Sniff::NotMedia(name(head))
}

/// The major brand of an ISO BMFF file says which of its many uses this is.
fn bmff_brand(brand: &[u8]) -> Sniff {
    match brand {
        b"qt  " => Sniff::Media(Format::QuickTime),
        b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => Sniff::NotMedia(Some("a HEIC image")),
        b"mif1" | b"msf1" => Sniff::NotMedia(Some("a HEIF image")),
        b"avif" | b"avis" => Sniff::NotMedia(Some("an AVIF image")),
        b"M4A " | b"M4B " | b"M4P " | b"F4A " | b"F4B " => Sniff::NotMedia(Some("an M4A audio file")),
        b"crx " => Sniff::NotMedia(Some("a Canon raw photo")),
        [b'3', b'g', ..] => Sniff::NotMedia(Some("a 3GP video")),
        // isom, iso2…iso9, mp41, mp42, avc1, dash, M4V, and the many camera brands: all MP4.
        // A file that is none of these still has to show a video track to `mp4parse`.
        _ => Sniff::Media(Format::Mp4),
    }
}

fn is_cut_signature(head: &[u8]) -> bool {
    let prefix_of = |sig: &[u8]| head.len() < sig.len() && sig.starts_with(head);
    prefix_of(PNG)
        || prefix_of(JPEG)
        || prefix_of(b"GIF87a")
        || prefix_of(b"GIF89a")
        || (head.starts_with(b"RIFF") && head.len() < 12)
        || (head.len() >= 8 && &head[4..8] == b"ftyp")
}

/// A phrase naming what an unsupported file looks like, for the refusal message.
fn name(head: &[u8]) -> Option<&'static str> {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let lower = text[start..].iter().take(256).map(u8::to_ascii_lowercase).collect::<Vec<_>>();
    if lower.starts_with(b"<svg") || (lower.starts_with(b"<?xml") && lower.windows(4).any(|w| w == b"<svg")) {
        return Some("an SVG image");
    }
    if let Some(kind) = infer::get(head) {
        return Some(infer_phrase(&kind));
    }
    let html = [&b"<!doctype html"[..], b"<html", b"<head", b"<body", b"<script"];
    if html.iter().any(|tag| lower.starts_with(tag)) {
        return Some("an HTML page");
    }
    if looks_like_text(text) {
        return Some("a text file");
    }
    None
}

/// UTF-8 (a character cut at the end of the sample is fine) without control characters.
fn looks_like_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    !valid.is_empty() && !valid.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

fn infer_phrase(kind: &infer::Type) -> &'static str {
    match kind.mime_type() {
        "application/zip" => "a ZIP archive",
        "application/pdf" => "a PDF document",
        "application/gzip" => "a gzip archive",
        "application/x-tar" => "a tar archive",
        "application/vnd.rar" => "a RAR archive",
        "application/x-7z-compressed" => "a 7-Zip archive",
        "application/x-bzip2" | "application/x-xz" | "application/zstd" => "a compressed archive",
        "application/x-executable" => "an ELF executable",
        "application/vnd.microsoft.portable-executable" => "a Windows executable",
        "application/x-mach-binary" => "a macOS executable",
        "application/vnd.sqlite3" => "an SQLite database",
        "application/postscript" => "a PostScript document",
        "application/msword" | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            "a Word document"
        }
        "application/epub+zip" => "an EPUB e-book",
        "text/html" => "an HTML page",
        "text/xml" => "an XML document",
        "text/x-shellscript" => "a shell script",
        "image/bmp" => "a BMP image",
        "image/tiff" => "a TIFF image",
        "image/heif" => "a HEIF image",
        "image/avif" => "an AVIF image",
        "image/jxl" => "a JPEG XL image",
        "image/jp2" => "a JPEG 2000 image",
        "image/vnd.microsoft.icon" => "an icon file",
        "image/vnd.adobe.photoshop" => "a Photoshop document",
        "image/x-canon-cr2" => "a Canon raw photo",
        "video/webm" => "a WebM video",
        "video/x-matroska" => "a Matroska (MKV) video",
        "video/x-msvideo" => "an AVI video",
        "video/x-flv" => "a Flash video",
        "video/x-ms-wmv" => "a Windows Media video",
        "video/mpeg" => "an MPEG video",
        "video/quicktime" => "an old-style QuickTime movie (no ftyp box)",
        "audio/mpeg" => "an MP3 audio file",
        "audio/x-wav" => "a WAV audio file",
        "audio/ogg" | "audio/opus" => "an Ogg audio file",
        "audio/x-flac" => "a FLAC audio file",
        _ => match kind.matcher_type() {
            infer::MatcherType::App => "a program",
            infer::MatcherType::Archive => "an archive",
            infer::MatcherType::Audio => "an audio file",
            infer::MatcherType::Book => "an e-book",
            infer::MatcherType::Doc => "a document",
            infer::MatcherType::Font => "a font",
            infer::MatcherType::Image => "an image in an unsupported format",
            infer::MatcherType::Text => "a text file",
            infer::MatcherType::Video => "a video in an unsupported format",
            infer::MatcherType::Custom => "an unrecognised file",
        },
    }
}
