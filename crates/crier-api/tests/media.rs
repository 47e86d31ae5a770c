//! The media API through the real HTTP server on both backends: uploads decided by their bytes,
//! lying, truncated and oversized files refused, per-platform rules at the door, encryption at
//! rest in the media folder, resumable uploads with visible progress, fetches by URL through the
//! SSRF policy, media carried by posts to the publishing worker, and the public media links
//! platforms fetch media from.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use common::{Reply, Server};
use crier_api::MediaConfig;
use crier_core::Clock;
use crier_net::OutboundPolicy;
use crier_testkit::{Backend, on_both_backends};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    backend: images_and_videos_are_described_from_their_bytes,
    lying_truncated_bombs_and_oversized_files_are_refused_and_leave_nothing,
    platform_rules_are_checked_at_upload_and_when_posting,
    media_are_encrypted_at_rest_and_round_trip_intact,
    resumable_uploads_show_progress_and_complete_once,
    a_resumable_upload_of_a_lying_file_is_discarded,
    expired_uploads_are_swept,
    hostile_urls_are_refused_without_a_connection,
    a_fetched_image_is_stored_and_a_redirect_to_a_private_address_is_not,
    posts_carry_media_to_the_worker_and_keep_them_from_deletion,
    media_stay_in_their_workspace_and_need_their_scopes,
    uploads_are_idempotent,
    media_links_serve_one_media_for_an_hour_to_whoever_holds_them,
);

const CLIP: &[u8] = include_bytes!("../../crier-media/tests/fixtures/clip.mp4");
const PHOTO: &[u8] = include_bytes!("../../crier-media/tests/fixtures/photo.jpg");
const PNG: &[u8] = include_bytes!("../../crier-media/tests/fixtures/image.png");

async fn upload(
    server: &Server,
    key: &str,
    name: &str,
    mime: &str,
    bytes: &[u8],
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = Form::new()
        .part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str(mime).unwrap());
    for (field, value) in extra {
        form = form.text(field.to_string(), value.to_string());
    }
    let response =
        server.http.post(server.url("/v1/media")).bearer_auth(key).multipart(form).send().await.unwrap();
    Reply::from(response).await
}

async fn download(server: &Server, key: &str, id: &str) -> (StatusCode, String, Vec<u8>) {
    let response = server
        .http
        .get(server.url(&format!("/v1/media/{id}/content")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let mime =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, mime, response.bytes().await.unwrap().to_vec())
}

/// Every file under the media folder.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { stack.push(path) } else { found.push(path) }
        }
    }
    found
}

/// Every file under the media folder, with its bytes.
fn stored_files(dir: &Path) -> Vec<Vec<u8>> {
    files_under(dir).into_iter().map(|path| std::fs::read(path).unwrap()).collect()
}

fn problem_detail(reply: &Reply) -> String {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors.iter().map(|e| format!("{} {}", e["pointer"], e["detail"])).collect::<Vec<_>>().join("; ")
        })
        .unwrap_or_else(|| reply.body["detail"].to_string())
}

