//! Real files made by ffmpeg (see `fixtures/README.md`), and files damaged, cut, renamed or forged
//! from them, through the prober. Every expectation is exact: a prober that guessed from the name,
//! decoded too leniently or kept a whole video in memory fails here.

#![expect(clippy::unwrap_used, reason = "tests")]

use crier_media::{MediaFacts, MediaKind, ProbeError, ProbeLimits, Prober, claimed_mime, probe};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn probe_default(bytes: &[u8]) -> Result<MediaFacts, ProbeError> {
    probe(bytes, ProbeLimits::default())
}

fn probe_chunked(bytes: &[u8], chunk: usize) -> Result<MediaFacts, ProbeError> {
    let mut prober = Prober::new(ProbeLimits::default());
    for piece in bytes.chunks(chunk) {
        prober.feed(piece)?;
    }
    prober.finish()
}

fn assert_image(name: &str, mime: &str, width: u32, height: u32) {
    let facts = probe_default(&fixture(name)).unwrap();
    let expected = MediaFacts {
        mime: mime.to_owned(),
        kind: MediaKind::Image,
        width,
        height,
        duration_ms: None,
        video_codec: None,
        audio_codec: None,
    };
    assert_eq!(facts, expected, "{name}");
}

fn assert_video(name: &str, mime: &str, size: (u32, u32), ms: u64, video: &str, audio: &str) {
    let facts = probe_default(&fixture(name)).unwrap();
    assert_eq!(facts.mime, mime, "{name}");
    assert_eq!(facts.kind, MediaKind::Video, "{name}");
    assert_eq!((facts.width, facts.height), size, "{name}");
    let duration = facts.duration_ms.unwrap();
    assert!(duration.abs_diff(ms) <= 50, "{name}: {duration} ms, expected {ms}");
    assert_eq!(facts.video_codec.as_deref(), Some(video), "{name}");
    assert_eq!(facts.audio_codec.as_deref(), Some(audio), "{name}");
}

#[test]
fn each_image_fixture_gives_its_facts() {
    assert_image("photo.jpg", "image/jpeg", 640, 480);
    assert_image("image.png", "image/png", 160, 120);
    assert_image("anim.gif", "image/gif", 96, 72);
    assert_image("image.webp", "image/webp", 160, 120);
    assert_image("anim.webp", "image/webp", 96, 72);
}

#[test]
fn each_video_fixture_gives_its_facts() {
    assert_video("clip.mp4", "video/mp4", (320, 240), 2000, "h264", "aac");
    assert_video("clip_moov_at_end.mp4", "video/mp4", (320, 240), 2000, "h264", "aac");
    assert_video("clip.mov", "video/quicktime", (320, 240), 2000, "hevc", "aac");
    assert_video("clip_vp9_opus.mp4", "video/mp4", (160, 120), 1000, "vp9", "opus");
}

#[test]
fn a_png_named_mp4_claims_video_but_sniffs_as_png() {
    let claimed = claimed_mime(None, Some("holiday.mp4"));
    let sniffed = probe_default(&fixture("image.png")).unwrap().mime;
    assert_eq!(claimed, Some("video/mp4"));
    assert_eq!(sniffed, "image/png");
    assert_ne!(claimed, Some(sniffed.as_str()));
}

#[test]
fn claimed_mime_prefers_a_specific_declared_type_and_normalises_spellings() {
    assert_eq!(claimed_mime(Some("image/JPG; charset=binary"), Some("a.png")), Some("image/jpeg"));
    assert_eq!(claimed_mime(Some("application/octet-stream"), Some("A.MOV")), Some("video/quicktime"));
    assert_eq!(claimed_mime(Some(""), Some("scan.pdf")), Some("application/pdf"));
    assert_eq!(claimed_mime(None, Some("no-extension")), None);
    assert_eq!(claimed_mime(None, None), None);
}

#[test]
fn a_jpeg_cut_anywhere_from_half_way_on_is_refused() {
    let jpeg = fixture("photo.jpg");
    let mut cuts: Vec<usize> = (50..=95).step_by(5).map(|pct| jpeg.len() * pct / 100).collect();
    cuts.extend([jpeg.len() - 1, jpeg.len() - 2, 3, 20, 200]);
    for cut in cuts {
        let result = probe_default(&jpeg[..cut]);
        assert!(
            matches!(result, Err(ProbeError::Truncated | ProbeError::Malformed(_))),
            "JPEG cut at {cut} of {}: {result:?}",
            jpeg.len()
        );
    }
}

