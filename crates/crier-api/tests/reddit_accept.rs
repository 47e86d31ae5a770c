//! What a Reddit target may carry, checked when the post is accepted, over HTTP on both
//! backends: images make an image post or a gallery, so a `link` or `self` post with media is
//! refused at `/targets/{i}/options/kind`; a video is refused at `/media` (Crier posts no video
//! to Reddit); images without a `kind` are taken.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Reply, Server};
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(backend: reddit_targets_are_checked_against_their_media);

const PNG: &[u8] = include_bytes!("../../crier-media/tests/fixtures/image.png");
const CLIP: &[u8] = include_bytes!("../../crier-media/tests/fixtures/clip.mp4");

async fn upload(server: &Server, key: &str, name: &str, mime: &str, bytes: &[u8]) -> String {
    let form = Form::new()
        .part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str(mime).unwrap());
    let reply = Reply::from(
        server.http.post(server.url("/v1/media")).bearer_auth(key).multipart(form).send().await.unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap().to_owned()).collect()
}

async fn reddit_targets_are_checked_against_their_media(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let key = &seeded.admin_key;
    let channel = server.connected_channel(seeded.workspace, "reddit", "1w72").await.id.to_string();
    let image = upload(&server, key, "chart.png", "image/png", PNG).await;
    let post = |media: &[&str], options: Value| json!({"text": "", "media": media, "targets": [{"channel_id": channel, "options": options}]});

    let link = json!({"title": "Read", "kind": "link", "url": "https://crier.example/news"});
    let refused = server.post("/v1/posts", key, post(&[&image], link.clone())).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(problem), ["/targets/0/options/kind"], "{problem}");
    assert!(problem.to_string().contains("carries no images"), "{problem}");
    let refused = server.post("/v1/posts", key, post(&[&image], json!({"title": "S", "kind": "self"}))).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(problem), ["/targets/0/options/kind"], "{problem}");

    let video = upload(&server, key, "clip.mp4", "video/mp4", CLIP).await;
    let refused = server.post("/v1/posts", key, post(&[&video], json!({"title": "V"}))).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(problem), ["/media"], "{problem}");

    let taken = server.post("/v1/posts", key, post(&[&image], json!({"title": "A chart"}))).await;
    assert_eq!(taken.status, StatusCode::ACCEPTED, "{}", taken.body);
    let alone = server.post("/v1/posts", key, post(&[], link)).await;
    assert_eq!(alone.status, StatusCode::ACCEPTED, "a link post without media: {}", alone.body);
}
