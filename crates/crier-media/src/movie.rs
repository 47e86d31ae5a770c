//! Facts about a video from its kept `ftyp` + `moov` boxes, read by Mozilla's `mp4parse`.
//!
//! `mp4parse` names only the codecs Firefox plays; for the rest (HEVC, which every iPhone records,
//! ProRes, AC-3, PCM…) it reports "unknown", so the sample entry's four-character code is read
//! here from the same bytes with a tiny nested box walk and mapped to a name.

use std::io::Cursor;

use mp4parse::{CodecType, SampleEntry, Track, TrackType};

use crate::sniff::Format;
use crate::{MediaFacts, ProbeError};

pub(crate) fn facts(format: Format, header: &[u8]) -> Result<MediaFacts, ProbeError> {
    let context = mp4parse::read_mp4(&mut Cursor::new(header)).map_err(parse_error)?;
    let fourccs = sample_entry_codes(header);
    let tracks = || context.tracks.iter().enumerate();
    let (video_index, video) = tracks()
        .find(|(_, t)| matches!(t.track_type, TrackType::Video))
        .ok_or_else(|| ProbeError::malformed("no video track"))?;
    let audio = tracks().find(|(_, t)| matches!(t.track_type, TrackType::Audio));

    let video_codec = codec_name(video, fourccs.get(video_index).copied().flatten())?;
    let audio_codec = match audio {
        Some((i, track)) => codec_name(track, fourccs.get(i).copied().flatten())?,
        None => None,
    };
    let (width, height) =
        display_size(video).ok_or_else(|| ProbeError::malformed("the video has no size"))?;

    let movie_scale = context.timescale.map(|s| s.0);
    let track_ms = context.tracks.iter().filter_map(|t| track_duration_ms(t, movie_scale)).max();
    let fragments_ms = context
        .mvex
        .as_ref()
        .and_then(|m| m.fragment_duration)
        .and_then(|d| movie_scale.and_then(|scale| to_ms(d.0, scale)));
    let duration_ms = track_ms.filter(|ms| *ms > 0).or(fragments_ms);

    Ok(MediaFacts {
        mime: format.mime().to_owned(),
        kind: format.kind(),
        width,
        height,
        duration_ms,
        video_codec,
        audio_codec,
    })
}

fn parse_error(error: mp4parse::Error) -> ProbeError {
    match error {
        mp4parse::Error::MoovMissing => ProbeError::malformed("the video has no movie header (moov box)"),
        mp4parse::Error::Unsupported(_) => {
            ProbeError::Unsupported { detected: Some("a video using features we cannot read") }
        }
        // The moov box itself arrived whole, so running out of bytes means its inner sizes lie.
        _ => ProbeError::malformed("the video's movie header (moov box) is invalid"),
    }
}

/// The codec's short name; encrypted (DRM) tracks are refused since nothing here can play them.
fn codec_name(track: &Track, fourcc: Option<[u8; 4]>) -> Result<Option<String>, ProbeError> {
    let codec = track.stsd.as_ref().and_then(|stsd| {
        stsd.descriptions.iter().find_map(|entry| match entry {
            SampleEntry::Video(v) => Some(v.codec_type),
            SampleEntry::Audio(a) => Some(a.codec_type),
            SampleEntry::Unknown => None,
        })
    });
    let name = match codec {
        Some(CodecType::EncryptedVideo | CodecType::EncryptedAudio) => {
            return Err(ProbeError::Unsupported { detected: Some("an encrypted (DRM-protected) video") });
        }
        Some(CodecType::H264) => "h264",
        Some(CodecType::AV1) => "av1",
        Some(CodecType::VP9) => "vp9",
        Some(CodecType::VP8) => "vp8",
        Some(CodecType::MP4V) => "mpeg4",
        Some(CodecType::H263) => "h263",
        Some(CodecType::AAC) => "aac",
        Some(CodecType::MP3) => "mp3",
        Some(CodecType::Opus) => "opus",
        Some(CodecType::FLAC) => "flac",
        Some(CodecType::ALAC) => "alac",
        Some(CodecType::LPCM) => "pcm",
        Some(CodecType::Unknown) | None => return Ok(fourcc.map(fourcc_name)),
    };
    Ok(Some(name.to_owned()))
}

