//! Meta's deauthorization and data-deletion callbacks over HTTP, on both backends: a correctly
//! signed request deauthorizes that user's channels of that platform in every workspace and
//! nothing else (tokens deleted, channel needs_reauth, audit row and `channel.deauthorized`
//! event); forged, stale, wrongly signed or malformed requests are 400 problems that change
//! nothing; a data deletion answers Meta's `{url, confirmation_code}` and its status page says
//! what was deleted. Slack's Events API (`app_uninstalled`, `tokens_revoked`) and TikTok's
//! `authorization.removed` webhook likewise, each checked with its HMAC-SHA256 signature.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{META_APP_SECRET, Reply, Server};
use crier_api::{ApiConfig, CallbackSecret, CallbackSecrets, TikTokApp};
use crier_core::{Channel, Clock, StoreError, WorkspaceId};
use crier_providers::meta::signed_request::sign;
use crier_testkit::{Backend, on_both_backends};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

on_both_backends!(
    backend: a_signed_deauthorization_deauthorizes_that_users_channels_in_every_workspace,
    forged_stale_and_malformed_callbacks_are_400_and_change_nothing,
    a_data_deletion_answers_meta_and_its_status_page_says_what_was_deleted,
    an_instagram_channel_is_reached_through_the_facebook_user_who_connected_it,
    slack_app_uninstalled_deauthorizes_that_teams_channels_in_every_workspace,
    slack_tokens_revoked_deauthorizes_the_team_only_for_its_bot_token,
    slack_url_verification_is_answered_with_its_challenge,
    slack_events_badly_signed_stale_or_unconfigured_are_refused_and_change_nothing,
    tiktok_authorization_removed_deauthorizes_that_users_channels_in_every_workspace,
    tiktok_webhooks_badly_signed_stale_foreign_or_unconfigured_are_refused_and_change_nothing,
);

async fn connected(server: &Server, ws: WorkspaceId, provider: &str, user: &str) -> Channel {
    server.connected_channel(ws, provider, user).await
}

fn signed(user: &str, server: &Server) -> String {
    let payload =
        json!({"algorithm": "HMAC-SHA256", "issued_at": server.clock.now().timestamp(), "user_id": user});
    sign(&payload, META_APP_SECRET)
}

async fn callback(server: &Server, path: &str, form: &[(&str, &str)]) -> Reply {
    let response = server.http.post(server.url(path)).form(form).send().await.unwrap();
    Reply::from(response).await
}