#[test]
fn a_jpeg_with_a_camera_trailer_after_its_end_is_accepted() {
    let mut jpeg = fixture("photo.jpg");
    jpeg.extend_from_slice(b"\x00\x00SEFHtrailing camera data");
    assert_eq!(probe_default(&jpeg).unwrap().width, 640);
}

#[test]
fn other_images_cut_short_are_refused() {
    for name in ["image.png", "anim.gif", "image.webp", "anim.webp"] {
        let bytes = fixture(name);
        for cut in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len() - 1] {
            let result = probe_default(&bytes[..cut]);
            assert!(
                matches!(result, Err(ProbeError::Truncated | ProbeError::Malformed(_))),
                "{name} cut at {cut}: {result:?}"
            );
        }
    }
}

#[test]
fn a_png_with_damaged_pixel_data_is_refused_as_malformed() {
    let mut png = fixture("image.png");
    let idat = find(&png, b"IDAT").unwrap();
    png[idat + 20] ^= 0xff;
    assert!(matches!(probe_default(&png), Err(ProbeError::Malformed(_))));
}

#[test]
fn an_mp4_cut_in_its_media_data_or_its_moov_is_truncated() {
    let faststart = fixture("clip.mp4");
    let moov_at_end = fixture("clip_moov_at_end.mp4");
    let moov = find(&faststart, b"moov").unwrap();
    let mdat = find(&faststart, b"mdat").unwrap();
    let late_moov = find(&moov_at_end, b"moov").unwrap();
    let cases = [
        ("faststart cut in moov", &faststart[..moov + 500]),
        ("faststart cut in mdat", &faststart[..mdat + 4000]),
        ("faststart missing its last byte", &faststart[..faststart.len() - 1]),
        ("moov-at-end cut in mdat", &moov_at_end[..late_moov - 1000]),
        ("moov-at-end cut just before moov", &moov_at_end[..late_moov - 4]),
        ("moov-at-end cut in moov", &moov_at_end[..late_moov + 300]),
        ("cut inside the ftyp", &faststart[..20]),
    ];
    for (what, bytes) in cases {
        assert_eq!(probe_default(bytes), Err(ProbeError::Truncated), "{what}");
        assert_eq!(probe_chunked(bytes, 7), Err(ProbeError::Truncated), "{what}, in chunks");
    }
}

#[test]
fn bytes_after_the_last_box_are_refused() {
    let mut mp4 = fixture("clip.mp4");
    mp4.extend_from_slice(b"abc");
    assert_eq!(probe_default(&mp4), Err(ProbeError::Truncated));
}

#[test]
fn chunk_size_does_not_change_the_facts() {
    for name in ["clip.mp4", "clip_moov_at_end.mp4", "clip.mov", "photo.jpg"] {
        let bytes = fixture(name);
        let whole = probe_default(&bytes).unwrap();
        for chunk in [1, 7, 64 * 1024] {
            assert_eq!(probe_chunked(&bytes, chunk).unwrap(), whole, "{name} in {chunk}-byte chunks");
        }
    }
}

#[test]
fn a_200_mib_video_stream_is_probed_in_bounded_memory() {
    // ftyp, then a 200 MiB `free` box with a 64-bit size, then the rest of a moov-at-end file:
    // the moov has to be found after all that data without any of it being kept.
    let clip = fixture("clip_moov_at_end.mp4");
    let ftyp_len = 32;
    assert_eq!(&clip[4..8], b"ftyp");
    let padding: u64 = 200 * 1024 * 1024;
    let mut free_header = 1u32.to_be_bytes().to_vec();
    free_header.extend_from_slice(b"free");
    free_header.extend_from_slice(&(padding + 16).to_be_bytes());

    let mut prober = Prober::new(ProbeLimits::default());
    prober.feed(&clip[..ftyp_len]).unwrap();
    prober.feed(&free_header).unwrap();
    let zeros = vec![0u8; 64 * 1024];
    let mut peak = 0;
    for _ in 0..padding / zeros.len() as u64 {
        prober.feed(&zeros).unwrap();
        peak = peak.max(prober.buffered_bytes());
    }
    for piece in clip[ftyp_len..].chunks(64 * 1024) {
        prober.feed(piece).unwrap();
        peak = peak.max(prober.buffered_bytes());
    }
    assert!(peak < 16 * 1024, "held {peak} bytes");
    assert_eq!(prober.finish().unwrap(), probe_default(&clip).unwrap());
}

