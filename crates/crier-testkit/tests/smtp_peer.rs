//! The SMTP peer, driven by lettre over rustls as the e-mail provider will drive a real server.

#![expect(clippy::unwrap_used, reason = "test")]

use std::time::Duration;

use crier_testkit::smtp_peer::SmtpPeer;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn tls_parameters(peer: &SmtpPeer) -> TlsParameters {
    TlsParameters::builder(peer.host().to_owned())
        .add_root_certificate(Certificate::from_pem(peer.cert_pem().as_bytes()).unwrap())
        .build()
        .unwrap()
}

fn transport(peer: &SmtpPeer, tls: Tls, password: &str) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(peer.host())
        .port(peer.port())
        .tls(tls)
        .credentials(Credentials::new(peer.username().to_owned(), password.to_owned()))
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn message(subject: &str) -> Message {
    Message::builder()
        .from("Crier <crier@example.com>".parse().unwrap())
        .to("Reader <reader@example.net>".parse().unwrap())
        .cc("other@example.org".parse().unwrap())
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body("Hello over STARTTLS.\n.\nA line that was a lone dot.".to_owned())
        .unwrap()
}

#[tokio::test]
async fn lettre_sends_over_starttls_trusting_the_peers_certificate() {
    let peer = SmtpPeer::start();
    let mailer = transport(&peer, Tls::Required(tls_parameters(&peer)), peer.password());
    mailer.send(message("Hi")).await.unwrap();

    let messages = peer.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.mail_from, "crier@example.com");
    assert_eq!(mail.rcpt_tos, ["reader@example.net", "other@example.org"]);
    assert_eq!(mail.auth_login.as_deref(), Some(peer.username()));
    assert!(mail.tls);
    let data = String::from_utf8(mail.data.clone()).unwrap();
    assert!(data.contains("Subject: Hi\r\n"), "{data}");
    assert!(data.contains("\r\n.\r\nA line that was a lone dot."), "dot-unstuffed: {data}");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_gets_nowhere() {
    let peer = SmtpPeer::start();
    let untrusting = TlsParameters::new(peer.host().to_owned()).unwrap();
    let mailer = transport(&peer, Tls::Required(untrusting), peer.password());
    let err = mailer.send(message("Hi")).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let peer = SmtpPeer::start();
    let mailer = transport(&peer, Tls::Required(tls_parameters(&peer)), "wrong");
    let err = mailer.send(message("Hi")).await.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn without_starttls_auth_is_neither_offered_nor_accepted() {
    let peer = SmtpPeer::start();

    // lettre without TLS finds no AUTH mechanism to use.
    let mailer = transport(&peer, Tls::None, peer.password());
    assert!(mailer.send(message("Hi")).await.is_err());

    // By hand: EHLO offers STARTTLS and no AUTH, and AUTH is refused before STARTTLS.
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", peer.port())).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let greeting = lines.next_line().await.unwrap().unwrap();
    assert!(greeting.starts_with("220"), "{greeting}");
    write.write_all(b"EHLO client.example\r\n").await.unwrap();
    let mut ehlo = Vec::new();
    loop {
        let line = lines.next_line().await.unwrap().unwrap();
        let last = line.as_bytes().get(3) == Some(&b' ');
        ehlo.push(line);
        if last {
            break;
        }
    }
    assert!(ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.contains("AUTH")), "{ehlo:?}");
    let plain = base64_plain(peer.username(), peer.password());
    write.write_all(format!("AUTH PLAIN {plain}\r\n").as_bytes()).await.unwrap();
    let refused = lines.next_line().await.unwrap().unwrap();
    assert!(refused.starts_with('5'), "plaintext AUTH must be refused: {refused}");
    write.write_all(b"MAIL FROM:<a@example.com>\r\n").await.unwrap();
    let refused = lines.next_line().await.unwrap().unwrap();
    assert!(refused.starts_with('5'), "mail without STARTTLS must be refused: {refused}");
    write.write_all(b"QUIT\r\n").await.unwrap();
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_smtps_works_too() {
    let peer = SmtpPeer::start_implicit_tls();
    assert!(peer.implicit_tls());
    let mailer = transport(&peer, Tls::Wrapper(tls_parameters(&peer)), peer.password());
    mailer.send(message("Wrapped")).await.unwrap();
    let messages = peer.wait_for_messages(1, Duration::from_secs(10)).await;
    assert!(String::from_utf8_lossy(&messages[0].data).contains("Subject: Wrapped\r\n"));
    assert!(messages[0].tls);
    assert_eq!(messages[0].auth_login.as_deref(), Some(peer.username()));
}

fn base64_plain(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}
