//! The e-mail provider against the SMTP test peer: connecting checks the relay (STARTTLS or TLS,
//! AUTH), a post is one MIME message to every recipient, and the SSRF rule holds for SMTP hosts.

#![expect(clippy::unwrap_used, reason = "test")]

mod doubles;

use std::sync::Arc;
use std::time::Duration;

use crier_core::{
    AttemptId, Channel, ChannelId, ChannelStatus, MediaId, MediaKind, SecretId, SystemClock, TargetId,
    WorkspaceId,
};
use crier_providers::email::{Email, EmailSettings};
use crier_providers::{
    ConnectError, ConnectRequest, ConnectStart, Connection, CredentialVault, Credentials, Lookup, MediaFile,
    Platform, Provider, ProviderError, PublishRequest,
};
use crier_testkit::smtp_peer::SmtpPeer;
use doubles::{MemoryMedia, MemoryVault};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crier-media/tests/fixtures");

struct World {
    workspace: WorkspaceId,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    platform: Platform,
}

impl World {
    fn new() -> Self {
        let vault = Arc::new(MemoryVault::default());
        let media = Arc::new(MemoryMedia::default());
        let http = crier_net::OutboundClient::new(Default::default(), Arc::new(crier_net::SystemResolver));
        let platform =
            Platform { http, vault: vault.clone(), media: media.clone(), clock: Arc::new(SystemClock) };
        Self { workspace: WorkspaceId::generate(), vault, media, platform }
    }

    /// The provider as tests of Crier run it: the loopback peer allowed, its certificate trusted.
    fn email(&self, peer: &SmtpPeer) -> Email {
        let settings = EmailSettings {
            allow_insecure_smtp: true,
            extra_root_certificates: vec![peer.cert_pem().to_owned()],
        };
        Email::new(self.platform.clone(), settings)
    }

    /// A fixture file as a ready media, with its facts.
    fn add_media(&self, file: &str, mime: &str, file_name: Option<&str>) -> (MediaId, Vec<u8>) {
        let bytes = std::fs::read(format!("{FIXTURES}/{file}")).unwrap();
        let media = doubles::ready_media(
            self.workspace,
            MediaId::generate(),
            &bytes,
            mime.into(),
            MediaKind::Image,
            file_name.map(str::to_owned),
            None,
        );
        let id = media.id;
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.clone() });
        (id, bytes)
    }

    /// The channel Crier would create from a connection, its credentials in the vault.
    fn channel(&self, connection: Connection) -> Channel {
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "email".into(),
            name: "Newsletter".into(),
            config: connection.config,
            status: ChannelStatus::Active,
            account: Some(connection.account),
            credentials: Some(SecretId::generate()),
            paused_until: None,
            created_at: chrono::Utc::now(),
        };
        self.vault.0.lock().unwrap().insert(channel.id, connection.credentials.expose().to_vec());
        channel
    }
}

fn params(peer: &SmtpPeer, security: &str) -> serde_json::Map<String, Value> {
    let Value::Object(map) = json!({
        "host": peer.host(),
        "port": peer.port(),
        "security": security,
        "username": peer.username(),
        "password": peer.password(),
        "from": "Crier News <news@example.com>",
        "recipients": ["alice@example.net", "Bob <bob@example.org>"],
        "reply_to": "editor@example.com",
    }) else {
        unreachable!()
    };
    map
}

async fn connect(email: &Email, params: &serde_json::Map<String, Value>) -> Result<Connection, ConnectError> {
    let request = ConnectRequest {
        workspace_id: WorkspaceId::generate(),
        params,
        callback_url: "https://crier.test/cb",
        state: "s",
    };
    match email.connect(&request).await? {
        ConnectStart::Connected(connection) => Ok(connection),
        ConnectStart::Redirect { .. } => panic!("e-mail connects at once"),
    }
}

fn publish_request<'a>(
    channel: &'a Channel,
    target_id: TargetId,
    text: &'a str,
    media: &'a [MediaId],
    options: &'a Value,
) -> PublishRequest<'a> {
    PublishRequest { channel, target_id, attempt_id: AttemptId::generate(), text, media, options }
}

