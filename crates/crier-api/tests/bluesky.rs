//! The Bluesky provider through the real HTTP server and an in-process worker, against a real
//! AT Protocol network (`@atproto/dev-env`: PLC + PDS, started once per test run by scripts/test):
//! connect with an app password, publish rich text, an image with alt text and a thread, read
//! the records back from the PDS; a crash mid-publish reconciled without a duplicate; token
//! refresh ahead of expiry, and a revoked app password leading to `needs_reauth` once.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::{Reply, Server};
use crier_api::MediaConfig;
use crier_core::{AttemptId, Clock};
use crier_net::OutboundPolicy;
use crier_testkit::atproto::{Account, Pds};
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    backend: connect_publish_rich_text_an_image_and_a_thread,
    passwords_that_are_wrong_or_too_powerful_are_refused_and_store_nothing,
    a_crash_mid_publish_is_reconciled_without_a_duplicate,
    sessions_refresh_ahead_of_expiry_and_a_revoked_app_password_needs_reauth_once,
);

const PHOTO: &[u8] = include_bytes!("../../crier-media/tests/fixtures/photo.jpg");

/// A server allowed to reach the PDS on loopback over http (the documented development switch).
async fn server(backend: Backend) -> Server {
    let policy = OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() };
    Server::start_media(backend, MediaConfig::default(), policy).await
}

