//! Facts about an image, from its whole bytes.
//!
//! Order matters: the container is walked to its end (cheap, and it tells a cut file apart from a
//! damaged one), the header gives the dimensions, the pixel budget is checked, and only then is
//! the image decoded in full (under `image::Limits`), so a small file claiming a gigantic picture
//! is refused without allocating for it. A full decode is what proves the data is not corrupt.
//!
//! Decoders forgive too much to prove a file is *complete*: `zune-jpeg` fills a JPEG cut in half
//! with grey and reports success, and the first frame of a GIF or WebP decodes fine when later
//! frames are missing (only that first frame is decoded: the cost of one still image, whatever the
//! frame count). So each format's container is also walked to its end marker (JPEG `EOI`,
//! PNG `IEND`, GIF trailer, WebP RIFF length). Bytes after that end are tolerated, as browsers do:
//! cameras append data to JPEGs (Samsung trailers, Google Motion Photos put a whole MP4 there).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, metadata::Orientation};

use crate::sniff::Format;
use crate::{MediaFacts, ProbeError, ProbeLimits};

pub(crate) fn facts(format: Format, bytes: &[u8], limits: &ProbeLimits) -> Result<MediaFacts, ProbeError> {
    let image_format = match format {
        Format::Png => ImageFormat::Png,
        Format::Jpeg => ImageFormat::Jpeg,
        Format::Gif => ImageFormat::Gif,
        Format::WebP => ImageFormat::WebP,
        Format::Mp4 | Format::QuickTime => return Err(ProbeError::malformed("not an image")),
    };
    check_complete(format, bytes)?;
    let mut decode_limits = image::Limits::default();
    // The pixel budget is what bounds memory; the allocation limit backs it up at the widest
    // pixel these formats decode to (16-bit RGBA, 8 bytes).
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(decode_limits);
    // Reads the header only.
    let mut decoder = reader.into_decoder().map_err(|e| image_error(format, e, None, limits))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ProbeError::malformed("the image has no width or height"));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ProbeError::TooManyPixels { width, height, limit: limits.max_pixels });
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let decoded = DynamicImage::from_decoder(decoder)
        .map_err(|e| image_error(format, e, Some((width, height)), limits))?;
    drop(decoded);

    let quarter_turn = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (width, height) = if quarter_turn { (height, width) } else { (width, height) };
    Ok(MediaFacts {
        mime: format.mime().to_owned(),
        kind: format.kind(),
        width,
        height,
        duration_ms: None,
        video_codec: None,
        audio_codec: None,
    })
}

fn image_error(
    format: Format,
    error: ImageError,
    size: Option<(u32, u32)>,
    limits: &ProbeLimits,
) -> ProbeError {
    let name = match format {
        Format::Png => "PNG",
        Format::Jpeg => "JPEG",
        Format::Gif => "GIF",
        _ => "WebP",
    };
    match error {
        ImageError::Limits(_) => match size {
            Some((width, height)) => ProbeError::TooManyPixels { width, height, limit: limits.max_pixels },
            None => ProbeError::Malformed(format!("the {name} header is invalid")),
        },
        ImageError::Unsupported(_) => ProbeError::Unsupported {
            detected: Some(match format {
                Format::Png => "a PNG image of a kind we cannot read",
                Format::Jpeg => "a JPEG image of a kind we cannot read (such as arithmetic-coded)",
                Format::Gif => "a GIF image of a kind we cannot read",
                _ => "a WebP image of a kind we cannot read",
            }),
        },
        e if ends_early(&e) => ProbeError::Truncated,
        _ => ProbeError::Malformed(format!("the {name} image data is invalid")),
    }
}