#[tokio::test]
async fn connecting_checks_the_relay_over_starttls_with_auth() {
    let peer = SmtpPeer::start();
    let world = World::new();
    let connection = connect(&world.email(&peer), &params(&peer, "starttls")).await.unwrap();

    assert_eq!(connection.account.id, "news@example.com");
    assert_eq!(connection.account.handle, "news@example.com");
    assert_eq!(connection.account.display_name.as_deref(), Some("Crier News"));
    assert_eq!(connection.account.avatar_url, None);
    assert_eq!(
        connection.config,
        json!({
            "host": "localhost", "port": peer.port(), "security": "starttls",
            "from": "Crier News <news@example.com>",
            "recipients": ["alice@example.net", "Bob <bob@example.org>"],
            "reply_to": "editor@example.com",
        })
    );
    let config = connection.config.to_string();
    assert!(!config.contains(peer.password()) && !config.contains("username"), "{config}");
    let sealed: Value = serde_json::from_slice(connection.credentials.expose()).unwrap();
    assert_eq!(sealed, json!({"username": peer.username(), "password": peer.password()}));
    // Checking the relay sends nothing.
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_refused_at_connect() {
    let peer = SmtpPeer::start();
    let world = World::new();
    let mut wrong = params(&peer, "starttls");
    wrong.insert("password".into(), json!("not-the-password"));
    let err = connect(&world.email(&peer), &wrong).await.unwrap_err();
    let ConnectError::Invalid { pointer, message } = &err else { panic!("{err:?}") };
    assert_eq!(pointer, "/password");
    assert!(message.contains("535"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn plaintext_smtp_is_refused_unless_developing() {
    let peer = SmtpPeer::start();
    let world = World::new();
    let strict = Email::new(world.platform.clone(), EmailSettings::default());
    let err = connect(&strict, &params(&peer, "none")).await.unwrap_err();
    assert!(matches!(&err, ConnectError::Invalid { pointer, .. } if pointer == "/security"), "{err:?}");
    let mut unknown = params(&peer, "ssl");
    unknown.remove("reply_to");
    assert!(matches!(connect(&strict, &unknown).await, Err(ConnectError::Invalid { .. })));
}

#[tokio::test]
async fn a_post_is_one_message_with_its_text_html_and_attachments() {
    let peer = SmtpPeer::start();
    let world = World::new();
    let email = world.email(&peer);
    let channel = world.channel(connect(&email, &params(&peer, "starttls")).await.unwrap());
    let (photo, photo_bytes) = world.add_media("photo.jpg", "image/jpeg", Some("C:\\holiday\\beach.jpg"));
    let (image, image_bytes) = world.add_media("image.png", "image/png", None);

    let text = "Spring issue <3\nRead it at https://example.com/spring?a=1&b=2.\nSee you!";
    let options = json!({});
    assert!(email.validate_target(&channel, text, &options).is_empty());
    let target_id = TargetId::generate();
    let media = [photo, image];
    let published =
        email.publish(&publish_request(&channel, target_id, text, &media, &options)).await.unwrap();
    assert_eq!(published.provider_post_id, format!("<{target_id}@crier>"));
    assert_eq!(published.url, None);

    let messages = peer.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "one message for every recipient");
    let mail = &messages[0];
    assert_eq!(mail.mail_from, "news@example.com");
    assert_eq!(mail.rcpt_tos, ["alice@example.net", "bob@example.org"]);
    assert_eq!(mail.auth_login.as_deref(), Some(peer.username()));
    assert!(mail.tls);

    let parsed = MessageParser::default().parse(&mail.data).expect("a MIME message");
    let from = parsed.from().and_then(|f| f.first()).unwrap();
    assert_eq!((from.name(), from.address()), (Some("Crier News"), Some("news@example.com")));
    let to: Vec<_> = parsed.to().unwrap().as_list().unwrap().iter().map(|a| a.address().unwrap()).collect();
    assert_eq!(to, ["alice@example.net", "bob@example.org"]);
    assert_eq!(
        parsed.reply_to().and_then(|r| r.first()).and_then(|a| a.address()),
        Some("editor@example.com")
    );
    assert_eq!(parsed.subject(), Some("Spring issue <3"));
    assert_eq!(parsed.message_id(), Some(format!("{target_id}@crier").as_str()));
    assert!(parsed.date().is_some());
    assert_eq!(parsed.root_part().content_type().unwrap().subtype(), Some("mixed"));

    // Text parts travel with CRLF line ends (MIME canonical form).
    assert_eq!(parsed.body_text(0).unwrap().replace("\r\n", "\n").trim_end(), text);
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("Spring issue &#60;3<br>"), "{html}");
    assert!(
        html.contains(
            "<a href=\"https://example.com/spring?a=1&#38;b=2\">https://example.com/spring?a=1&#38;b=2</a>."
        ),
        "{html}"
    );

    let attachments: Vec<_> = parsed.attachments().collect();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0].attachment_name(), Some("beach.jpg"));
    assert_eq!(attachments[0].content_type().unwrap().subtype(), Some("jpeg"));
    assert_eq!(attachments[0].contents(), photo_bytes.as_slice());
    assert_eq!(attachments[1].attachment_name(), Some(format!("{image}.png").as_str()));
    assert_eq!(attachments[1].content_type().unwrap().subtype(), Some("png"));
    assert_eq!(attachments[1].contents(), image_bytes.as_slice());

    // SMTP cannot say whether a mail arrived.
    let lookup = email.lookup(&publish_request(&channel, target_id, text, &media, &options)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}

#[tokio::test]
async fn options_set_the_subject_recipients_and_plain_text_only() {
    let peer = SmtpPeer::start();
    let world = World::new();
    let email = world.email(&peer);
    let channel = world.channel(connect(&email, &params(&peer, "starttls")).await.unwrap());
    let options = json!({"subject": "Ünïcode subject", "html": false, "recipients": ["carol@example.com"]});
    let request = publish_request(&channel, TargetId::generate(), "Just text.", &[], &options);
    email.publish(&request).await.unwrap();

    let messages = peer.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(messages[0].rcpt_tos, ["carol@example.com"]);
    let parsed = MessageParser::default().parse(&messages[0].data).unwrap();
    assert_eq!(parsed.subject(), Some("Ünïcode subject"));
    assert_eq!(parsed.html_body_count(), 1, "mail-parser renders the plain part as HTML itself");
    assert!(!String::from_utf8_lossy(&messages[0].data).contains("text/html"));
    assert_eq!(parsed.body_text(0).unwrap().trim_end(), "Just text.");
}

#[tokio::test]
async fn implicit_tls_works() {
    let peer = SmtpPeer::start_implicit_tls();
    let world = World::new();
    let email = world.email(&peer);
    let channel = world.channel(connect(&email, &params(&peer, "tls")).await.unwrap());
    assert_eq!(channel.config["security"], "tls");
    let options = json!({"subject": "Wrapped"});
    email
        .publish(&publish_request(&channel, TargetId::generate(), "Over SMTPS.", &[], &options))
        .await
        .unwrap();

    let messages = peer.wait_for_messages(1, Duration::from_secs(10)).await;
    assert!(messages[0].tls);
    assert_eq!(MessageParser::default().parse(&messages[0].data).unwrap().subject(), Some("Wrapped"));
}

#[tokio::test]
async fn a_refused_login_at_publish_needs_the_user() {
    let peer = SmtpPeer::start();
    let world = World::new();
    let email = world.email(&peer);
    let channel = world.channel(connect(&email, &params(&peer, "starttls")).await.unwrap());
    let stale = Credentials::to_json(&json!({"username": peer.username(), "password": "changed"}));
    world.vault.replace(&channel, &stale).await.unwrap();

    let options = json!({});
    let err = email
        .publish(&publish_request(&channel, TargetId::generate(), "Hi", &[], &options))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::AuthExpired { .. }), "{err:?}");
    assert!(matches!(email.refresh(&channel).await, Err(ProviderError::AuthExpired { .. })));
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn an_unreachable_relay_is_unavailable() {
    let world = World::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let email = Email::new(
        world.platform.clone(),
        EmailSettings { allow_insecure_smtp: true, extra_root_certificates: Vec::new() },
    );
    let Value::Object(params) = json!({
        "host": "127.0.0.1", "port": port, "from": "a@example.com", "recipients": ["b@example.com"],
    }) else {
        unreachable!()
    };
    let err = connect(&email, &params).await.unwrap_err();
    assert!(matches!(err, ConnectError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_loopback_relay_is_refused_without_connecting() {
    // A listener that would see any connection attempt in its accept queue.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let world = World::new();
    let strict = Email::new(world.platform.clone(), EmailSettings::default());

    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let Value::Object(params) = json!({
            "host": host, "port": port, "username": "u", "password": "p",
            "from": "a@example.com", "recipients": ["b@example.com"],
        }) else {
            unreachable!()
        };
        let err = connect(&strict, &params).await.unwrap_err();
        let ConnectError::Invalid { pointer, message } = &err else { panic!("{host}: {err:?}") };
        assert_eq!(pointer, "/host");
        assert!(message.contains("loopback"), "{message}");
    }

    // A channel made while the switch was on is refused at publish once it is off.
    let mut connection_config = json!({
        "host": "localhost", "port": port, "security": "starttls",
        "from": "a@example.com", "recipients": ["b@example.com"], "reply_to": null,
    });
    assert!(strict.validate_config(&connection_config).is_empty());
    connection_config["security"] = json!("none");
    assert_eq!(strict.validate_config(&connection_config)[0].pointer, "/security");
    connection_config["security"] = json!("starttls");
    let channel = world.channel(Connection {
        account: crier_core::ChannelAccount {
            id: "a@example.com".into(),
            handle: "a@example.com".into(),
            display_name: None,
            avatar_url: None,
        },
        config: connection_config,
        credentials: Credentials::to_json(&json!({"username": "u", "password": "p"})),
    });
    let options = json!({});
    let err = strict
        .publish(&publish_request(&channel, TargetId::generate(), "Hi", &[], &options))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { code, .. } if code == "platform_unreachable"),
        "{err:?}"
    );

    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing may have connected: {accepted:?}"
    );
}