fn fourcc_name(code: [u8; 4]) -> String {
    let name = match &code {
        b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" => "hevc",
        b"avc1" | b"avc3" | b"dva1" | b"dvav" => "h264",
        b"av01" => "av1",
        b"vp09" => "vp9",
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => "prores",
        b"jpeg" | b"mjpa" | b"mjpb" => "mjpeg",
        b"mp4a" => "aac",
        b"ac-3" => "ac3",
        b"ec-3" => "eac3",
        b"Opus" => "opus",
        b"fLaC" => "flac",
        b"alac" => "alac",
        b".mp3" => "mp3",
        b"sowt" | b"twos" | b"lpcm" | b"in24" | b"in32" | b"fl32" | b"fl64" | b"raw " => "pcm",
        _ => return String::from_utf8_lossy(&code).trim().to_ascii_lowercase(),
    };
    name.to_owned()
}

/// The size people see: the track header's presentation size (pixel aspect applied), swapped when
/// the track's matrix turns the picture a quarter turn (phones filming upright). The sample
/// entry's coded size is the fallback for a track header of 0×0.
fn display_size(track: &Track) -> Option<(u32, u32)> {
    let coded = track.stsd.as_ref().and_then(|stsd| {
        stsd.descriptions.iter().find_map(|entry| match entry {
            SampleEntry::Video(v) => Some((u32::from(v.width), u32::from(v.height))),
            _ => None,
        })
    });
    let tkhd = track.tkhd.as_ref();
    let presented = tkhd.map(|t| (t.width >> 16, t.height >> 16)).filter(|(w, h)| *w > 0 && *h > 0);
    let (width, height) = presented.or(coded).filter(|(w, h)| *w > 0 && *h > 0)?;
    let quarter_turn = tkhd.is_some_and(|t| t.matrix.a == 0 && t.matrix.d == 0 && t.matrix.b != 0);
    Some(if quarter_turn { (height, width) } else { (width, height) })
}

/// The track's presented length (track header, movie timescale, after edits), else its media
/// length (media header, own timescale). The longest track is the movie's length, as in `mvhd`.
fn track_duration_ms(track: &Track, movie_scale: Option<u64>) -> Option<u64> {
    let unknown = |d: u64| d == 0 || d == u64::from(u32::MAX) || d == u64::MAX;
    let presented = track
        .tkhd
        .as_ref()
        .filter(|t| !unknown(t.duration))
        .and_then(|t| movie_scale.and_then(|scale| to_ms(t.duration, scale)));
    let media = match (track.duration, track.timescale) {
        (Some(d), Some(scale)) if !unknown(d.0) => to_ms(d.0, scale.0),
        _ => None,
    };
    presented.or(media)
}

fn to_ms(duration: u64, timescale: u64) -> Option<u64> {
    if timescale == 0 {
        return None;
    }
    u64::try_from(u128::from(duration) * 1000 / u128::from(timescale)).ok()
}

/// The first sample entry code of each `trak`, in file order (the order `mp4parse` lists tracks).
fn sample_entry_codes(header: &[u8]) -> Vec<Option<[u8; 4]>> {
    let Some(moov) = boxes(header).find(|(kind, _)| kind == b"moov").map(|(_, body)| body) else {
        return Vec::new();
    };
    boxes(moov)
        .filter(|(kind, _)| kind == b"trak")
        .map(|(_, trak)| {
            let stsd = [b"mdia", b"minf", b"stbl", b"stsd"]
                .iter()
                .try_fold(trak, |body, want| boxes(body).find(|(kind, _)| kind == *want).map(|(_, b)| b))?;
            // stsd: version and flags (4), entry count (4), then the first entry's size and code.
            stsd.get(12..16).and_then(|code| code.try_into().ok())
        })
        .collect()
}

/// Iterates `(type, payload)` over the boxes laid end to end in `data`, stopping at the first
/// that does not fit (this runs after `mp4parse` accepted the same bytes).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?);
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, data.len() as u64),
            1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)),
            n => (8, u64::from(n)),
        };
        let size = usize::try_from(size).ok().filter(|s| *s >= header && *s <= data.len())?;
        let payload = &data[header..size];
        data = &data[size..];
        Some((kind, payload))
    })
}
