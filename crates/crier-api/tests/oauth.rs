//! OAuth 2.1 for MCP clients: the official TypeScript SDK runs its own flow end to end (discovery,
//! dynamic registration, PKCE, consent, token, tool call, refresh with rotation, reuse refused),
//! and tokens that are for another resource, expired, revoked, or of the wrong kind are refused,
//! as is an authorization request with plain PKCE.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::Server;
use crier_core::{Clock, NewAuditEvent, OAuthClient, OAuthToken, ScopeSet, TokenKind, User, WorkspaceId};
use crier_testkit::mcp_client::run_oauth_client;
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    backend: the_sdk_client_runs_the_whole_oauth_flow,
    wrong_audience_expired_revoked_and_refresh_tokens_are_refused,
    plain_pkce_and_unregistered_redirects_are_refused,
    clients_known_by_a_metadata_document_are_fetched_safely,
    the_consent_page_needs_its_cookie_a_valid_login_and_can_be_denied,
);

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "correct horse battery staple";

async fn user(server: &Server, workspace: WorkspaceId) -> User {
    let user = User {
        id: uuid::Uuid::now_v7(),
        email: EMAIL.into(),
        password_hash: crier_api::oauth::hash_password(PASSWORD).unwrap(),
        created_at: server.clock.now(),
        totp: None,
    };
    let audit = NewAuditEvent::new(
        server.clock.now(),
        crier_core::Actor::cli(),
        "user.created",
        user.id.to_string(),
        &Default::default(),
    );
    server.db.store.create_user(&user, workspace, "owner", &audit).await.unwrap();
    user
}

async fn the_sdk_client_runs_the_whole_oauth_flow(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("agents").await;
    user(&server, seeded.workspace).await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let url = server.url("/mcp");
    let out =
        tokio::task::spawn_blocking(move || run_oauth_client(&url, EMAIL, PASSWORD, &channel)).await.unwrap();

    // The page the person approves names the client, the workspace and the scopes.
    let page = out["consentPageText"].as_str().unwrap();
    assert!(page.contains("Crier test agent") && page.contains("posts:write"), "{page}");
    assert!(page.contains("agents") && page.contains(EMAIL), "the workspace and the person: {page}");
    let redirect = &out["redirect"];
    assert_eq!(redirect["iss"], server.base.as_str(), "iss in the authorization response (RFC 9207)");
    assert!(redirect["code"].as_str().unwrap().starts_with("crac_"));
    assert!(out["tokens"]["access_token"].as_str().unwrap().starts_with("crat_"));
    assert_eq!(out["tokens"]["expires_in"], 3600);
    let tools = out["tools"].as_array().unwrap();
    assert!(tools.iter().any(|t| t == "create_post"), "{tools:?}");
    assert_ne!(out["created"]["isError"], true, "{}", out["created"]);
    assert_eq!(out["created"]["structuredContent"]["targets"][0]["status"], "queued");

    let refreshed = &out["refreshed"];
    assert_eq!(refreshed["ok"], true, "{refreshed:#}");
    assert_eq!(refreshed["rotated"], true, "a refresh token is single-use and rotates");
    let reuse = &out["reuse"];
    assert_eq!(reuse["status"], 400, "{reuse:#}");
    assert_eq!(reuse["body"]["error"], "invalid_grant", "{reuse:#}");
    // The reuse revoked the grant: the newest access token no longer works.
    let newest = refreshed["newAccess"].as_str().unwrap();
    assert_eq!(mcp_status(&server, newest).await, StatusCode::UNAUTHORIZED);

    // Stored only as hashes.
    let audit = server.get("/v1/audit-events", &server.seed("other").await.admin_key).await;
    assert!(!audit.body.to_string().contains(newest));
}

async fn mcp_status(server: &Server, token: &str) -> StatusCode {
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    server
        .http
        .post(server.url("/mcp"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&list)
        .send()
        .await
        .unwrap()
        .status()
}

async fn wrong_audience_expired_revoked_and_refresh_tokens_are_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("agents").await;
    let user = user(&server, seeded.workspace).await;
    let client = OAuthClient {
        client_id: "mcpc_test".into(),
        name: "test".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        created_at: server.clock.now(),
    };
    server.db.store.register_client(&client).await.unwrap();
    let now = server.clock.now();
    let ours = format!("{}/mcp", server.base);
    let token = |secret: &str, resource: &str, kind: TokenKind, expires_in: Duration| OAuthToken {
        hash: crier_api::oauth::secret_hash(secret),
        kind,
        grant_id: uuid::Uuid::now_v7(),
        client_id: client.client_id.clone(),
        workspace_id: seeded.workspace,
        user_id: user.id,
        scopes: ScopeSet::all(),
        resource: resource.to_owned(),
        created_at: now,
        expires_at: now + expires_in,
        revoked_at: None,
        used_at: None,
    };
    let valid = token("crat_valid", &ours, TokenKind::Access, Duration::hours(1));
    let revoked = token("crat_revoked", &ours, TokenKind::Access, Duration::hours(1));
    server
        .db
        .store
        .insert_tokens(&[
            valid.clone(),
            token("crat_other_audience", "https://other.example/mcp", TokenKind::Access, Duration::hours(1)),
            token("crat_expired", &ours, TokenKind::Access, Duration::seconds(-1)),
            revoked.clone(),
            token("crrt_refresh", &ours, TokenKind::Refresh, Duration::days(1)),
        ])
        .await
        .unwrap();
    server.db.store.revoke_grant(revoked.grant_id, now).await.unwrap();

    assert_eq!(mcp_status(&server, "crat_valid").await, StatusCode::OK, "the control token works");
    for refused in ["crat_other_audience", "crat_expired", "crat_revoked", "crrt_refresh", "crat_unknown"] {
        assert_eq!(mcp_status(&server, refused).await, StatusCode::UNAUTHORIZED, "{refused}");
    }
    // An hour later the valid one has expired too.
    server.clock.advance(Duration::hours(1));
    assert_eq!(mcp_status(&server, "crat_valid").await, StatusCode::UNAUTHORIZED);
}