/// A PNG of the given size, made here.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn images_and_videos_are_described_from_their_bytes(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;

    let reply = upload(&server, &key, "clip.mp4", "video/mp4", CLIP, &[("alt_text", "a test card")]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let video = &reply.body;
    assert_eq!(
        (video["status"].as_str(), video["kind"].as_str(), video["mime"].as_str()),
        (Some("ready"), Some("video"), Some("video/mp4"))
    );
    assert_eq!((video["width"].as_u64(), video["height"].as_u64()), (Some(320), Some(240)));
    let duration = video["duration_ms"].as_u64().unwrap();
    assert!((1950..=2050).contains(&duration), "{duration}");
    assert_eq!(video["video_codec"], "h264");
    assert_eq!(video["audio_codec"], "aac");
    assert_eq!(video["size"].as_u64(), Some(CLIP.len() as u64));
    assert_eq!(video["alt_text"], "a test card");
    assert_eq!(video["sha256"].as_str().unwrap().len(), 64);

    // Declared as a generic binary with no telling name: the bytes decide.
    let reply = upload(&server, &key, "upload", "application/octet-stream", PHOTO, &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        (reply.body["mime"].as_str(), reply.body["width"].as_u64(), reply.body["height"].as_u64()),
        (Some("image/jpeg"), Some(640), Some(480))
    );
    let photo_id = reply.body["id"].as_str().unwrap().to_owned();

    let shown = server.get(&format!("/v1/media/{photo_id}"), &key).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body, reply.body);
    // Pages of one: both media, each once, then the end.
    let first = server.get("/v1/media?limit=1", &key).await.body;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = server.get(&format!("/v1/media?limit=1&cursor={cursor}"), &key).await.body;
    let mut ids = [first["data"][0]["id"].as_str().unwrap(), second["data"][0]["id"].as_str().unwrap()];
    ids.sort_unstable();
    let mut expected = [photo_id.as_str(), video["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(second["next_cursor"].is_null());
}

async fn lying_truncated_bombs_and_oversized_files_are_refused_and_leave_nothing(backend: Backend) {
    let media = MediaConfig { max_file_bytes: 2 * 1024 * 1024, ..MediaConfig::default() };
    let server = Server::start_media(backend, media, OutboundPolicy::default()).await;
    let key = server.seed("media").await.admin_key;

    // A decompression bomb: a small PNG whose header claims 40000×40000 pixels.
    let mut bomb = png(64, 64);
    bomb[16..20].copy_from_slice(&40_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&40_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    // A ZIP archive.
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 200]].concat();

    let cases: Vec<(&str, &str, &str, Vec<u8>, &str)> = vec![
        (
            "a PNG renamed .mp4",
            "image.mp4",
            "video/mp4",
            PNG.to_vec(),
            "its name or declared type says video/mp4",
        ),
        ("a PNG declared as a JPEG", "image", "image/jpeg", PNG.to_vec(), "says image/jpeg"),
        ("a truncated JPEG", "photo.jpg", "image/jpeg", PHOTO[..PHOTO.len() * 6 / 10].to_vec(), "truncated"),
        ("a truncated MP4", "clip.mp4", "video/mp4", CLIP[..CLIP.len() - 700].to_vec(), "truncated"),
        ("a pixel bomb", "bomb.png", "image/png", bomb, "40000×40000"),
        ("a ZIP archive", "photos.zip", "application/zip", zip, "ZIP"),
        ("an empty file", "nothing.png", "image/png", Vec::new(), "empty"),
        (
            "a file over the size limit",
            "huge.png",
            "image/png",
            [PNG, &vec![0u8; 3 * 1024 * 1024]].concat(),
            "larger than",
        ),
    ];
    for (what, name, mime, bytes, says) in cases {
        let reply = upload(&server, &key, name, mime, &bytes, &[]).await;
        assert!(
            matches!(reply.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        assert_eq!(reply.content_type(), "application/problem+json", "{what}");
        let detail = problem_detail(&reply);
        assert!(detail.to_lowercase().contains(&says.to_lowercase()), "{what}: {detail}");
    }
    // Nothing was kept: no media, no stored bytes, no sealed keys.
    assert_eq!(server.get("/v1/media", &key).await.body["data"], json!([]));
    assert!(stored_files(server.media_dir.path()).is_empty(), "no bytes left in the media folder");

    // Unknown form fields and a second file are refused too.
    let reply = upload(&server, &key, "image.png", "image/png", PNG, &[("caption", "x")]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    let reply =
        server.http.post(server.url("/v1/media")).bearer_auth(&key).body("plain").send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(stored_files(server.media_dir.path()).is_empty());
}

async fn platform_rules_are_checked_at_upload_and_when_posting(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let small = server
        .sandbox(&key, json!({"media": {"max_images": 2, "max_dimension": 300, "max_videos": 0}}))
        .await;
    let roomy = server.sandbox(&key, json!({})).await;
    let wide = png(400, 200);

    // Checked now, because the caller asked about that channel.
    let reply = upload(
        &server,
        &key,
        "wide.png",
        "image/png",
        &wide,
        &[("channel_ids", &format!("{roomy},{small}"))],
    )
    .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = problem_detail(&reply);
    assert!(
        detail.contains("/channel_ids/1") && detail.contains("400×200") && detail.contains("300"),
        "{detail}"
    );
    assert!(!detail.contains("/channel_ids/0"), "the roomy channel takes it: {detail}");

    // Stored when no channel is named, then refused by a post to the small channel only.
    let image = upload(&server, &key, "wide.png", "image/png", &wide, &[]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let clip = upload(&server, &key, "clip.mp4", "video/mp4", CLIP, &[]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |media: Vec<&str>, channel: &str| json!({"text": "hello", "media": media, "targets": [{"channel_id": channel}]});
    let refused = server.post("/v1/posts", &key, post(vec![&image], &small)).await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = problem_detail(&refused);
    assert!(detail.contains("/media/0") && detail.contains("400×200"), "{detail}");
    let refused = server.post("/v1/posts", &key, post(vec![&clip], &small)).await;
    assert!(problem_detail(&refused).contains("takes no videos"), "{}", refused.body);
    let refused = server.post("/v1/posts", &key, post(vec![&image, &clip], &roomy)).await;
    assert!(problem_detail(&refused).contains("not both"), "{}", refused.body);
    let refused = server.post("/v1/posts", &key, post(vec![&image, &image], &roomy)).await;
    assert!(problem_detail(&refused).contains("listed twice"), "{}", refused.body);
    assert_eq!(server.get("/v1/posts", &key).await.body["data"], json!([]), "nothing accepted");

    let accepted = server.post("/v1/posts", &key, post(vec![&image], &roomy)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(accepted.body["media"], json!([image]));
}

async fn media_are_encrypted_at_rest_and_round_trip_intact(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let mut ids = Vec::new();
    for (name, mime, bytes) in [("clip.mp4", "video/mp4", CLIP), ("photo.jpg", "image/jpeg", PHOTO)] {
        let reply = upload(&server, &key, name, mime, bytes, &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let files = stored_files(server.media_dir.path());
    assert_eq!(files.len(), 2);
    for original in [CLIP, PHOTO] {
        for file in &files {
            assert_ne!(file.as_slice(), original);
            // No 32-byte run of the original appears anywhere on disk.
            let windows: std::collections::HashSet<&[u8]> = original.windows(32).step_by(7).collect();
            assert!(!file.windows(32).any(|w| windows.contains(w)), "plaintext found on disk");
        }
    }
    for (id, (original, mime)) in ids.iter().zip([(CLIP, "video/mp4"), (PHOTO, "image/jpeg")]) {
        let (status, content_type, body) = download(&server, &key, id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, mime);
        assert!(body == original, "round trip intact");
    }
    // A flipped byte on disk is detected, never served as the file.
    for path in files_under(server.media_dir.path()) {
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    }
    for id in &ids {
        // The connection is cut (before or during the body): never a complete, wrong file.
        let sent =
            server.http.get(server.url(&format!("/v1/media/{id}/content"))).bearer_auth(&key).send().await;
        if let Ok(response) = sent {
            let body = response.bytes().await;
            assert!(body.is_err(), "tampered bytes are not served whole");
        }
    }
}

async fn send_part(server: &Server, key: &str, id: &str, offset: usize, bytes: &[u8]) -> Reply {
    let response = server
        .http
        .patch(server.url(&format!("/v1/media/{id}/content")))
        .bearer_auth(key)
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    Reply::from(response).await
}

async fn begin(server: &Server, key: &str, size: usize, name: &str) -> String {
    let reply = server.post("/v1/media/uploads", key, json!({"size": size, "file_name": name})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["status"], "uploading");
    assert_eq!(reply.body["upload"]["received"], 0);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn resumable_uploads_show_progress_and_complete_once(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let id = begin(&server, &key, CLIP.len(), "clip.mp4").await;
    let (a, b) = (CLIP.len() / 3, 2 * CLIP.len() / 3);

    let first = send_part(&server, &key, &id, 0, &CLIP[..a]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["upload"]["received"].as_u64(), Some(a as u64));
    assert_eq!(first.body["upload"]["percent"].as_u64(), Some((a * 100 / CLIP.len()) as u64));

    // Progress is visible to anyone polling, as JSON and as tus-style headers.
    let shown = server.get(&format!("/v1/media/{id}"), &key).await;
    assert_eq!(shown.body["upload"]["received"].as_u64(), Some(a as u64));
    let head = server
        .http
        .head(server.url(&format!("/v1/media/{id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["upload-offset"], a.to_string().as_str());
    assert_eq!(head.headers()["upload-length"], CLIP.len().to_string().as_str());

    // A part at the wrong offset (a retry of one that landed) is refused and changes nothing.
    let again = send_part(&server, &key, &id, 0, &CLIP[..a]).await;
    again.assert_problem(StatusCode::CONFLICT);
    let too_much = send_part(&server, &key, &id, a, &[&CLIP[a..], b"extra".as_slice()].concat()).await;
    too_much.assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = download(&server, &key, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "not downloadable before it is complete");

    let second = send_part(&server, &key, &id, a, &CLIP[a..b]).await;
    assert_eq!(second.body["upload"]["received"].as_u64(), Some(b as u64), "{}", second.body);
    let last = send_part(&server, &key, &id, b, &CLIP[b..]).await;
    assert_eq!(last.status, StatusCode::OK, "{}", last.body);
    assert_eq!(
        (last.body["status"].as_str(), last.body["mime"].as_str()),
        (Some("ready"), Some("video/mp4"))
    );
    assert_eq!(last.body["upload"], Value::Null);
    assert!((1950..=2050).contains(&last.body["duration_ms"].as_u64().unwrap()));
    let (status, _, body) = download(&server, &key, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == CLIP, "the parts join into the file");
    let more = send_part(&server, &key, &id, CLIP.len(), b"x").await;
    more.assert_problem(StatusCode::CONFLICT);
}

async fn a_resumable_upload_of_a_lying_file_is_discarded(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    // A ZIP is refused at its first part, before the rest is sent.
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 5000]].concat();
    let id = begin(&server, &key, zip.len(), "a.zip").await;
    let refused = send_part(&server, &key, &id, 0, &zip[..1000]).await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem_detail(&refused).contains("ZIP"), "{}", refused.body);

    // A PNG announced as clip.mp4 is found out when complete, and discarded.
    let id = begin(&server, &key, PNG.len(), "clip.mp4").await;
    let refused = send_part(&server, &key, &id, 0, PNG).await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem_detail(&refused).contains("discarded"), "{}", refused.body);
    server.get(&format!("/v1/media/{id}"), &key).await.assert_problem(StatusCode::NOT_FOUND);
}

async fn expired_uploads_are_swept(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let id = begin(&server, &key, CLIP.len(), "clip.mp4").await;
    send_part(&server, &key, &id, 0, &CLIP[..1000]).await;
    assert_eq!(stored_files(server.media_dir.path()).len(), 1);
    assert_eq!(crier_api::media::sweep_expired_uploads(&server.state).await.unwrap(), 0, "not yet");
    server.clock.advance(Duration::hours(25));
    assert_eq!(crier_api::media::sweep_expired_uploads(&server.state).await.unwrap(), 1);
    server.get(&format!("/v1/media/{id}"), &key).await.assert_problem(StatusCode::NOT_FOUND);
    assert!(stored_files(server.media_dir.path()).is_empty(), "its parts are gone");
}

/// A loopback HTTP server answering every request with `response`, counting connections.
async fn peer(response: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
    crier_testkit::ssrf::serve_on("127.0.0.1:0", response).await
}

fn answer(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let head =
        format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n", body.len());
    [head.as_bytes(), body].concat()
}

async fn fetch(server: &Server, key: &str, url: &str) -> Reply {
    server.post("/v1/media", key, json!({"url": url})).await
}

async fn hostile_urls_are_refused_without_a_connection(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let (address, connections) = peer(answer("200 OK", "content-type: image/png\r\n", PNG)).await;
    let p = address.port();
    // crier-net's own table, each through the API.
    let cases = crier_testkit::ssrf::hostile_urls(p);
    assert!(cases.len() >= 40);
    for url in &cases {
        let reply = fetch(&server, &key, url).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.body["errors"][0]["pointer"], "/url", "{url}: {}", reply.body);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection was made");
    assert_eq!(server.get("/v1/media", &key).await.body["data"], json!([]));
}

async fn a_fetched_image_is_stored_and_a_redirect_to_a_private_address_is_not(backend: Backend) {
    let policy = OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() };
    let server = Server::start_media(backend, MediaConfig::default(), policy).await;
    let key = server.seed("media").await.admin_key;
    let (good, _) = peer(answer("200 OK", "content-type: image/png\r\n", PNG)).await;
    let reply = fetch(&server, &key, &format!("http://127.0.0.1:{}/pictures/image.png", good.port())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(
        (reply.body["mime"].as_str(), reply.body["file_name"].as_str()),
        (Some("image/png"), Some("image.png"))
    );
    let (_, _, body) = download(&server, &key, reply.body["id"].as_str().unwrap()).await;
    assert!(body == PNG);

    let (redirect, _) = peer(answer("302 Found", "location: http://10.1.2.3/image.png\r\n", b"")).await;
    let reply = fetch(&server, &key, &format!("http://127.0.0.1:{}/image.png", redirect.port())).await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem_detail(&reply).contains("10.1.2.3"), "{}", reply.body);

    let (missing, _) = peer(answer("404 Not Found", "", b"no")).await;
    let reply = fetch(&server, &key, &format!("http://127.0.0.1:{}/gone.png", missing.port())).await;
    assert!(problem_detail(&reply).contains("404"), "{}", reply.body);
    let (lying, _) = peer(answer("200 OK", "content-type: image/jpeg\r\n", PNG)).await;
    let reply = fetch(&server, &key, &format!("http://127.0.0.1:{}/clip.mp4", lying.port())).await;
    assert!(problem_detail(&reply).contains("video/mp4"), "{}", reply.body);
    assert_eq!(server.get("/v1/media", &key).await.body["data"].as_array().unwrap().len(), 1);
}

async fn posts_carry_media_to_the_worker_and_keep_them_from_deletion(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let channel = server.sandbox(&key, json!({})).await;
    let first = upload(&server, &key, "photo.jpg", "image/jpeg", PHOTO, &[]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = upload(&server, &key, "image.png", "image/png", PNG, &[]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = (server.clock.now() + Duration::hours(1)).to_rfc3339();
    let body = json!({"text": "two pictures", "media": [second, first], "targets": [{"channel_id": channel}], "scheduled_at": at});
    let accepted = server.post("/v1/posts", &key, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let post_id = accepted.body["id"].as_str().unwrap().to_owned();

    let refused = server.call(Method::DELETE, &format!("/v1/media/{first}"), Some(&key), None).await;
    refused.assert_problem(StatusCode::CONFLICT);
    assert_eq!(download(&server, &key, &first).await.0, StatusCode::OK, "still there");

    server.clock.advance(Duration::hours(1));
    server.worker("w").run_once().await.unwrap();
    let deliveries = server.get(&format!("/v1/channels/{channel}/sandbox-deliveries"), &key).await;
    assert_eq!(deliveries.body["data"][0]["media"], json!([second, first]), "{}", deliveries.body);
    assert_eq!(server.get(&format!("/v1/posts/{post_id}"), &key).await.body["status"], "published");

    let deleted = server.call(Method::DELETE, &format!("/v1/media/{first}"), Some(&key), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    server.get(&format!("/v1/media/{first}"), &key).await.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(stored_files(server.media_dir.path()).len(), 1, "only the other file's bytes remain");
}

async fn media_stay_in_their_workspace_and_need_their_scopes(backend: Backend) {
    let server = Server::start(backend).await;
    let mine = server.seed("mine").await.admin_key;
    let theirs = server.seed("theirs").await.admin_key;
    let id = upload(&server, &mine, "image.png", "image/png", PNG, &[]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path) in [
        (Method::GET, format!("/v1/media/{id}")),
        (Method::GET, format!("/v1/media/{id}/content")),
        (Method::DELETE, format!("/v1/media/{id}")),
        (Method::PATCH, format!("/v1/media/{id}/content")),
    ] {
        let reply = server.call(method.clone(), &path, Some(&theirs), None).await;
        assert!(
            matches!(reply.status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
            "{method} {path}: {}",
            reply.status
        );
    }
    assert_eq!(server.get("/v1/media", &theirs).await.body["data"], json!([]));
    let channel = server.sandbox(&theirs, json!({})).await;
    let post = json!({"text": "x", "media": [id], "targets": [{"channel_id": channel}]});
    let refused = server.post("/v1/posts", &theirs, post).await;
    assert!(problem_detail(&refused).contains("no such media"), "{}", refused.body);

    let (_, reader) = server.create_key(&mine, &["media:read"]).await;
    let reply = upload(&server, &reader, "image.png", "image/png", PNG, &[]).await;
    reply.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(server.get(&format!("/v1/media/{id}"), &reader).await.status, StatusCode::OK);
    let (_, writer) = server.create_key(&mine, &["posts:read"]).await;
    server.get(&format!("/v1/media/{id}"), &writer).await.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(stored_files(server.media_dir.path()).len(), 1, "the refused upload stored nothing");
}

async fn uploads_are_idempotent(backend: Backend) {
    let server = Server::start(backend).await;
    let key = server.seed("media").await.admin_key;
    let send = |bytes: &'static [u8], idem: &'static str| {
        let form = Form::new().part(
            "file",
            Part::bytes(bytes.to_vec()).file_name("f").mime_str("application/octet-stream").unwrap(),
        );
        server
            .http
            .post(server.url("/v1/media"))
            .bearer_auth(&key)
            .header("idempotency-key", idem)
            .multipart(form)
            .send()
    };
    let first = Reply::from(send(PNG, "k1").await.unwrap()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = send(PNG, "k1").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = Reply::from(again).await;
    assert_eq!(again.body, first.body);
    let other = Reply::from(send(PHOTO, "k1").await.unwrap()).await;
    other.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(server.get("/v1/media", &key).await.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(stored_files(server.media_dir.path()).len(), 1, "the replay's bytes were not kept");
}

async fn media_links_serve_one_media_for_an_hour_to_whoever_holds_them(backend: Backend) {
    let config = crier_api::ApiConfig {
        public_url: Some("https://crier.example/".parse().unwrap()),
        ..crier_api::ApiConfig::default()
    };
    let server = Server::start_with(backend, config).await;
    let mine = server.seed("mine").await;
    let theirs = server.seed("theirs").await;
    let id = upload(&server, &mine.admin_key, "photo.jpg", "image/jpeg", PHOTO, &[]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let media: crier_core::MediaId = id.parse().unwrap();
    // What the worker hands Instagram: a link under the public URL, for this media only.
    let source = server.state.platform().media;
    assert!(source.links_media());
    let link = source.link(mine.workspace, media).await.unwrap();
    let token = link.url.strip_prefix("https://crier.example/media-links/").unwrap().to_owned();
    assert_eq!(link.expires_at, server.clock.now() + Duration::hours(1));
    let fetch = |token: String| {
        let http = server.http.clone();
        let url = server.url(&format!("/media-links/{token}"));
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status();
            let mime = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
            (status, mime, response.bytes().await.unwrap().to_vec())
        }
    };
    let (status, mime, bytes) = fetch(token.clone()).await;
    assert_eq!(status, StatusCode::OK, "no API key needed");
    assert_eq!(mime.as_deref(), Some("image/jpeg"));
    assert_eq!(bytes, PHOTO, "the media's own bytes, decrypted");

    // A token changed anywhere, or made up, is a 404 like any other.
    let mut altered = token.clone().into_bytes();
    let at = altered.len() / 2;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(fetch(String::from_utf8(altered).unwrap()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch("A".repeat(token.len())).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch("nothing".into()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server.http.get(server.url("/media-links/")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // Another workspace's media is not reachable: no link is given for it, and a token naming
    // this media in another workspace (even a validly signed one) finds nothing.
    let err = source.link(theirs.workspace, media).await.unwrap_err();
    assert!(matches!(err, crier_providers::ProviderError::Rejected { ref code, .. } if code == "media_gone"));
    let links = server.state.media_links.as_ref().unwrap();
    let (cross, _) = links.token(theirs.workspace, media, server.clock.now());
    assert_eq!(fetch(cross).await.0, StatusCode::NOT_FOUND);

    // An hour later the link is dead.
    server.clock.advance(Duration::hours(1));
    assert_eq!(fetch(token).await.0, StatusCode::NOT_FOUND);

    // Without a public URL there are no links, and the route finds nothing.
    let bare = Server::start(backend).await;
    assert!(!bare.state.platform().media.links_media());
    assert_eq!(fetch_from(&bare, "anything").await, StatusCode::NOT_FOUND);
}

async fn fetch_from(server: &Server, token: &str) -> StatusCode {
    server.http.get(server.url(&format!("/media-links/{token}"))).send().await.unwrap().status()
}