/// A fresh account on the shared PDS with an app password, connected as a channel.
async fn connected(server: &Server, key: &str, pds: &Pds, hint: &str) -> (Account, String, String) {
    let account = pds.create_account(hint).await;
    let app_password = pds.create_app_password(&account, "crier").await;
    let reply = server
        .post(
            "/v1/channels/connect",
            key,
            json!({"provider": "bluesky", "identifier": account.handle, "app_password": app_password, "service": pds.url}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let channel = reply.body["id"].as_str().unwrap().to_owned();
    (account, app_password, channel)
}

async fn post(server: &Server, key: &str, body: Value) -> String {
    let reply = server.post("/v1/posts", key, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn first_target(server: &Server, key: &str, post: &str) -> Value {
    server.get(&format!("/v1/posts/{post}"), key).await.body["targets"][0].clone()
}

fn rkey(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap()
}

async fn connect_publish_rich_text_an_image_and_a_thread(backend: Backend) {
    let pds = Pds::shared().await;
    let server = server(backend).await;
    let key = server.seed("Acme").await.admin_key;
    let bob = pds.create_account("bob").await;
    let (alice, app_password, channel) = connected(&server, &key, pds, "alice").await;

    // The channel says who it publishes as; nothing secret comes back.
    let shown = server.get(&format!("/v1/channels/{channel}"), &key).await;
    assert_eq!(shown.body["provider"], "bluesky");
    assert_eq!(shown.body["account"]["id"], alice.did.as_str());
    assert_eq!(shown.body["account"]["handle"], alice.handle.as_str());
    assert_eq!(shown.body["config"], json!({"service": pds.url}));
    let text = shown.body.to_string();
    for secret in [&app_password, &alice.password] {
        assert!(!text.contains(secret.as_str()), "a secret leaked: {text}");
    }

    // An image with alt text, and a post with a link, a mention and a hashtag.
    let form = Form::new()
        .part("file", Part::bytes(PHOTO.to_vec()).file_name("photo.jpg").mime_str("image/jpeg").unwrap())
        .text("alt_text", "a test card, grey on white");
    let media = Reply::from(
        server.http.post(server.url("/v1/media")).bearer_auth(&key).multipart(form).send().await.unwrap(),
    )
    .await;
    assert_eq!(media.status, StatusCode::CREATED, "{}", media.body);
    let media_id = media.body["id"].as_str().unwrap();
    let text = format!("Crier ✨ says hi @{} — read https://example.com/docs?x=1. #crier", bob.handle);
    let rich =
        post(&server, &key, json!({"text": text, "targets": [{"channel_id": channel}], "media": [media_id]}))
            .await;
    let thread = post(
        &server,
        &key,
        json!({"text": "A thread, 1/3", "targets": [{"channel_id": channel, "options": {"thread": ["2/3", "3/3"], "langs": ["en"]}}]}),
    )
    .await;
    let worker = server.worker("w");
    worker.run_once().await.unwrap();

    let target = first_target(&server, &key, &rich).await;
    assert_eq!(target["status"], "published", "{target}");
    let uri = target["provider_post_id"].as_str().unwrap();
    assert!(uri.starts_with(&format!("at://{}/app.bsky.feed.post/", alice.did)), "{uri}");
    assert_eq!(
        target["url"].as_str().unwrap(),
        format!("https://bsky.app/profile/{}/post/{}", alice.handle, rkey(uri))
    );
    let record = pds.get_record(uri).await["value"].clone();
    assert_eq!(record["text"], text.as_str());
    let bytes = text.as_bytes();
    let facets = record["facets"].as_array().unwrap();
    assert_eq!(facets.len(), 3, "{record}");
    let span = |f: &Value| {
        let (start, end) =
            (f["index"]["byteStart"].as_u64().unwrap(), f["index"]["byteEnd"].as_u64().unwrap());
        std::str::from_utf8(&bytes[start as usize..end as usize]).unwrap().to_owned()
    };
    assert_eq!(span(&facets[0]), format!("@{}", bob.handle));
    assert_eq!(facets[0]["features"][0], json!({"$type": "app.bsky.richtext.facet#mention", "did": bob.did}));
    assert_eq!(span(&facets[1]), "https://example.com/docs?x=1");
    assert_eq!(
        facets[1]["features"][0],
        json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/docs?x=1"})
    );
    assert_eq!(span(&facets[2]), "#crier");
    assert_eq!(facets[2]["features"][0], json!({"$type": "app.bsky.richtext.facet#tag", "tag": "crier"}));
    let image = &record["embed"]["images"][0];
    assert_eq!(record["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(image["alt"], "a test card, grey on white");
    assert_eq!(image["aspectRatio"], json!({"width": 640, "height": 480}));
    let cid = image["image"]["ref"]["$link"].as_str().unwrap();
    assert_eq!(pds.get_blob(&alice.did, cid).await, PHOTO, "the PDS holds the image byte for byte");

    // The thread: three records, each replying to the one before, all under the first.
    let target = first_target(&server, &key, &thread).await;
    assert_eq!(target["status"], "published", "{target}");
    let root_uri = target["provider_post_id"].as_str().unwrap().to_owned();
    let records = pds.list_records(&alice.did, "app.bsky.feed.post").await;
    assert_eq!(records.len(), 4, "one rich post and a thread of three: {records:?}");
    let root = pds.get_record(&root_uri).await;
    let mut parent = (root_uri.clone(), root["cid"].as_str().unwrap().to_owned());
    for text in ["2/3", "3/3"] {
        let reply = records.iter().find(|r| r["value"]["text"] == text).unwrap();
        assert_eq!(reply["value"]["reply"]["root"]["uri"], root_uri.as_str());
        assert_eq!(reply["value"]["reply"]["parent"]["uri"], parent.0.as_str());
        assert_eq!(reply["value"]["reply"]["parent"]["cid"], parent.1.as_str());
        assert_eq!(reply["value"]["langs"], json!(["en"]));
        parent = (reply["uri"].as_str().unwrap().to_owned(), reply["cid"].as_str().unwrap().to_owned());
    }

    // Deleting the first post removes its record from the PDS (the worker does it); a second
    // request is refused as the deletion is done.
    let rich_target = first_target(&server, &key, &rich).await;
    let path = format!("/v1/posts/{rich}/targets/{}/publication", rich_target["id"].as_str().unwrap());
    let asked = server.call(reqwest::Method::DELETE, &path, Some(&key), None).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    worker.run_once().await.unwrap();
    let deleted = first_target(&server, &key, &rich).await;
    assert_eq!(deleted["deletion"]["status"], "deleted", "{deleted}");
    let left = pds.list_records(&alice.did, "app.bsky.feed.post").await;
    assert!(!left.iter().any(|r| r["uri"] == uri), "the record is gone from the PDS");
    assert_eq!(left.len(), 3, "the thread stays: {left:?}");

    // Limits are Bluesky's, checked before anything is stored.
    let long = "é".repeat(301);
    let refused =
        server.post("/v1/posts", &key, json!({"text": long, "targets": [{"channel_id": channel}]})).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["pointer"], "/text", "{problem}");
    assert!(problem["errors"][0]["detail"].as_str().unwrap().contains("Bluesky allows 300"), "{problem}");
    let within = "👩‍👩‍👧‍👦".repeat(300);
    let ok =
        server.post("/v1/posts", &key, json!({"text": within, "targets": [{"channel_id": channel}]})).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "300 graphemes fit, however many bytes: {}", ok.body);
}

async fn passwords_that_are_wrong_or_too_powerful_are_refused_and_store_nothing(backend: Backend) {
    let pds = Pds::shared().await;
    let server = server(backend).await;
    let key = server.seed("Acme").await.admin_key;
    let account = pds.create_account("carol").await;
    let attempts = [
        (
            json!({"identifier": account.handle, "app_password": "abcd-efgh-ijkl-mnop", "service": pds.url}),
            "/app_password",
        ),
        (
            json!({"identifier": account.handle, "app_password": account.password, "service": pds.url}),
            "/app_password",
        ),
        (json!({"identifier": account.handle, "service": pds.url}), ""),
    ];
    for (mut body, pointer) in attempts {
        body["provider"] = json!("bluesky");
        let reply = server.post("/v1/channels/connect", &key, body).await;
        let problem = reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
        assert!(!problem.to_string().contains(&account.password));
    }
    // The main password is refused with a hint to make an app password.
    let channels = server.get("/v1/channels", &key).await;
    assert_eq!(channels.body["data"], json!([]), "nothing stored");
    // Bluesky channels are connected, not created from a config.
    let direct = server
        .post(
            "/v1/channels",
            &key,
            json!({"provider": "bluesky", "name": "x", "config": {"service": pds.url}}),
        )
        .await;
    direct.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_crash_mid_publish_is_reconciled_without_a_duplicate(backend: Backend) {
    let pds = Pds::shared().await;
    let server = server(backend).await;
    let key = server.seed("Acme").await.admin_key;
    let (alice, _, channel) = connected(&server, &key, pds, "dave").await;
    let sent = post(
        &server,
        &key,
        json!({"text": "published, then the worker died", "targets": [{"channel_id": channel, "options": {"thread": ["and its reply"]}}]}),
    )
    .await;
    let lost = post(
        &server,
        &key,
        json!({"text": "the worker died before this", "targets": [{"channel_id": channel}]}),
    )
    .await;
    let sent_target = first_target(&server, &key, &sent).await["id"].as_str().unwrap().to_owned();

    // A worker leases both, opens their attempts, publishes the first through Bluesky, and dies
    // without recording anything.
    let store = &server.db.store;
    let now = server.clock.now();
    let jobs = store.lease_jobs("dead", now, now + Duration::seconds(30), 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        let claimed = store.start_attempt(*job, "dead", AttemptId::generate(), now).await.unwrap().unwrap();
        if claimed.target.id.to_string() == sent_target {
            let request = crier_providers::PublishRequest::of(&claimed);
            let bluesky = server.providers.get("bluesky").unwrap();
            let first = bluesky.publish(&request).await.unwrap();
            // A retry whose first answer was lost finds the records at their keys.
            assert_eq!(bluesky.publish(&request).await.unwrap(), first);
        }
    }
    assert_eq!(pds.list_records(&alice.did, "app.bsky.feed.post").await.len(), 2);

    // Once the leases run out, another worker asks the PDS instead of posting again.
    server.clock.advance(Duration::seconds(31));
    let worker = server.worker("alive");
    worker.run_once().await.unwrap();
    worker.run_once().await.unwrap();
    for post_id in [&sent, &lost] {
        let target = first_target(&server, &key, post_id).await;
        assert_eq!(target["status"], "published", "{target}");
    }
    let records = pds.list_records(&alice.did, "app.bsky.feed.post").await;
    let texts: Vec<&str> = records.iter().map(|r| r["value"]["text"].as_str().unwrap()).collect();
    assert_eq!(records.len(), 3, "each post once: {texts:?}");
    let target = first_target(&server, &key, &sent).await;
    assert_eq!(target["attempts"], 1, "found, not re-sent: {target}");
}

async fn sessions_refresh_ahead_of_expiry_and_a_revoked_app_password_needs_reauth_once(backend: Backend) {
    let pds = Pds::shared().await;
    let server = server(backend).await;
    let seeded = server.seed("Acme").await;
    let (workspace, key) = (seeded.workspace, seeded.admin_key);
    let (alice, _, channel) = connected(&server, &key, pds, "erin").await;
    let channel_id: crier_core::ChannelId = channel.parse().unwrap();
    let secret_id = server.db.store.get_channel(workspace, channel_id).await.unwrap().credentials.unwrap();
    let vault = server.state.vault.clone().unwrap();
    let stored = || async {
        let opened = vault.open(workspace, secret_id).await.unwrap();
        serde_json::from_slice::<Value>(opened.expose()).unwrap()
    };
    let before = stored().await;

    // Two hours on, the access token is about to expire: the worker refreshes first, stores the
    // rotated pair, then publishes.
    server.clock.advance(Duration::hours(2));
    let fresh =
        post(&server, &key, json!({"text": "after a refresh", "targets": [{"channel_id": channel}]})).await;
    let worker = server.worker("w");
    worker.run_once().await.unwrap();
    assert_eq!(first_target(&server, &key, &fresh).await["status"], "published");
    let after = stored().await;
    assert_ne!(after["refresh_jwt"], before["refresh_jwt"], "the rotated refresh token was stored");
    // (The access token may come back identical: the PDS signs with real time, and the test ran
    // within the same second of it.)

    // The user revokes the app password. The next refresh is refused: the channel needs
    // reauthorisation, one event says so, and later posts fail without calling Bluesky.
    pds.revoke_app_password(&alice, "crier").await;
    server.clock.advance(Duration::hours(2));
    let refused =
        post(&server, &key, json!({"text": "after revocation", "targets": [{"channel_id": channel}]})).await;
    let queued =
        post(&server, &key, json!({"text": "queued behind it", "targets": [{"channel_id": channel}]})).await;
    worker.run_once().await.unwrap();
    for post_id in [&refused, &queued] {
        let target = first_target(&server, &key, post_id).await;
        assert_eq!(target["status"], "failed", "{target}");
        assert_eq!(target["error"]["code"], "channel_needs_reauth", "{target}");
        assert_eq!(target["attempts"], 1, "no retries: {target}");
    }
    assert_eq!(server.get(&format!("/v1/channels/{channel}"), &key).await.body["status"], "needs_reauth");
    let later =
        server.post("/v1/posts", &key, json!({"text": "later", "targets": [{"channel_id": channel}]})).await;
    later.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    let events = server.get("/v1/events?limit=200", &key).await.body;
    let reauth: Vec<&Value> =
        events["data"].as_array().unwrap().iter().filter(|e| e["type"] == "channel.needs_reauth").collect();
    assert_eq!(reauth.len(), 1, "one event, not a storm: {events}");
    let records = pds.list_records(&alice.did, "app.bsky.feed.post").await;
    assert_eq!(records.len(), 1, "only the post before the revocation");

    // Disconnecting deletes the sealed session.
    let deleted =
        server.call(reqwest::Method::DELETE, &format!("/v1/channels/{channel}"), Some(&key), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = server.db.store.get_secret(workspace, secret_id).await;
    assert!(matches!(gone, Err(crier_core::StoreError::NotFound)), "{gone:?}");
}
