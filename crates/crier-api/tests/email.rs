//! E-mail channels through the real HTTP server and an in-process worker, against a real SMTP
//! server (`aiosmtpd` from PyPI, STARTTLS and AUTH required): connect checks the relay and seals
//! only the login; each target is exactly one well-formed message with its attachments intact;
//! the relay's address is held to the SSRF rules.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Reply, Server};
use crier_api::MediaConfig;
use crier_net::OutboundPolicy;
use crier_providers::email::EmailSettings;
use crier_testkit::smtp_peer::SmtpPeer;
use crier_testkit::{Backend, on_both_backends};
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::json;

on_both_backends!(
    backend: each_target_is_one_message_with_its_attachments_intact,
    relays_on_private_addresses_or_without_tls_are_refused,
);

const PHOTO: &[u8] = include_bytes!("../../crier-media/tests/fixtures/photo.jpg");
const PNG: &[u8] = include_bytes!("../../crier-media/tests/fixtures/image.png");

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

async fn each_target_is_one_message_with_its_attachments_intact(backend: Backend) {
    let peer = SmtpPeer::start();
    // The relay is on loopback, so the development switch is on; TLS is still required.
    let email = EmailSettings {
        allow_insecure_smtp: true,
        extra_root_certificates: vec![peer.cert_pem().to_owned()],
    };
    let server =
        Server::start_media(backend, MediaConfig::default(), OutboundPolicy::default()).email(email).await;
    let key = server.seed("Acme").await.admin_key;
    let reply = server
        .post(
            "/v1/channels/connect",
            &key,
            json!({
                "provider": "email", "host": peer.host(), "port": peer.port(), "security": "starttls",
                "username": peer.username(), "password": peer.password(),
                "from": "Crier News <news@example.com>", "recipients": ["alice@example.net", "bob@example.org"],
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(!reply.body.to_string().contains(peer.password()), "the password never comes back");
    assert_eq!(reply.body["account"]["id"], "news@example.com");
    let channel = reply.body["id"].as_str().unwrap().to_owned();

    let photo = upload(&server, &key, "photo.jpg", "image/jpeg", PHOTO).await;
    let png = upload(&server, &key, "chart.png", "image/png", PNG).await;
    let mut posts = Vec::new();
    for n in 1..=2 {
        let reply = server
            .post(
                "/v1/posts",
                &key,
                json!({"text": format!("Issue {n}\nRead it at https://example.com/{n}"), "media": [&photo, &png],
                       "targets": [{"channel_id": channel, "options": {"subject": format!("Issue {n}")}}]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        posts.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    server.worker("w").run_once().await.unwrap();

    let mails = peer.wait_for_messages(2, std::time::Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2, "exactly one message per target");
    for (n, post) in posts.iter().enumerate() {
        let target = server.get(&format!("/v1/posts/{post}"), &key).await.body["targets"][0].clone();
        assert_eq!(target["status"], "published", "{target}");
        let message_id = target["provider_post_id"].as_str().unwrap().trim_matches(['<', '>']).to_owned();
        let mail = mails
            .iter()
            .find(|m| {
                MessageParser::default().parse(&m.data).unwrap().message_id() == Some(message_id.as_str())
            })
            .unwrap_or_else(|| panic!("no message with id {message_id}"));
        assert!(mail.tls, "sent over TLS");
        assert_eq!(mail.rcpt_tos, ["alice@example.net", "bob@example.org"]);
        let parsed = MessageParser::default().parse(&mail.data).unwrap();
        assert_eq!(parsed.subject(), Some(format!("Issue {}", n + 1).as_str()));
        assert!(parsed.body_text(0).unwrap().contains(&format!("https://example.com/{}", n + 1)));
        assert!(parsed.body_html(0).unwrap().contains(&format!("href=\"https://example.com/{}\"", n + 1)));
        let attachments: Vec<_> = parsed.attachments().collect();
        assert_eq!(attachments.len(), 2);
        assert_eq!(attachments[0].contents(), PHOTO, "the photo arrives byte for byte");
        assert_eq!(attachments[0].content_type().unwrap().subtype(), Some("jpeg"));
        assert_eq!(attachments[1].contents(), PNG);
        assert_eq!(attachments[1].attachment_name(), Some("chart.png"));
    }
}

async fn relays_on_private_addresses_or_without_tls_are_refused(backend: Backend) {
    let peer = SmtpPeer::start();
    // The production default: no development switch.
    let server = Server::start_media(backend, MediaConfig::default(), OutboundPolicy::default()).await;
    let key = server.seed("Acme").await.admin_key;
    for (host, security, pointer) in [
        ("localhost", "starttls", "/host"),
        ("10.0.0.8", "starttls", "/host"),
        ("169.254.169.254", "tls", "/host"),
        ("smtp.example.com", "none", "/security"),
    ] {
        let reply = server
            .post(
                "/v1/channels/connect",
                &key,
                json!({"provider": "email", "host": host, "port": peer.port(), "security": security,
                       "username": "u", "password": "p", "from": "a@example.com", "recipients": ["b@example.com"]}),
            )
            .await;
        let problem = reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{host}: {problem}");
    }
    assert!(peer.messages().is_empty());
    assert_eq!(server.get("/v1/channels", &key).await.body["data"], json!([]));
}