/// Whether the decoder ran out of bytes, anywhere down the error's source chain.
fn ends_early(error: &ImageError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn check_complete(format: Format, bytes: &[u8]) -> Result<(), ProbeError> {
    match format {
        Format::Jpeg => jpeg_complete(bytes),
        Format::Png => png_complete(bytes),
        Format::Gif => gif_complete(bytes),
        Format::WebP => webp_complete(bytes),
        Format::Mp4 | Format::QuickTime => Ok(()),
    }
}

/// Walks the JPEG segments (skipping each by its length, so an EXIF thumbnail's own markers are
/// not mistaken for ours) and the entropy-coded scans, until the end-of-image marker.
fn jpeg_complete(bytes: &[u8]) -> Result<(), ProbeError> {
    let mut pos = 2; // after SOI
    let mut scans = 0;
    loop {
        // Find the next marker; stray bytes between segments are tolerated, as libjpeg does.
        while bytes.get(pos).is_some_and(|b| *b != 0xff) {
            pos += 1;
        }
        while bytes.get(pos) == Some(&0xff) {
            pos += 1;
        }
        let marker = *bytes.get(pos).ok_or(ProbeError::Truncated)?;
        pos += 1;
        match marker {
            0xd9 if scans == 0 => return Err(ProbeError::malformed("the JPEG has no image data")),
            0xd9 => return Ok(()),
            0x01 | 0xd0..=0xd7 => continue,
            _ => {}
        }
        let length = bytes.get(pos..pos + 2).ok_or(ProbeError::Truncated)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < 2 {
            return Err(ProbeError::malformed("a JPEG segment has an impossible length"));
        }
        pos += length;
        if pos > bytes.len() {
            return Err(ProbeError::Truncated);
        }
        if marker == 0xda {
            scans += 1;
            // Entropy-coded data: 0xFF is escaped as FF 00, and FF D0..D7 are restart markers;
            // any other FF xx ends the scan.
            loop {
                let ff = bytes[pos..].iter().position(|b| *b == 0xff).ok_or(ProbeError::Truncated)?;
                pos += ff + 1;
                match bytes.get(pos) {
                    None => return Err(ProbeError::Truncated),
                    Some(0x00 | 0xd0..=0xd7) => pos += 1,
                    Some(_) => {
                        pos -= 1;
                        break;
                    }
                }
            }
        }
    }
}

/// Walks the PNG chunks (length, type, data, CRC) until `IEND`.
fn png_complete(bytes: &[u8]) -> Result<(), ProbeError> {
    let mut pos = 8;
    loop {
        let head = bytes.get(pos..pos + 8).ok_or(ProbeError::Truncated)?;
        let length = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if length > 0x7fff_ffff {
            return Err(ProbeError::malformed("a PNG chunk has an impossible length"));
        }
        let is_end = &head[4..8] == b"IEND";
        pos = pos.saturating_add(12).saturating_add(length as usize);
        if pos > bytes.len() {
            return Err(ProbeError::Truncated);
        }
        if is_end {
            return Ok(());
        }
    }
}

/// Walks the GIF blocks (extensions and frames, each a chain of sub-blocks) to the trailer `;`.
fn gif_complete(bytes: &[u8]) -> Result<(), ProbeError> {
    fn color_table(flags: u8) -> usize {
        if flags & 0x80 == 0 { 0 } else { 3 << ((flags & 0x07) + 1) }
    }
    fn skip_sub_blocks(bytes: &[u8], mut pos: usize) -> Result<usize, ProbeError> {
        loop {
            let size = usize::from(*bytes.get(pos).ok_or(ProbeError::Truncated)?);
            pos += 1 + size;
            if size == 0 {
                return Ok(pos);
            }
        }
    }
    let flags = *bytes.get(10).ok_or(ProbeError::Truncated)?;
    let mut pos = 13 + color_table(flags);
    let mut frames = 0;
    loop {
        match *bytes.get(pos).ok_or(ProbeError::Truncated)? {
            0x21 => pos = skip_sub_blocks(bytes, pos + 2)?,
            0x2c => {
                let flags = *bytes.get(pos + 9).ok_or(ProbeError::Truncated)?;
                // Descriptor (10 bytes), local colour table, LZW code size (1 byte), data.
                pos = skip_sub_blocks(bytes, pos + 10 + color_table(flags) + 1)?;
                frames += 1;
            }
            0x3b if frames == 0 => return Err(ProbeError::malformed("the GIF has no frames")),
            0x3b => return Ok(()),
            _ => return Err(ProbeError::malformed("the GIF has an unknown block")),
        }
    }
}

/// The RIFF header states the file's length; fewer bytes than that means it was cut.
fn webp_complete(bytes: &[u8]) -> Result<(), ProbeError> {
    let size = bytes.get(4..8).ok_or(ProbeError::Truncated)?;
    let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
    if (bytes.len() as u64) < u64::from(size) + 8 {
        return Err(ProbeError::Truncated);
    }
    Ok(())
}