/// The channel as the API shows it, and whether its sealed credentials still exist.
async fn state_of(server: &Server, key: &str, channel: &Channel) -> (Value, bool) {
    let reply = server.get(&format!("/v1/channels/{}", channel.id), key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let sealed = match server.db.store.get_secret(channel.workspace_id, channel.credentials.unwrap()).await {
        Ok(_) => true,
        Err(StoreError::NotFound) => false,
        Err(err) => panic!("{err}"),
    };
    (reply.body, sealed)
}

async fn event_types(server: &Server, key: &str) -> Vec<Value> {
    let reply = server.get("/v1/events", key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "channel.deauthorized")
        .cloned()
        .collect()
}

async fn a_signed_deauthorization_deauthorizes_that_users_channels_in_every_workspace(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let fb_a = connected(&server, a.workspace, "facebook", "1001").await;
    let fb_b = connected(&server, b.workspace, "facebook", "1001").await;
    let other_user = connected(&server, a.workspace, "facebook", "2002").await;
    let other_platform = connected(&server, b.workspace, "threads", "1001").await;
    // A webhook endpoint in A that takes the event (a public address: never called here).
    let endpoint = server
        .post(
            "/v1/webhooks/endpoints",
            &a.admin_key,
            json!({"url": "https://93.184.215.14/", "event_types": ["channel.deauthorized"]}),
        )
        .await;
    assert_eq!(endpoint.status, StatusCode::CREATED, "{}", endpoint.body);

    let reply = callback(
        &server,
        "/callbacks/meta/facebook/deauthorize",
        &[("signed_request", &signed("1001", &server))],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);

    for (key, channel) in [(&a.admin_key, &fb_a), (&b.admin_key, &fb_b)] {
        let (shown, sealed) = state_of(&server, key, channel).await;
        assert_eq!(shown["status"], "needs_reauth", "{shown}");
        assert!(!sealed, "the sealed tokens are deleted");
        let events = event_types(&server, key).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(
            events[0]["data"],
            json!({"channel_id": channel.id.to_string(), "provider": "facebook", "reason": "deauthorized"})
        );
        let audit = server.get("/v1/audit-events", key).await;
        let rows: Vec<&Value> = audit.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "channel.deauthorized")
            .collect();
        assert_eq!(rows.len(), 1, "{}", audit.body);
        assert_eq!(rows[0]["actor"], "platform:facebook");
        assert_eq!(rows[0]["target"], channel.id.to_string());
    }
    for (key, channel) in [(&a.admin_key, &other_user), (&b.admin_key, &other_platform)] {
        let (shown, sealed) = state_of(&server, key, channel).await;
        assert_eq!(shown["status"], "active", "{shown}");
        assert!(sealed);
    }
    // The event is catalogued, and goes out through the webhooks like any other.
    let schema = (crier_core::event_types::find("channel.deauthorized").unwrap().schema)();
    let event = &event_types(&server, &a.admin_key).await[0];
    for field in schema["required"].as_array().unwrap() {
        assert!(!event["data"][field.as_str().unwrap()].is_null(), "{field} in {event}");
    }
    assert!(schema["properties"]["reason"]["enum"].as_array().unwrap().contains(&event["data"]["reason"]));
    let deliveries = server.get("/v1/webhooks/deliveries", &a.admin_key).await;
    let queued = deliveries.body["data"].as_array().unwrap();
    assert_eq!(queued.len(), 1, "{}", deliveries.body);
    assert_eq!(queued[0]["event_type"], "channel.deauthorized");
    assert_eq!(queued[0]["event_seq"], event["seq"]);

    // The channel refuses new posts until it is reconnected.
    let post = server
        .post(
            "/v1/posts",
            &a.admin_key,
            json!({"text": "hi", "targets": [{"channel_id": fb_a.id.to_string()}]}),
        )
        .await;
    assert_eq!(post.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", post.body);

    // Meta may send it again: nothing more happens.
    let again = callback(
        &server,
        "/callbacks/meta/facebook/deauthorize",
        &[("signed_request", &signed("1001", &server))],
    )
    .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    assert_eq!(event_types(&server, &a.admin_key).await.len(), 1);
}

async fn forged_stale_and_malformed_callbacks_are_400_and_change_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let channel = connected(&server, a.workspace, "threads", "3003").await;
    let now = server.clock.now().timestamp();
    let payload = |algorithm: &str, issued_at: i64| json!({"algorithm": algorithm, "issued_at": issued_at, "user_id": "3003"});
    let good = sign(&payload("HMAC-SHA256", now), META_APP_SECRET);
    let (_, good_body) = good.split_once('.').unwrap();
    let bad = [
        sign(&payload("HMAC-SHA256", now), "not-the-app-secret"),
        format!("AAAA.{good_body}"),
        sign(&payload("HMAC-SHA1", now), META_APP_SECRET),
        sign(&payload("none", now), META_APP_SECRET),
        sign(&payload("HMAC-SHA256", now - 3 * 3600), META_APP_SECRET),
        sign(&json!({"algorithm": "HMAC-SHA256", "issued_at": now}), META_APP_SECRET),
        "no-dot-here".into(),
        "%%%.###".into(),
    ];
    for path in ["/callbacks/meta/threads/deauthorize", "/callbacks/meta/threads/data-deletion"] {
        for signed in &bad {
            let reply = callback(&server, path, &[("signed_request", signed)]).await;
            reply.assert_problem(StatusCode::BAD_REQUEST);
        }
        callback(&server, path, &[("other", "x")]).await.assert_problem(StatusCode::BAD_REQUEST);
        let raw = server.http.post(server.url(path)).body("{\"signed_request\": 1}").send().await.unwrap();
        Reply::from(raw).await.assert_problem(StatusCode::BAD_REQUEST);
    }
    // Unknown platforms (and Meta platforms this Crier has no provider for) are 404.
    for path in ["/callbacks/meta/myspace/deauthorize", "/callbacks/meta/instagram/data-deletion"] {
        callback(&server, path, &[("signed_request", &good)]).await.assert_problem(StatusCode::NOT_FOUND);
    }
    // A request signed for Threads is not one for Facebook's path either: nothing found there.
    let reply = callback(&server, "/callbacks/meta/facebook/deauthorize", &[("signed_request", &good)]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    let (shown, sealed) = state_of(&server, &a.admin_key, &channel).await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["account"]["display_name"], "Alice A.");
    assert!(sealed);
    assert!(event_types(&server, &a.admin_key).await.is_empty());
}