#[test]
fn a_last_box_of_size_zero_runs_to_the_end_of_the_file() {
    let mut moov_last = fixture("clip_moov_at_end.mp4");
    let moov = find(&moov_last, b"moov").unwrap() - 4;
    moov_last[moov..moov + 4].copy_from_slice(&[0; 4]);
    assert_eq!(probe_chunked(&moov_last, 7).unwrap().video_codec.as_deref(), Some("h264"));

    let mut mdat_last = fixture("clip.mp4");
    let mdat = find(&mdat_last, b"mdat").unwrap() - 4;
    mdat_last[mdat..mdat + 4].copy_from_slice(&[0; 4]);
    assert_eq!(probe_default(&mdat_last).unwrap().width, 320);
}

#[test]
fn a_moov_over_the_header_limit_is_refused_while_streaming() {
    let limits = ProbeLimits { max_video_header_bytes: 1024, ..ProbeLimits::default() };
    let mut prober = Prober::new(limits);
    let result = prober.feed(&fixture("clip.mp4"));
    assert_eq!(result, Err(ProbeError::HeaderTooLarge { limit: 1024 }));
    assert_eq!(prober.feed(b"more"), Err(ProbeError::HeaderTooLarge { limit: 1024 }), "the refusal sticks");
}

#[test]
fn a_video_file_without_a_video_track_is_malformed() {
    let result = probe_default(&fixture("audio_only.mp4"));
    assert_eq!(result, Err(ProbeError::Malformed("no video track".into())));
}

#[test]
fn a_png_claiming_40000_by_40000_is_refused_before_decoding() {
    // Only the header is forged: the pixel data is the 160×120 fixture's, so had the decoder run
    // it would have failed differently.
    let mut png = fixture("image.png");
    let ihdr = find(&png, b"IHDR").unwrap();
    png[ihdr + 4..ihdr + 8].copy_from_slice(&40_000u32.to_be_bytes());
    png[ihdr + 8..ihdr + 12].copy_from_slice(&40_000u32.to_be_bytes());
    let crc = crc32(&png[ihdr..ihdr + 17]);
    png[ihdr + 17..ihdr + 21].copy_from_slice(&crc.to_be_bytes());
    let refused = Err(ProbeError::TooManyPixels { width: 40_000, height: 40_000, limit: 100_000_000 });
    assert_eq!(probe_default(&png), refused);
    // With the pixel data damaged too, decoding would have said Malformed.
    let idat = find(&png, b"IDAT").unwrap();
    png[idat + 20] ^= 0xff;
    assert_eq!(probe_default(&png), refused);
}

#[test]
fn a_jpeg_claiming_30000_by_30000_is_refused_before_decoding() {
    let mut jpeg = fixture("photo.jpg");
    let sof = find(&jpeg, b"\xff\xc0").unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&30_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&30_000u16.to_be_bytes());
    let result = probe_default(&jpeg);
    assert_eq!(result, Err(ProbeError::TooManyPixels { width: 30_000, height: 30_000, limit: 100_000_000 }));
}