async fn plain_pkce_and_unregistered_redirects_are_refused(backend: Backend) {
    let server = Server::start(backend).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let registered = http
        .post(server.url("/oauth/register"))
        .json(&json!({"client_name": "agent", "redirect_uris": ["http://127.0.0.1:9/callback"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let client_id =
        registered.json::<serde_json::Value>().await.unwrap()["client_id"].as_str().unwrap().to_owned();
    let resource = format!("{}/mcp", server.base);
    let authorize = |method: &str, redirect: &str, resource: &str| {
        let url = reqwest::Url::parse_with_params(
            &server.url("/oauth/authorize"),
            &[
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", redirect),
                ("state", "s1"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", method),
                ("resource", resource),
            ],
        )
        .unwrap();
        http.get(url).send()
    };
    let ok = authorize("S256", "http://127.0.0.1:9/callback", &resource).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK, "the control request shows the consent page");
    let plain = authorize("plain", "http://127.0.0.1:9/callback", &resource).await.unwrap();
    assert!(plain.status().is_redirection());
    let location = plain.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:9/callback?") && location.contains("error=invalid_request"),
        "{location}"
    );
    assert!(location.contains("state=s1"));
    let elsewhere = authorize("S256", "http://127.0.0.1:9/callback/other", &resource).await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST, "never redirected to an unregistered URI");
    let other = authorize("S256", "http://127.0.0.1:9/callback", "https://other.example/mcp").await.unwrap();
    assert!(other.headers()["location"].to_str().unwrap().contains("error=invalid_target"));

    // Metadata as the MCP authorization spec requires.
    let meta: serde_json::Value = http
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["issuer"], server.base.as_str());
    let resource_meta: serde_json::Value = http
        .get(server.url("/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resource_meta["resource"], resource.as_str());
}

async fn clients_known_by_a_metadata_document_are_fetched_safely(backend: Backend) {
    // The development switch lets the document live on a loopback http server here.
    let server = Server::start_insecure_loopback(backend).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client_id = format!("http://127.0.0.1:{port}/client.json");
    let document = json!({"client_id": client_id, "client_name": "Documented agent",
                          "redirect_uris": ["http://127.0.0.1:9/callback"]})
    .to_string();
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{document}",
        document.len()
    );
    crier_testkit::ssrf::serve_on(&format!("127.0.0.1:{port}"), answer.into_bytes()).await;
    let resource = format!("{}/mcp", server.base);
    let authorize = |client_id: &str| {
        let url = reqwest::Url::parse_with_params(
            &server.url("/oauth/authorize"),
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", "http://127.0.0.1:9/callback"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
                ("resource", resource.as_str()),
            ],
        )
        .unwrap();
        http.get(url).send()
    };
    let shown = authorize(&client_id).await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(shown.text().await.unwrap().contains("Documented agent"));
    // A document that names another client, and documents on private addresses, are refused.
    let renamed = authorize(&format!("http://127.0.0.1:{port}/client.json?other")).await.unwrap();
    assert_eq!(renamed.status(), StatusCode::BAD_REQUEST);
    let private = authorize("http://10.1.2.3/client.json").await.unwrap();
    assert_eq!(private.status(), StatusCode::BAD_REQUEST);
    assert!(private.text().await.unwrap().contains("10.1.2.3"));
}

async fn the_consent_page_needs_its_cookie_a_valid_login_and_can_be_denied(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("agents").await;
    user(&server, seeded.workspace).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let registered: serde_json::Value = http
        .post(server.url("/oauth/register"))
        .json(&json!({"client_name": "agent", "redirect_uris": ["http://127.0.0.1:9/callback"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let params = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/callback"),
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        ("code_challenge_method", "S256"),
    ];
    let shown = http
        .get(reqwest::Url::parse_with_params(&server.url("/oauth/authorize"), &params).unwrap())
        .send()
        .await
        .unwrap();
    let cookie = shown.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let submit = |extra: Vec<(&'static str, String)>, with_cookie: bool| {
        let mut form: Vec<(String, String)> =
            params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        form.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let mut request = http.post(server.url("/oauth/authorize")).form(&form);
        if with_cookie {
            request = request.header("cookie", cookie.clone());
        }
        request.send()
    };
    let login = |password: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("email", EMAIL.to_owned()),
            ("password", password.to_owned()),
            ("decision", "sign_in".to_owned()),
        ]
    };
    let no_cookie = submit(login(PASSWORD), false).await.unwrap();
    assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN, "a form posted from elsewhere");
    let wrong = submit(login("not the password"), true).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = submit(
        vec![
            ("csrf", csrf.clone()),
            ("email", "nobody@example.com".into()),
            ("password", PASSWORD.into()),
            ("decision", "sign_in".into()),
        ],
        true,
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap(), "no hint of who has an account");

    let consent = submit(login(PASSWORD), true).await.unwrap();
    assert_eq!(consent.status(), StatusCode::OK);
    let page = consent.text().await.unwrap();
    assert!(page.contains("agents"), "{page}");
    let code = page.split("name=\"code\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let denied =
        submit(vec![("csrf", csrf.clone()), ("code", code.clone()), ("decision", "deny".into())], true)
            .await
            .unwrap();
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    assert!(denied.headers()["location"].to_str().unwrap().contains("error=access_denied"));
    // The denied code was deleted: it cannot be exchanged.
    let exchanged = http
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", client_id.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(exchanged.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");
}