async fn a_data_deletion_answers_meta_and_its_status_page_says_what_was_deleted(backend: Backend) {
    let server = Server::start(backend).await;
    let a = server.seed("A").await;
    let channel = connected(&server, a.workspace, "threads", "3003").await;
    let reply = callback(
        &server,
        "/callbacks/meta/threads/data-deletion",
        &[("signed_request", &signed("3003", &server))],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    let code = reply.body["confirmation_code"].as_str().unwrap();
    assert!(code.starts_with("del_") && code.len() > 20, "{code}");
    let url = reply.body["url"].as_str().unwrap();
    assert_eq!(url, server.url(&format!("/callbacks/meta/deletion-status/{code}")));
    assert_eq!(reply.body.as_object().unwrap().len(), 2, "{}", reply.body);

    let (shown, sealed) = state_of(&server, &a.admin_key, &channel).await;
    assert_eq!(shown["status"], "needs_reauth");
    assert!(!sealed);
    assert_eq!(shown["account"]["id"], "3003");
    assert!(
        shown["account"]["display_name"].is_null() && shown["account"]["avatar_url"].is_null(),
        "{shown}"
    );
    let events = event_types(&server, &a.admin_key).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["reason"], "data_deletion");

    let page = server.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains(code), "{html}");
    assert!(html.contains("Connected channels found for your account: 1."), "{html}");
    assert!(html.contains("Access tokens deleted: 1."), "{html}");
    assert!(!html.contains(&a.workspace.to_string()) && !html.contains(&channel.id.to_string()));

    let unknown =
        server.http.get(server.url("/callbacks/meta/deletion-status/del_nope")).send().await.unwrap();
    Reply::from(unknown).await.assert_problem(StatusCode::NOT_FOUND);
}