#[test]
fn a_jpeg_turned_by_exif_reports_its_displayed_size() {
    // An APP1 segment whose one IFD entry is Orientation = 6 (rotate 90° clockwise).
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01".to_vec();
    tiff.extend_from_slice(b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00");
    let mut app1 = b"\xff\xe1".to_vec();
    app1.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    app1.extend_from_slice(b"Exif\x00\x00");
    app1.extend_from_slice(&tiff);
    let mut jpeg = fixture("photo.jpg");
    jpeg.splice(2..2, app1);
    let facts = probe_default(&jpeg).unwrap();
    assert_eq!((facts.width, facts.height), (480, 640));
}

#[test]
fn a_video_whose_track_matrix_turns_it_upright_reports_its_displayed_size() {
    // The first track is the video; its tkhd (version 0) matrix starts 40 bytes into the payload.
    let mut mp4 = fixture("clip.mp4");
    let matrix = find(&mp4, b"tkhd").unwrap() + 4 + 40;
    let quarter_turn = [0, 0x0001_0000, 0, -0x0001_0000, 0];
    for (i, value) in quarter_turn.iter().enumerate() {
        mp4[matrix + 4 * i..matrix + 4 * i + 4].copy_from_slice(&i32::to_be_bytes(*value));
    }
    let facts = probe_default(&mp4).unwrap();
    assert_eq!((facts.width, facts.height), (240, 320));
}

#[test]
fn non_media_is_refused_and_named() {
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.resize(600, 0);
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00".to_vec();
    elf.resize(64, 0);
    let cases: [(&[u8], Option<&str>); 8] = [
        (&zip, Some("a ZIP archive")),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", Some("a PDF document")),
        (b"hello, this is just a note\nwith two lines\n", Some("a text file")),
        (b"<!DOCTYPE html><html><body>hi</body></html>", Some("an HTML page")),
        (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", Some("an SVG image")),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00", Some("a gzip archive")),
        (&elf, Some("an ELF executable")),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", Some("a HEIC image")),
    ];
    for (bytes, detected) in cases {
        assert_eq!(probe_default(bytes), Err(ProbeError::Unsupported { detected }), "{detected:?}");
    }
    assert_eq!(probe_default(&[0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8]), Err(unsupported(None)));
    assert_eq!(probe_default(b""), Err(ProbeError::Empty));
    assert_eq!(Prober::new(ProbeLimits::default()).finish(), Err(ProbeError::Empty));
}

#[test]
fn a_zip_stream_is_refused_at_its_first_chunks() {
    let mut prober = Prober::new(ProbeLimits::default());
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.resize(64 * 1024, 0);
    assert_eq!(prober.feed(&zip), Err(unsupported(Some("a ZIP archive"))));
    assert!(prober.buffered_bytes() < 1024);
}

#[test]
fn a_60_mib_image_stream_is_refused_at_feed_once_past_the_limit() {
    let limit = ProbeLimits::default().max_image_bytes;
    let mut prober = Prober::new(ProbeLimits::default());
    prober.feed(&fixture("image.png")[..33]).unwrap();
    let chunk = vec![0u8; 1024 * 1024];
    let mut fed = 33u64;
    let error = loop {
        assert!(fed < 60 * 1024 * 1024, "60 MiB went in without a refusal");
        match prober.feed(&chunk) {
            Ok(()) => fed += chunk.len() as u64,
            Err(error) => break error,
        }
    };
    assert_eq!(error, ProbeError::TooLarge { limit });
    assert!(fed <= limit && fed + chunk.len() as u64 > limit, "refused after {fed} bytes");
    assert_eq!(prober.finish(), Err(ProbeError::TooLarge { limit }));
}

#[test]
fn refusals_read_as_sentences_for_the_uploader() {
    let supported = "(images: PNG, JPEG, GIF, WebP; video: MP4, MOV)";
    let cases = [
        (
            unsupported(Some("a ZIP archive")),
            format!("a ZIP archive is not a supported media type {supported}"),
        ),
        (unsupported(None), format!("this file is not a supported media type {supported}")),
        (ProbeError::Truncated, "the file ends early: it is truncated or incomplete".into()),
        (ProbeError::Malformed("no video track".into()), "the file is damaged: no video track".into()),
        (
            ProbeError::TooLarge { limit: 50 * 1024 * 1024 },
            "the image is too large: the limit is 50 MiB".into(),
        ),
        (
            ProbeError::TooManyPixels { width: 40_000, height: 40_000, limit: 100_000_000 },
            "the image is 40000×40000 pixels, more than the limit of 100 megapixels".into(),
        ),
        (ProbeError::Empty, "the file is empty".into()),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn facts_serialise_with_a_lowercase_kind() {
    let facts = probe_default(&fixture("clip.mp4")).unwrap();
    let json = serde_json::to_value(&facts).unwrap();
    assert_eq!(json["kind"], "video");
    assert_eq!(json["mime"], "video/mp4");
    assert_eq!(serde_json::from_value::<MediaFacts>(json).unwrap(), facts);
}

#[test]
fn the_sniffed_type_is_known_after_the_first_bytes() {
    let mut prober = Prober::new(ProbeLimits::default());
    prober.feed(&fixture("clip.mov")[..11]).unwrap();
    assert_eq!(prober.sniffed_mime(), None);
    prober.feed(&fixture("clip.mov")[11..12]).unwrap();
    assert_eq!(prober.sniffed_mime(), Some("video/quicktime"));
}

fn unsupported(detected: Option<&'static str>) -> ProbeError {
    ProbeError::Unsupported { detected }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The CRC-32 PNG uses, bit by bit: enough for one forged chunk.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
