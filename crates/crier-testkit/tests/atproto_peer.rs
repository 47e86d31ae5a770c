//! The Bluesky test network works, and behaves the way Crier's Bluesky provider counts on: real
//! accounts and app passwords on a real PDS, posts read back from the repository.

#![expect(clippy::unwrap_used, reason = "tests")]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_testkit::atproto::{Account, Pds};
use reqwest::StatusCode;
use serde_json::{Value, json};

const POST: &str = "app.bsky.feed.post";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn post(text: &str) -> Value {
    json!({ "$type": POST, "text": text, "createdAt": now() })
}

async fn login(pds: &Pds, identifier: &str, password: &str) -> (StatusCode, Value) {
    pds.xrpc_post(
        "com.atproto.server.createSession",
        None,
        &json!({ "identifier": identifier, "password": password }),
    )
    .await
}

async fn create_post(pds: &Pds, jwt: &str, did: &str, rkey: Option<&str>, text: &str) -> (StatusCode, Value) {
    let mut body = json!({ "repo": did, "collection": POST, "record": post(text) });
    if let Some(rkey) = rkey {
        body["rkey"] = json!(rkey);
    }
    pds.xrpc_post("com.atproto.repo.createRecord", Some(jwt), &body).await
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn session_jwts(session: &Value) -> (String, String) {
    (session["accessJwt"].as_str().unwrap().to_owned(), session["refreshJwt"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn accounts_app_passwords_and_posts_on_a_real_pds() {
    let pds = Pds::shared().await;
    let alice = pds.create_account("alice").await;
    let bob = pds.create_account("bob").await;
    assert_ne!(alice.did, bob.did);
    assert!(alice.did.starts_with("did:plc:"), "{alice:?}");
    assert!(alice.handle.ends_with(".test"), "{alice:?}");

    // Crier is given an app password, never the account password.
    let app_password = pds.create_app_password(&alice, "crier").await;
    let (status, session) = login(pds, &alice.handle, &app_password).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["did"], json!(alice.did));
    let (access, _) = session_jwts(&session);

    let (status, created) = create_post(pds, &access, &alice.did, None, "hello from Crier's tests").await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let uri = created["uri"].as_str().unwrap();
    assert!(uri.starts_with(&format!("at://{}/{POST}/", alice.did)), "{created}");

    let record = pds.get_record(uri).await;
    assert_eq!(record["uri"], json!(uri));
    assert_eq!(record["cid"], created["cid"]);
    assert_eq!(record["value"]["text"], json!("hello from Crier's tests"));

    let listed = pds.list_records(&alice.did, POST).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["uri"], json!(uri));
    assert!(pds.list_records(&bob.did, POST).await.is_empty());
}

/// What the Bluesky provider builds on, pinned so an upgrade of the PDS that changes it fails
/// here first.
#[tokio::test]
async fn pds_behaviour_the_provider_relies_on() {
    let pds = Pds::shared().await;
    let carol: Account = pds.create_account("carol").await;

    // Access tokens last two hours on this PDS; refresh tokens 90 days.
    let claims = jwt_claims(&carol.access_jwt);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 2 * 3600, "{claims}");
    let claims = jwt_claims(&carol.refresh_jwt);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 90 * 86_400, "{claims}");

    // A wrong (app) password: 401 AuthenticationRequired, same as an unknown handle.
    for identifier in [carol.handle.as_str(), "nobody-here.test"] {
        let (status, answer) = login(pds, identifier, "aaaa-bbbb-cccc-dddd").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["error"], json!("AuthenticationRequired"), "{answer}");
    }

    // A caller-chosen TID rkey is accepted; creating it again is a 500 (the repository's tree
    // refuses the duplicate key) and leaves the first record as it was. A non-TID rkey is a 400.
    let rkey = "3lbq2ya6ckc2a";
    let (status, first) = create_post(pds, &carol.access_jwt, &carol.did, Some(rkey), "first").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["uri"], json!(format!("at://{}/{POST}/{rkey}", carol.did)));
    let (status, again) = create_post(pds, &carol.access_jwt, &carol.did, Some(rkey), "second").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{again}");
    assert_eq!(again["error"], json!("InternalServerError"), "{again}");
    assert_eq!(pds.get_record(first["uri"].as_str().unwrap()).await["value"]["text"], json!("first"));
    let (status, bad) = create_post(pds, &carol.access_jwt, &carol.did, Some("not-a-tid"), "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"], json!("InvalidRequest"), "{bad}");

    // Revoking an app password: new logins fail and its sessions' refresh tokens are refused,
    // but an access token already issued keeps working until it expires.
    let app_password = pds.create_app_password(&carol, "crier").await;
    let (_, session) = login(pds, &carol.handle, &app_password).await;
    let (access, refresh) = session_jwts(&session);
    assert_eq!(jwt_claims(&access)["scope"], json!("com.atproto.appPass"));
    pds.revoke_app_password(&carol, "crier").await;
    let (status, created) = create_post(pds, &access, &carol.did, None, "after revocation").await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, refreshed) =
        pds.xrpc_post("com.atproto.server.refreshSession", Some(&refresh), &Value::Null).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refreshed}");
    assert_eq!(refreshed["error"], json!("ExpiredToken"), "{refreshed}");
    let (status, answer) = login(pds, &carol.handle, &app_password).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");

    // Blobs: up to 5 MiB (describeServer says so), JPEG bytes come back as a blob ref, and a post
    // embedding it serves the same bytes.
    let (_, server) = pds.xrpc_get("com.atproto.server.describeServer", None, &[]).await;
    assert_eq!(server["blobUploadLimit"], json!(5 * 1024 * 1024), "{server}");
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    jpeg.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    let uploaded: Value = reqwest::Client::new()
        .post(pds.xrpc("com.atproto.repo.uploadBlob"))
        .bearer_auth(&carol.access_jwt)
        .header("content-type", "image/jpeg")
        .body(jpeg.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let blob = &uploaded["blob"];
    assert_eq!(blob["$type"], json!("blob"), "{uploaded}");
    assert_eq!(blob["mimeType"], json!("image/jpeg"), "{uploaded}");
    assert_eq!(blob["size"], json!(jpeg.len()), "{uploaded}");
    let cid = blob["ref"]["$link"].as_str().unwrap();
    let with_image = json!({
        "repo": carol.did, "collection": POST,
        "record": {
            "$type": POST, "text": "a picture", "createdAt": now(),
            "embed": { "$type": "app.bsky.embed.images", "images": [{ "alt": "noise", "image": blob }] },
        },
    });
    let (status, created) =
        pds.xrpc_post("com.atproto.repo.createRecord", Some(&carol.access_jwt), &with_image).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(pds.get_blob(&carol.did, cid).await, jpeg);
    let too_big = reqwest::Client::new()
        .post(pds.xrpc("com.atproto.repo.uploadBlob"))
        .bearer_auth(&carol.access_jwt)
        .header("content-type", "image/jpeg")
        .body(vec![0u8; 5 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
