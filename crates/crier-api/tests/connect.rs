//! Connect flows through the real HTTP server against a fake Mastodon instance that follows the
//! documented API: the consent-page flow end to end (channel created, flow state gone), a user
//! who declines, a tampered or replayed `state`, an expired flow (refused late, and swept), and
//! a Mastodon channel publishing and disconnecting (its token revoked upstream).

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::{Reply, Server};
use crier_api::MediaConfig;
use crier_core::{Clock, WorkspaceId};
use crier_net::OutboundPolicy;
use crier_testkit::mastodon_fake::MastodonFake;
use crier_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    backend: a_consent_flow_creates_the_channel_and_leaves_no_state,
    declined_tampered_replayed_and_expired_flows_leave_no_state,
    a_mastodon_channel_publishes_once_and_disconnect_revokes_its_token,
);

const BACK: &str = "https://app.example/connected";

async fn server(backend: Backend) -> Server {
    let policy = OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() };
    Server::start_media(backend, MediaConfig::default(), policy).await
}

/// A client that shows redirects instead of following them (the browser's part is the test's).
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn location(response: &reqwest::Response) -> url::Url {
    url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn start(server: &Server, key: &str, fake: &MastodonFake) -> Value {
    let reply = server
        .post(
            "/v1/channels/connect",
            key,
            json!({"provider": "mastodon", "instance": fake.base_url(), "redirect_uri": BACK, "name": "Our Mastodon"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body
}

/// The user approves at the instance, which sends the browser to Crier's callback.
async fn approve(authorize_url: &str) -> url::Url {
    let consent = browser().get(authorize_url).send().await.unwrap();
    assert_eq!(consent.status(), StatusCode::FOUND);
    location(&consent)
}

/// Flows under way and sealed flow states left in the workspace.
async fn leftovers(server: &Server, workspace: WorkspaceId) -> (i64, usize) {
    let flows = server.db.store.count_connect_flows(workspace).await.unwrap();
    let sealed = server.db.store.secrets_below_version(workspace, i32::MAX, 1000).await.unwrap();
    (flows, sealed.iter().filter(|s| s.purpose == "connect_flow").count())
}

async fn a_consent_flow_creates_the_channel_and_leaves_no_state(backend: Backend) {
    let fake = MastodonFake::start().await;
    let server = server(backend).await;
    let seeded = server.seed("Acme").await;
    let (workspace, key) = (seeded.workspace, seeded.admin_key);

    let started = start(&server, &key, &fake).await;
    let authorize = url::Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    assert!(authorize.as_str().starts_with(&format!("{}/oauth/authorize", fake.base_url())), "{authorize}");
    assert_eq!(query(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    let expires = chrono::DateTime::parse_from_rfc3339(started["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires.timestamp(), (server.clock.now() + Duration::minutes(15)).timestamp());
    assert_eq!(leftovers(&server, workspace).await, (1, 1), "the flow's state is sealed while it runs");
    let state = query(&authorize, "state").unwrap();
    assert!(!state.contains(&key), "the state is not a credential of the caller");

    let callback = approve(authorize.as_str()).await;
    assert!(callback.as_str().starts_with(&server.url("/v1/channels/connect/callback")), "{callback}");
    let done = browser().get(callback.clone()).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let back = location(&done);
    assert!(back.as_str().starts_with(BACK), "{back}");
    assert_eq!(query(&back, "flow_id").as_deref(), started["flow_id"].as_str());
    assert_eq!(query(&back, "error"), None, "{back}");
    let channel_id = query(&back, "channel_id").unwrap();

    let channel = server.get(&format!("/v1/channels/{channel_id}"), &key).await.body;
    assert_eq!(channel["provider"], "mastodon");
    assert_eq!(channel["name"], "Our Mastodon");
    let account = fake.account();
    assert_eq!(channel["account"]["id"], account["id"]);
    assert!(
        channel["account"]["handle"].as_str().unwrap().starts_with(account["username"].as_str().unwrap())
    );
    assert_eq!(channel["config"]["instance"], fake.base_url());
    assert_eq!(leftovers(&server, workspace).await, (0, 0), "the flow's state is gone");

    // The same callback again (a reload, or a replay) finds nothing.
    let replay = Reply::from(browser().get(callback).send().await.unwrap()).await;
    replay.assert_problem(StatusCode::BAD_REQUEST);
    let channels = server.get("/v1/channels", &key).await.body;
    assert_eq!(channels["data"].as_array().unwrap().len(), 1);

    // Without a `redirect_uri`, the flow ends on a page of Crier's, whatever the platform says.
    for approved in [true, false] {
        let reply = server
            .post("/v1/channels/connect", &key, json!({"provider": "mastodon", "instance": fake.base_url()}))
            .await;
        let authorize = url::Url::parse(reply.body["authorize_url"].as_str().unwrap()).unwrap();
        let callback = if approved {
            approve(authorize.as_str()).await
        } else {
            let mut url = url::Url::parse(&server.url("/v1/channels/connect/callback")).unwrap();
            let state = query(&authorize, "state").unwrap();
            url.query_pairs_mut()
                .append_pair("error", "<script>alert(1)</script>")
                .append_pair("state", &state);
            url
        };
        let page = browser().get(callback).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        if approved {
            assert!(html.contains("connected as channel <code>chan_"), "{html}");
        } else {
            assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "escaped: {html}");
            assert!(!html.contains("<script>"), "{html}");
        }
    }
    assert_eq!(leftovers(&server, workspace).await, (0, 0));
}

async fn declined_tampered_replayed_and_expired_flows_leave_no_state(backend: Backend) {
    let fake = MastodonFake::start().await;
    let server = server(backend).await;
    let seeded = server.seed("Acme").await;
    let (workspace, key) = (seeded.workspace, seeded.admin_key);

    // The user declines: the instance sends `error` back; Crier forwards it and forgets the flow.
    let declined = start(&server, &key, &fake).await;
    let authorize = url::Url::parse(declined["authorize_url"].as_str().unwrap()).unwrap();
    let state = query(&authorize, "state").unwrap();
    let mut callback = url::Url::parse(&server.url("/v1/channels/connect/callback")).unwrap();
    callback.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &state);
    let done = browser().get(callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(query(&location(&done), "error").as_deref(), Some("access_denied"));
    assert_eq!(leftovers(&server, workspace).await, (0, 0));

    // A tampered state takes nothing (and leaves the real flow alone); garbage is refused.
    let pending = start(&server, &key, &fake).await;
    let authorize = url::Url::parse(pending["authorize_url"].as_str().unwrap()).unwrap();
    let state = query(&authorize, "state").unwrap();
    let (prefix, secret) = state.rsplit_once('.').unwrap();
    let forged = format!("{prefix}.{}", secret.chars().rev().collect::<String>());
    for bad in [forged.as_str(), "nonsense", "", "ws_x.cnf_y.zzz"] {
        let mut url = url::Url::parse(&server.url("/v1/channels/connect/callback")).unwrap();
        url.query_pairs_mut().append_pair("code", "whatever").append_pair("state", bad);
        let refused = Reply::from(browser().get(url).send().await.unwrap()).await;
        refused.assert_problem(StatusCode::BAD_REQUEST);
    }
    assert_eq!(leftovers(&server, workspace).await, (1, 1), "the real flow is untouched");

    // It expires: a late callback is refused and cleans up…
    let callback = approve(authorize.as_str()).await;
    server.clock.advance(Duration::minutes(16));
    let late = browser().get(callback).send().await.unwrap();
    assert_eq!(late.status(), StatusCode::SEE_OTHER);
    assert_eq!(query(&location(&late), "error").as_deref(), Some("expired"));
    assert_eq!(leftovers(&server, workspace).await, (0, 0));

    // …and one nobody comes back to is swept by the worker's housekeeping.
    start(&server, &key, &fake).await;
    assert_eq!(leftovers(&server, workspace).await, (1, 1));
    server.clock.advance(Duration::minutes(16));
    assert_eq!(server.db.store.purge_connect_flows(server.clock.now()).await.unwrap(), 1);
    assert_eq!(leftovers(&server, workspace).await, (0, 0));
    assert_eq!(server.get("/v1/channels", &key).await.body["data"], json!([]), "no channel from any of them");

    // Without the channels:write scope, no flow starts.
    let reader =
        server.key_in(workspace, "channels:read".parse().unwrap(), crier_core::ApiKeyMode::Live, None).await;
    let refused = server
        .post("/v1/channels/connect", &reader, json!({"provider": "mastodon", "instance": fake.base_url()}))
        .await;
    refused.assert_problem(StatusCode::FORBIDDEN);
    let unknown = server.post("/v1/channels/connect", &key, json!({"provider": "myspace"})).await;
    unknown.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(leftovers(&server, workspace).await, (0, 0));
}

async fn a_mastodon_channel_publishes_once_and_disconnect_revokes_its_token(backend: Backend) {
    let fake = MastodonFake::start().await;
    let server = server(backend).await;
    let key = server.seed("Acme").await.admin_key;
    let started = start(&server, &key, &fake).await;
    let callback = approve(started["authorize_url"].as_str().unwrap()).await;
    let done = browser().get(callback).send().await.unwrap();
    let channel = query(&location(&done), "channel_id").unwrap();

    // Mastodon counts a URL as 23 characters: 474 letters, a space, a 224-character link and a
    // 2-character content warning make exactly 500.
    let text = format!("{} https://example.com/{}", "a".repeat(474), "p".repeat(200));
    let reply = server
        .post("/v1/posts", &key, json!({"text": text, "targets": [{"channel_id": channel, "options": {"spoiler_text": "cw", "visibility": "unlisted"}}]}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let too_long = server
        .post("/v1/posts", &key, json!({"text": "a".repeat(501), "targets": [{"channel_id": channel}]}))
        .await;
    too_long.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);

    // The instance stores the status and then fails: the retry is deduplicated by its key.
    fake.fail_next_statuses_after_commit(1);
    let worker = server.worker("w");
    worker.run_once().await.unwrap();
    let post_id = reply.body["id"].as_str().unwrap();
    let target = server.get(&format!("/v1/posts/{post_id}"), &key).await.body["targets"][0].clone();
    assert_eq!(target["status"], "retry_scheduled", "{target}");
    server.clock.advance(Duration::minutes(5));
    worker.run_once().await.unwrap();
    let target = server.get(&format!("/v1/posts/{post_id}"), &key).await.body["targets"][0].clone();
    assert_eq!(target["status"], "published", "{target}");
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "published once: {statuses:?}");
    assert_eq!(statuses[0]["visibility"], "unlisted");
    assert_eq!(statuses[0]["spoiler_text"], "cw");
    assert_eq!(target["provider_post_id"], statuses[0]["id"]);

    // Disconnect: the token is revoked at the instance, then Crier's sealed copy is gone.
    let before = fake.requests().len();
    let deleted = server.call(Method::DELETE, &format!("/v1/channels/{channel}"), Some(&key), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let revoked: Vec<_> =
        fake.requests()[before..].iter().filter(|r| r.path == "/oauth/revoke").cloned().collect();
    assert_eq!(revoked.len(), 1, "revoked upstream");
    assert_eq!(revoked[0].status, 200);
}
