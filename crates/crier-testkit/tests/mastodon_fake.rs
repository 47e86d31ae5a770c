//! The fake Mastodon instance, driven over HTTP as a client would drive the real one.

#![expect(clippy::unwrap_used, reason = "test")]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_testkit::mastodon_fake::{MastodonFake, character_count};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn location_params(response: &reqwest::Response) -> (String, Vec<(String, String)>) {
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let base = format!("{}://{}{}", url.scheme(), url.host_str().unwrap(), url.path());
    (base, url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really a png";

#[tokio::test]
async fn the_whole_flow_app_oauth_pkce_media_idempotent_status_revoke() {
    let fake = MastodonFake::start().await;
    let base = fake.base_url().to_owned();
    let http = client();

    // Register the app (form-encoded, redirect URIs as one string).
    let (status, app) = json_of(
        http.post(format!("{base}/api/v1/apps"))
            .form(&[
                ("client_name", "Crier"),
                ("redirect_uris", "https://crier.example/callback"),
                ("scopes", "read write profile"),
                ("website", "https://crier.example"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    assert_eq!(app["redirect_uris"], json!(["https://crier.example/callback"]));
    assert_eq!(app["scopes"], json!(["read", "write", "profile"]));
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let client_secret = app["client_secret"].as_str().unwrap().to_owned();

    // Authorize with PKCE S256: the fake answers with the redirect at once.
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefghijklmnop";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let authorized = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", "https://crier.example/callback"),
            ("scope", "write profile"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), StatusCode::FOUND);
    let (target, params) = location_params(&authorized);
    assert_eq!(target, "https://crier.example/callback");
    assert_eq!(param(&params, "state"), Some("xyz"));
    let code = param(&params, "code").unwrap().to_owned();

    let exchange = |verifier: &'static str| {
        http.post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &client_id),
                ("client_secret", &client_secret),
                ("redirect_uri", "https://crier.example/callback"),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let (status, wrong) =
        json_of(exchange("the-wrong-verifier-0123456789-abcdefghijklmnopqrstu").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong["error"], "invalid_grant");
    assert!(wrong["error_description"].as_str().unwrap().contains("authorization grant is invalid"));

    let (status, token) = json_of(exchange(verifier).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "write profile");
    assert!(token["created_at"].is_i64());
    let access = token["access_token"].as_str().unwrap().to_owned();

    // A code is single use.
    let (status, again) = json_of(exchange(verifier).await.unwrap()).await;
    assert_eq!((status, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let (status, me) = json_of(
        http.get(format!("{base}/api/v1/accounts/verify_credentials"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "crier");
    assert_eq!(me["acct"], "crier");
    for field in ["id", "display_name", "avatar", "url"] {
        assert!(me[field].is_string(), "{field} in {me}");
    }

    // Upload: 202 with no URL while processing.
    let form = Form::new()
        .part("file", Part::bytes(PNG.to_vec()).file_name("pic.png").mime_str("image/png").unwrap())
        .text("description", "A picture")
        .text("focus", "0.5,-0.25");
    let (status, media) = json_of(
        http.post(format!("{base}/api/v2/media")).bearer_auth(&access).multipart(form).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{media}");
    assert_eq!(media["type"], "image");
    assert!(media["url"].is_null());
    assert_eq!(media["meta"]["focus"], json!({ "x": 0.5, "y": -0.25 }));
    let media_id = media["id"].as_str().unwrap().to_owned();

    // Not attachable while processing.
    let post = |key: &'static str| {
        http.post(format!("{base}/api/v1/statuses"))
            .bearer_auth(&access)
            .header("Idempotency-Key", key)
            .json(&json!({ "status": "Hello <world>", "media_ids": [media_id], "visibility": "unlisted" }))
            .send()
    };
    let (status, early) = json_of(post("early").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        early["error"],
        "Cannot attach files that have not finished processing. Try again in a moment!"
    );

    let poll = || http.get(format!("{base}/api/v1/media/{media_id}")).bearer_auth(&access).send();
    let (status, polled) = json_of(poll().await.unwrap()).await;
    assert_eq!((status, polled["url"].is_null()), (StatusCode::PARTIAL_CONTENT, true));
    let (status, polled) = json_of(poll().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(polled["url"].as_str().unwrap().starts_with(&base));

    let (status, updated) = json_of(
        http.put(format!("{base}/api/v1/media/{media_id}"))
            .bearer_auth(&access)
            .form(&[("description", "A better description")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, updated["description"].as_str()), (StatusCode::OK, Some("A better description")));

    // The same Idempotency-Key twice: one status.
    let (status, first) = json_of(post("key-1").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = json_of(post("key-1").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["id"], second["id"]);
    assert_eq!(fake.statuses().len(), 1);
    assert_eq!(first["content"], "<p>Hello &lt;world&gt;</p>");
    assert_eq!(first["visibility"], "unlisted");
    assert_eq!(first["account"]["username"], "crier");
    assert_eq!(first["media_attachments"][0]["id"], media_id.as_str());
    assert_eq!(first["application"]["name"], "Crier");
    let stored = fake.media(&media_id).unwrap();
    assert_eq!(stored.bytes, PNG);
    assert_eq!(stored.description.as_deref(), Some("A better description"));
    assert_eq!(stored.file_name.as_deref(), Some("pic.png"));
    assert_eq!(stored.status_id.as_deref(), first["id"].as_str());

    // Attached media is no longer editable, nor attachable again.
    let status =
        http.get(format!("{base}/api/v1/media/{media_id}")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::NOT_FOUND);
    let (status, reused) = json_of(post("key-2").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused["error"], format!("Media {media_id} not found or already attached to another post"));

    // Read and delete (a token with `write` only cannot read, so read anonymously: it is unlisted).
    let status_id = first["id"].as_str().unwrap();
    let got = http.get(format!("{base}/api/v1/statuses/{status_id}")).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let (status, deleted) = json_of(
        http.delete(format!("{base}/api/v1/statuses/{status_id}")).bearer_auth(&access).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["text"], "Hello <world>");
    let (status, gone) =
        json_of(http.get(format!("{base}/api/v1/statuses/{status_id}")).send().await.unwrap()).await;
    assert_eq!((status, gone), (StatusCode::NOT_FOUND, json!({ "error": "Record not found" })));

    // Revoke: the token is dead.
    let (status, revoked) = json_of(
        http.post(format!("{base}/oauth/revoke"))
            .form(&[("client_id", &client_id), ("client_secret", &client_secret), ("token", &access)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, revoked), (StatusCode::OK, json!({})));
    let (status, after) = json_of(
        http.get(format!("{base}/api/v1/accounts/verify_credentials"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, after),
        (StatusCode::UNAUTHORIZED, json!({ "error": "The access token was revoked" }))
    );

    let paths: Vec<String> = fake.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(paths[0], "POST /api/v1/apps");
    assert!(paths.contains(&"POST /oauth/revoke".to_owned()));
    let keyed = fake.requests().into_iter().filter(|r| r.idempotency_key.as_deref() == Some("key-1")).count();
    assert_eq!(keyed, 2);
}

#[tokio::test]
async fn authorize_refuses_unknown_clients_redirects_bad_scopes_and_plain_pkce() {
    let fake = MastodonFake::start().await;
    let base = fake.base_url().to_owned();
    let http = client();
    let (_, app) = json_of(
        http.post(format!("{base}/api/v1/apps"))
            .json(&json!({
                "client_name": "Crier",
                "redirect_uris": ["https://crier.example/a", "https://crier.example/b"],
                "scopes": "read write",
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(app["redirect_uri"], "https://crier.example/a\nhttps://crier.example/b");
    let client_id = app["client_id"].as_str().unwrap().to_owned();
    let authorize = |client_id: &str, redirect: &str, scope: &str, method: &str| {
        http.get(format!("{base}/oauth/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("scope", scope),
                ("state", "s1"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", method),
            ])
            .send()
    };

    let unknown = authorize("nope", "https://crier.example/a", "read", "S256").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let unregistered = authorize(&client_id, "https://evil.example/", "read", "S256").await.unwrap();
    assert_eq!(unregistered.status(), StatusCode::BAD_REQUEST);

    let scope = authorize(&client_id, "https://crier.example/b", "read admin:write", "S256").await.unwrap();
    assert_eq!(scope.status(), StatusCode::FOUND);
    let (target, params) = location_params(&scope);
    assert_eq!(target, "https://crier.example/b");
    assert_eq!(param(&params, "error"), Some("invalid_scope"));
    assert_eq!(param(&params, "state"), Some("s1"));
    assert!(param(&params, "code").is_none());

    let plain = authorize(&client_id, "https://crier.example/a", "read", "plain").await.unwrap();
    let (_, params) = location_params(&plain);
    assert_eq!(param(&params, "error"), Some("invalid_request"));

    let good = authorize(&client_id, "https://crier.example/b", "read write", "S256").await.unwrap();
    let (_, params) = location_params(&good);
    let code = param(&params, "code").unwrap().to_owned();
    // PKCE was used, so the exchange needs the verifier (RFC 7636's example pair).
    let exchange = |verifier: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("client_id", client_id.clone()),
            ("client_secret", app["client_secret"].as_str().unwrap().to_owned()),
            ("redirect_uri", "https://crier.example/b".to_owned()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_owned()));
        }
        http.post(format!("{base}/oauth/token")).form(&form).send()
    };
    let (status, missing) = json_of(exchange(None).await.unwrap()).await;
    assert_eq!((status, missing["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, token) =
        json_of(exchange(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["scope"], "read write");

    let (status, bad_client) = json_of(
        http.post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", &client_id),
                ("client_secret", "no"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, bad_client["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(bad_client["error_description"].is_string());
}

#[tokio::test]
async fn bearer_auth_and_scopes_are_enforced() {
    let fake = MastodonFake::start().await;
    let base = fake.base_url().to_owned();
    let http = client();
    let verify = format!("{base}/api/v1/accounts/verify_credentials");

    let (status, none) = json_of(http.get(&verify).send().await.unwrap()).await;
    assert_eq!((status, none), (StatusCode::UNAUTHORIZED, json!({ "error": "The access token is invalid" })));
    let (status, _) = json_of(http.get(&verify).bearer_auth("made-up").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let read_only = fake.issue_token("read");
    let (status, outside) = json_of(
        http.post(format!("{base}/api/v1/statuses"))
            .bearer_auth(&read_only)
            .form(&[("status", "hi")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(outside["error"], "This action is outside the authorized scopes");

    let writer = fake.issue_token("read write");
    fake.revoke_all_tokens();
    let (status, revoked) = json_of(http.get(&verify).bearer_auth(&writer).send().await.unwrap()).await;
    assert_eq!(
        (status, revoked["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("The access token was revoked"))
    );

    // The instance document needs no token.
    for version in ["v1", "v2"] {
        let (status, instance) =
            json_of(http.get(format!("{base}/api/{version}/instance")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(instance["configuration"]["statuses"]["max_characters"], 500);
        assert_eq!(instance["configuration"]["statuses"]["characters_reserved_per_url"], 23);
        assert_eq!(instance["configuration"]["media_attachments"]["image_size_limit"], 16_777_216);
    }
}

#[tokio::test]
async fn the_rate_limit_knob_answers_429_with_mastodons_headers() {
    let fake = MastodonFake::start().await;
    let token = fake.issue_token("read");
    let http = client();
    let url = format!("{}/api/v1/accounts/verify_credentials", fake.base_url());
    fake.rate_limit_next(2);
    for _ in 0..2 {
        let limited = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        let headers = limited.headers().clone();
        assert_eq!(headers["x-ratelimit-limit"], "300");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        let reset = headers["x-ratelimit-reset"].to_str().unwrap();
        let reset = chrono::DateTime::parse_from_rfc3339(reset).unwrap();
        assert!(reset > chrono::Utc::now());
        assert_eq!(limited.json::<Value>().await.unwrap(), json!({ "error": "Too many requests" }));
    }
    let fine = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
    assert_eq!(fine.headers()["x-ratelimit-remaining"], "299");
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[test]
fn characters_are_counted_as_mastodon_counts_them() {
    assert_eq!(character_count("hello", ""), 5);
    assert_eq!(character_count("hello", "cw"), 7);
    // A URL is 23 characters, however long.
    let url = format!("https://example.com/{}", "a".repeat(200));
    assert_eq!(character_count(&format!("see {url}"), ""), 4 + 23);
    assert_eq!(character_count(&format!("({url})."), ""), 1 + 23 + 2);
    assert_eq!(character_count("http://localhost/x", ""), 18, "no TLD: not a URL");
    // A remote mention counts as the local part only; an e-mail address is no mention.
    assert_eq!(character_count("hi @someone@mastodon.example!", ""), "hi @someone!".len());
    assert_eq!(character_count("mail bob@example.com", ""), 20);
    // Grapheme clusters, not bytes or code points.
    assert_eq!(character_count("👍🏽é", ""), 2);
}

#[tokio::test]
async fn statuses_are_validated_as_mastodon_validates_them() {
    let fake = MastodonFake::start().await;
    let token = fake.issue_token("read write");
    let http = client();
    let base = fake.base_url().to_owned();
    let post =
        |body: Value| http.post(format!("{base}/api/v1/statuses")).bearer_auth(&token).json(&body).send();

    let (status, ok) = json_of(post(json!({ "status": "x".repeat(500) })).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    let (status, long) = json_of(post(json!({ "status": "x".repeat(501) })).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(long, json!({ "error": "Validation failed: Text character limit of 500 exceeded" }));
    let (status, _) =
        json_of(post(json!({ "status": "x".repeat(498), "spoiler_text": "cw!" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the content warning counts");

    // 470 characters and a 200-character URL: 470 + 1 + 23 = 494.
    let with_url = format!("{} https://example.com/{}", "x".repeat(470), "a".repeat(180));
    let (status, _) = json_of(post(json!({ "status": with_url })).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let with_mention = format!("{} @someone@a-very-long-domain-name.example", "x".repeat(490));
    let (status, _) = json_of(post(json!({ "status": with_mention })).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    let (status, blank) = json_of(post(json!({ "status": "  " })).await.unwrap()).await;
    assert_eq!(
        (status, blank),
        (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": "Validation failed: Text can't be blank" }))
    );
    let (status, unknown) =
        json_of(post(json!({ "status": "hi", "media_ids": ["999"] })).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown["error"], "Media 999 not found or already attached to another post");
    let (status, _) = json_of(post(json!({ "status": "hi", "in_reply_to_id": "1" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Form-encoded, with a spoiler and media only (no text), processed at upload.
    fake.set_media_processing_polls(0);
    let form =
        Form::new().part("file", Part::bytes(PNG.to_vec()).file_name("a.png").mime_str("image/png").unwrap());
    let (status, media) = json_of(
        http.post(format!("{base}/api/v2/media")).bearer_auth(&token).multipart(form).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(media["url"].is_string());
    let media_id = media["id"].as_str().unwrap();
    let (status, reply) = json_of(
        http.post(format!("{base}/api/v1/statuses"))
            .bearer_auth(&token)
            .form(&[
                ("media_ids[]", media_id),
                ("spoiler_text", "cw"),
                ("in_reply_to_id", ok["id"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["sensitive"], true);
    assert_eq!(reply["in_reply_to_id"], ok["id"]);
    assert_eq!(reply["media_attachments"][0]["id"], media_id);

    let form = Form::new().part(
        "file",
        Part::bytes(b"MZ".to_vec()).file_name("a.exe").mime_str("application/x-msdownload").unwrap(),
    );
    let refused =
        http.post(format!("{base}/api/v2/media")).bearer_auth(&token).multipart(form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn failure_knobs_503_and_500_after_commit_with_an_idempotent_retry() {
    let fake = MastodonFake::start().await;
    let token = fake.issue_token("write");
    let http = client();
    let url = format!("{}/api/v1/statuses", fake.base_url());
    let post = || {
        http.post(&url).bearer_auth(&token).header("Idempotency-Key", "k").form(&[("status", "once")]).send()
    };

    fake.fail_next_status_posts(1);
    let unavailable = post().await.unwrap();
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(fake.statuses().is_empty());

    fake.fail_next_statuses_after_commit(1);
    let (status, crashed) = json_of(post().await.unwrap()).await;
    assert_eq!(
        (status, crashed),
        (StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": "Internal Server Error" }))
    );
    assert_eq!(fake.statuses().len(), 1, "created before the 500");

    let (status, retried) = json_of(post().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(retried["id"], fake.statuses()[0]["id"]);
    assert_eq!(fake.statuses().len(), 1, "the retry did not duplicate");

    // Without the key, a retry duplicates.
    let (status, _) =
        json_of(http.post(&url).bearer_auth(&token).form(&[("status", "once")]).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fake.statuses().len(), 2);
}