async fn an_instagram_channel_is_reached_through_the_facebook_user_who_connected_it(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("A").await;
    let theirs = connected(&server, seeded.workspace, "instagram", "3003").await;
    let someone_else = connected(&server, seeded.workspace, "instagram", "4004").await;
    // Instagram's own account id is not what Facebook Login's callbacks name.
    let by_instagram_id = callback(
        &server,
        "/callbacks/meta/facebook/deauthorize",
        &[("signed_request", &signed(&theirs.account.as_ref().unwrap().id, &server))],
    )
    .await;
    assert_eq!(by_instagram_id.status, StatusCode::NO_CONTENT);
    assert_eq!(state_of(&server, &seeded.admin_key, &theirs).await.0["status"], "active");

    let reply = callback(
        &server,
        "/callbacks/meta/facebook/deauthorize",
        &[("signed_request", &signed("3003", &server))],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let (shown, sealed) = state_of(&server, &seeded.admin_key, &theirs).await;
    assert_eq!(shown["status"], "needs_reauth", "{shown}");
    assert!(!sealed, "the sealed tokens are deleted");
    assert_eq!(state_of(&server, &seeded.admin_key, &someone_else).await.0["status"], "active");
}

const SLACK_SIGNING_SECRET: &str = "test-slack-signing-secret";
const TIKTOK_CLIENT_KEY: &str = "test-tiktok-client-key";
const TIKTOK_CLIENT_SECRET: &str = "test-tiktok-client-secret";

/// A server that takes Slack's and TikTok's signed callbacks.
async fn signed_server(backend: Backend) -> Server {
    let callbacks = CallbackSecrets {
        slack_signing_secret: Some(CallbackSecret::new(SLACK_SIGNING_SECRET)),
        tiktok: Some(TikTokApp {
            client_key: TIKTOK_CLIENT_KEY.into(),
            client_secret: CallbackSecret::new(TIKTOK_CLIENT_SECRET),
        }),
    };
    Server::start_with(backend, ApiConfig { platform_callbacks: callbacks, ..ApiConfig::default() }).await
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Posts `body` to the Slack route signed as Slack does, at `timestamp`, with `secret`.
async fn slack_at(server: &Server, body: &str, timestamp: i64, secret: &str) -> Reply {
    let signature = format!("v0={}", hmac_hex(secret, &format!("v0:{timestamp}:{body}")));
    slack_raw(server, body, &timestamp.to_string(), &signature).await
}

async fn slack_raw(server: &Server, body: &str, timestamp: &str, signature: &str) -> Reply {
    let response = server
        .http
        .post(server.url("/callbacks/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Reply::from(response).await
}

async fn slack(server: &Server, body: &Value) -> Reply {
    slack_at(server, &body.to_string(), server.clock.now().timestamp(), SLACK_SIGNING_SECRET).await
}

/// An Events API `event_callback` for `team` (api.slack.com/apis/events-api#callback-field).
fn slack_event(team: &str, event: Value) -> Value {
    json!({
        "token": "XXYYZZ", "team_id": team, "api_app_id": "A0123", "event": event,
        "type": "event_callback", "event_id": "Ev0123", "event_time": 1_700_000_000,
    })
}

/// Whether the channel is deauthorized (needs_reauth, tokens gone, one event) or untouched.
async fn assert_deauthorized(server: &Server, key: &str, channel: &Channel, provider: &str) {
    let (shown, sealed) = state_of(server, key, channel).await;
    assert_eq!(shown["status"], "needs_reauth", "{shown}");
    assert!(!sealed, "the sealed tokens are deleted");
    let events = event_types(server, key).await;
    assert!(
        events.iter().any(|e| e["data"]
            == json!({"channel_id": channel.id.to_string(), "provider": provider, "reason": "deauthorized"})),
        "{events:?}"
    );
    let audit = server.get("/v1/audit-events", key).await;
    assert!(
        audit.body["data"].as_array().unwrap().iter().any(|r| r["action"] == "channel.deauthorized"
            && r["actor"] == format!("platform:{provider}")
            && r["target"] == channel.id.to_string()),
        "{}",
        audit.body
    );
}

async fn assert_untouched(server: &Server, key: &str, channel: &Channel) {
    let (shown, sealed) = state_of(server, key, channel).await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert!(sealed);
    let events = event_types(server, key).await;
    assert!(events.iter().all(|e| e["data"]["channel_id"] != channel.id.to_string()), "{events:?}");
}

async fn slack_app_uninstalled_deauthorizes_that_teams_channels_in_every_workspace(backend: Backend) {
    let server = signed_server(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let team_a = connected(&server, a.workspace, "slack", "T0001/C0001").await;
    let team_b = connected(&server, b.workspace, "slack", "T0001/C0002").await;
    let other_team = connected(&server, a.workspace, "slack", "T0002/C0001").await;
    // Another platform's account with the same id is not Slack's.
    let other_platform = connected(&server, b.workspace, "tiktok", "T0001").await;

    let reply = slack(&server, &slack_event("T0001", json!({"type": "app_uninstalled"}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    assert_deauthorized(&server, &a.admin_key, &team_a, "slack").await;
    assert_deauthorized(&server, &b.admin_key, &team_b, "slack").await;
    assert_untouched(&server, &a.admin_key, &other_team).await;
    assert_untouched(&server, &b.admin_key, &other_platform).await;

    // Slack retries deliveries: nothing more happens.
    let again = slack(&server, &slack_event("T0001", json!({"type": "app_uninstalled"}))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(event_types(&server, &a.admin_key).await.len(), 1);
}

async fn slack_tokens_revoked_deauthorizes_the_team_only_for_its_bot_token(backend: Backend) {
    let server = signed_server(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let team_a = connected(&server, a.workspace, "slack", "T0001/C0001").await;
    let team_b = connected(&server, b.workspace, "slack", "T0001/C0009").await;
    let other_team = connected(&server, b.workspace, "slack", "T0002/C0001").await;

    // Only user tokens revoked: none of them is Crier's.
    let users = json!({"type": "tokens_revoked", "tokens": {"oauth": ["U0001"], "bot": []}});
    let reply = slack(&server, &slack_event("T0001", users)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_untouched(&server, &a.admin_key, &team_a).await;

    // An unrelated event is acknowledged and changes nothing.
    let message = json!({"type": "message", "text": "hello"});
    assert_eq!(slack(&server, &slack_event("T0001", message)).await.status, StatusCode::OK);
    assert_untouched(&server, &b.admin_key, &team_b).await;

    let bot = json!({"type": "tokens_revoked", "tokens": {"oauth": ["U0001"], "bot": ["U0BOT"]}});
    let reply = slack(&server, &slack_event("T0001", bot)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_deauthorized(&server, &a.admin_key, &team_a, "slack").await;
    assert_deauthorized(&server, &b.admin_key, &team_b, "slack").await;
    assert_untouched(&server, &b.admin_key, &other_team).await;
}

async fn slack_url_verification_is_answered_with_its_challenge(backend: Backend) {
    let server = signed_server(backend).await;
    let body = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    let reply = slack(&server, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}));
    // Unsigned, it is not answered.
    let unsigned =
        slack_raw(&server, &body.to_string(), &server.clock.now().timestamp().to_string(), "v0=00").await;
    unsigned.assert_problem(StatusCode::UNAUTHORIZED);
}

async fn slack_events_badly_signed_stale_or_unconfigured_are_refused_and_change_nothing(backend: Backend) {
    let server = signed_server(backend).await;
    let a = server.seed("A").await;
    let channel = connected(&server, a.workspace, "slack", "T0001/C0001").await;
    let body = slack_event("T0001", json!({"type": "app_uninstalled"})).to_string();
    let now = server.clock.now().timestamp();
    let good = format!("v0={}", hmac_hex(SLACK_SIGNING_SECRET, &format!("v0:{now}:{body}")));

    for reply in [
        slack_at(&server, &body, now, "not-the-signing-secret").await,
        slack_at(&server, &body, now - 301, SLACK_SIGNING_SECRET).await,
        slack_at(&server, &body, now + 301, SLACK_SIGNING_SECRET).await,
        // Signed for another body, or another timestamp.
        slack_raw(&server, &body.replace("T0001", "T0002"), &now.to_string(), &good).await,
        slack_raw(&server, &body, &(now - 1).to_string(), &good).await,
        slack_raw(&server, &body, &now.to_string(), good.trim_start_matches("v0=")).await,
        slack_raw(&server, &body, &now.to_string(), &good.to_uppercase()).await,
        slack_raw(&server, &body, "soon", &good).await,
    ] {
        reply.assert_problem(StatusCode::UNAUTHORIZED);
    }
    // Correctly signed but not JSON: a 400.
    slack_at(&server, "token=x", now, SLACK_SIGNING_SECRET).await.assert_problem(StatusCode::BAD_REQUEST);
    assert_untouched(&server, &a.admin_key, &channel).await;

    // Without a signing secret the route is not there, even for a good signature.
    let unconfigured = Server::start(backend).await;
    let seeded = unconfigured.seed("A").await;
    let theirs = connected(&unconfigured, seeded.workspace, "slack", "T0001/C0001").await;
    let now = unconfigured.clock.now().timestamp();
    let reply = slack_at(&unconfigured, &body, now, SLACK_SIGNING_SECRET).await;
    reply.assert_problem(StatusCode::NOT_FOUND);
    assert_untouched(&unconfigured, &seeded.admin_key, &theirs).await;
}

/// Posts `body` to the TikTok route with this `TikTok-Signature` header.
async fn tiktok_raw(server: &Server, body: &str, signature: &str) -> Reply {
    let response = server
        .http
        .post(server.url("/callbacks/tiktok/events"))
        .header("content-type", "application/json")
        .header("tiktok-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Reply::from(response).await
}

/// Signed as TikTok does (developers.tiktok.com/doc/webhooks-verification), at `t`.
async fn tiktok_at(server: &Server, body: &str, t: i64, secret: &str) -> Reply {
    tiktok_raw(server, body, &format!("t={t},s={}", hmac_hex(secret, &format!("{t}.{body}")))).await
}

/// An `authorization.removed` delivery (developers.tiktok.com/doc/webhooks-events).
fn removed(client_key: &str, open_id: &str) -> String {
    json!({
        "client_key": client_key, "event": "authorization.removed", "create_time": 1_700_000_000,
        "user_openid": open_id, "content": "{\"reason\": 1}",
    })
    .to_string()
}

async fn tiktok_authorization_removed_deauthorizes_that_users_channels_in_every_workspace(backend: Backend) {
    let server = signed_server(backend).await;
    let a = server.seed("A").await;
    let b = server.seed("B").await;
    let in_a = connected(&server, a.workspace, "tiktok", "act.open-1").await;
    let in_b = connected(&server, b.workspace, "tiktok", "act.open-1").await;
    let other_user = connected(&server, a.workspace, "tiktok", "act.open-2").await;
    let other_platform = connected(&server, b.workspace, "threads", "act.open-1").await;
    let now = server.clock.now().timestamp();

    // Another event is acknowledged and changes nothing.
    let other = json!({"client_key": TIKTOK_CLIENT_KEY, "event": "video.publish.completed", "create_time": now, "user_openid": "act.open-1", "content": "{}"}).to_string();
    assert_eq!(tiktok_at(&server, &other, now, TIKTOK_CLIENT_SECRET).await.status, StatusCode::OK);
    assert_untouched(&server, &a.admin_key, &in_a).await;

    let reply =
        tiktok_at(&server, &removed(TIKTOK_CLIENT_KEY, "act.open-1"), now, TIKTOK_CLIENT_SECRET).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_deauthorized(&server, &a.admin_key, &in_a, "tiktok").await;
    assert_deauthorized(&server, &b.admin_key, &in_b, "tiktok").await;
    assert_untouched(&server, &a.admin_key, &other_user).await;
    assert_untouched(&server, &b.admin_key, &other_platform).await;
}

async fn tiktok_webhooks_badly_signed_stale_foreign_or_unconfigured_are_refused_and_change_nothing(
    backend: Backend,
) {
    let server = signed_server(backend).await;
    let a = server.seed("A").await;
    let channel = connected(&server, a.workspace, "tiktok", "act.open-1").await;
    let body = removed(TIKTOK_CLIENT_KEY, "act.open-1");
    let now = server.clock.now().timestamp();
    let good = hmac_hex(TIKTOK_CLIENT_SECRET, &format!("{now}.{body}"));

    for reply in [
        tiktok_at(&server, &body, now, "not-the-client-secret").await,
        tiktok_at(&server, &body, now - 301, TIKTOK_CLIENT_SECRET).await,
        tiktok_at(&server, &body, now + 301, TIKTOK_CLIENT_SECRET).await,
        // Correctly signed, but for another app.
        tiktok_at(&server, &removed("someone-elses-key", "act.open-1"), now, TIKTOK_CLIENT_SECRET).await,
        tiktok_raw(&server, &body.replace("open-1", "open-2"), &format!("t={now},s={good}")).await,
        tiktok_raw(&server, &body, &format!("t={},s={good}", now - 1)).await,
        tiktok_raw(&server, &body, &format!("s={good}")).await,
        tiktok_raw(&server, &body, &format!("t=soon,s={good}")).await,
    ] {
        reply.assert_problem(StatusCode::UNAUTHORIZED);
    }
    tiktok_at(&server, "not json", now, TIKTOK_CLIENT_SECRET).await.assert_problem(StatusCode::BAD_REQUEST);
    assert_untouched(&server, &a.admin_key, &channel).await;

    // Without TikTok configured the route is not there.
    let unconfigured = Server::start(backend).await;
    let seeded = unconfigured.seed("A").await;
    let theirs = connected(&unconfigured, seeded.workspace, "tiktok", "act.open-1").await;
    let now = unconfigured.clock.now().timestamp();
    tiktok_at(&unconfigured, &body, now, TIKTOK_CLIENT_SECRET).await.assert_problem(StatusCode::NOT_FOUND);
    assert_untouched(&unconfigured, &seeded.admin_key, &theirs).await;
}
