//! E-mail over SMTP. A channel is a sender identity, the relay that sends as it and the people
//! who get the mail (`POST /v1/channels/connect {provider: "email", host, port?, security?,
//! username?, password?, from, recipients, reply_to?}`). Connecting checks the relay at once:
//! a connection, STARTTLS or TLS, AUTH. The login is sealed; everything else is the channel's
//! config, in the clear.
//!
//! A post is one message to all the recipients (or to a target's own list): the text, an HTML
//! alternative made from it, and the media as attachments. Its Message-ID is derived from the
//! target, so the rare duplicate (see [`Provider::lookup`]) is recognisably the same mail.

mod config;
mod html;
mod message;
mod options;
mod relay;

use async_trait::async_trait;
use crier_core::{Channel, ChannelAccount};

use self::config::{ConnectParams, EmailConfig, SmtpLogin};
use crate::platform::Platform;
use crate::provider::{Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit};
use crate::{ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules};

pub use config::{MAX_RECIPIENTS, Security};
pub use options::{DEFAULT_SUBJECT_CHARS, MAX_SUBJECT_CHARS, MAX_TEXT_CHARS};

/// Most attachments of each kind, and the largest one.
pub const MAX_ATTACHMENTS: usize = 10;
pub const MAX_ATTACHMENT_BYTES: u64 = 10_000_000;

/// How a deployment lets e-mail channels reach relays.
#[derive(Debug, Clone, Default)]
pub struct EmailSettings {
    /// Development only: allow `security: "none"` (plaintext SMTP: the password and the mail
    /// unencrypted) and relays on loopback addresses. Private ranges stay refused.
    pub allow_insecure_smtp: bool,
    /// PEM certificates trusted in addition to the web PKI roots: for relays with a private CA,
    /// and for tests.
    pub extra_root_certificates: Vec<String>,
}

pub struct Email {
    platform: Platform,
    settings: EmailSettings,
}

impl Email {
    pub fn new(platform: Platform, settings: EmailSettings) -> Self {
        Self { platform, settings }
    }
}

fn channel_config(channel: &Channel) -> Result<EmailConfig, ProviderError> {
    serde_json::from_value(channel.config.clone()).map_err(|err| ProviderError::Rejected {
        code: "invalid_channel_config".into(),
        message: err.to_string(),
    })
}

fn first_invalid(issues: Vec<TargetIssue>) -> Result<(), ConnectError> {
    match issues.into_iter().next() {
        Some(issue) => Err(ConnectError::invalid(&issue.pointer, issue.message)),
        None => Ok(()),
    }
}

#[async_trait]
impl Provider for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::{ConnectField, FieldKind};
        const FIELDS: &[ConnectField] = &[
            ConnectField::text("host", "SMTP relay host"),
            ConnectField::text("port", "Port (587 for STARTTLS, 465 for TLS)")
                .optional()
                .of_kind(FieldKind::Number),
            ConnectField::text("username", "SMTP user name").optional(),
            ConnectField::secret("password", "SMTP password").optional(),
            ConnectField::text("from", "From (Name <address>)"),
            ConnectField::text("recipients", "Recipients (comma-separated)").of_kind(FieldKind::List),
        ];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match serde_json::from_value::<EmailConfig>(config.clone()) {
            Ok(parsed) => parsed.check(self.settings.allow_insecure_smtp),
            Err(err) => vec![TargetIssue::new("", err.to_string())],
        }
    }

    /// Options: `subject` (default: the text's first non-blank line, cut to 78 characters),
    /// `html` (default true), `recipients` (replaces the channel's list for this post).
    fn validate_target(
        &self,
        _channel: &Channel,
        text: &str,
        options: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        options::check(text, options)
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT_CHARS, counted_in: "characters" })
    }

    /// Any image or video Crier accepts, as attachments. `MediaRules` counts images and videos
    /// apart, so this is ten of each; the message's total size is the relay's to judge.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_ATTACHMENTS,
            max_videos: MAX_ATTACHMENTS,
            allow_mixed: true,
            max_image_bytes: Some(MAX_ATTACHMENT_BYTES),
            max_video_bytes: Some(MAX_ATTACHMENT_BYTES),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        let params: ConnectParams = serde_json::from_value(serde_json::Value::Object(request.params.clone()))
            .map_err(|err| ConnectError::invalid("", err.to_string()))?;
        let (config, login) = params.split();
        first_invalid(config.check(self.settings.allow_insecure_smtp))?;
        first_invalid(login.check().into_iter().collect())?;
        let from =
            config::mailbox(&config.from).map_err(|message| ConnectError::invalid("/from", message))?;

        let address = relay::checked_address(&config, &self.settings)
            .await
            .map_err(|unusable| unusable.into_connect_error(&config))?;
        let transport = relay::transport(&config, address, &login, &self.settings)
            .map_err(|unusable| unusable.into_connect_error(&config))?;
        // Connect, STARTTLS or TLS, AUTH, NOOP, QUIT: everything a send needs but the mail.
        match transport.test_connection().await {
            Ok(true) => {}
            Ok(false) => {
                return Err(ConnectError::Unavailable { message: "the relay did not answer NOOP".into() });
            }
            Err(err) => return Err(relay::failure(&err).into_connect_error()),
        }

        let address = from.email.to_string();
        Ok(ConnectStart::Connected(Connection {
            account: ChannelAccount {
                id: address.clone(),
                handle: address,
                display_name: from.name.filter(|n| !n.is_empty()),
                avatar_url: None,
            },
            config: serde_json::to_value(&config)
                .map_err(|err| ConnectError::Unavailable { message: err.to_string() })?,
            credentials: Credentials::to_json(&login),
        }))
    }

    // `disconnect` is the default: SMTP passwords belong to the relay's account, and there is
    // nothing upstream to revoke.

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let config = channel_config(request.channel)?;
        let options = options::parse(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        let login: SmtpLogin = self.platform.vault.open(request.channel).await?.parse()?;

        let mut media = Vec::with_capacity(request.media.len());
        for id in request.media {
            media.push(self.platform.media.load(request.channel.workspace_id, *id).await?);
        }
        let mail = message::build(&message::Outgoing {
            config: &config,
            options: &options,
            text: request.text,
            media: &media,
            target_id: request.target_id,
            date: self.platform.clock.now().into(),
        })?;

        let address = relay::checked_address(&config, &self.settings)
            .await
            .map_err(|unusable| unusable.into_provider_error(&config))?;
        let transport = relay::transport(&config, address, &login, &self.settings)
            .map_err(|unusable| unusable.into_provider_error(&config))?;
        // One bad recipient (a 550 to its RCPT) fails the whole message: nobody gets a copy, and
        // the relay's words say who.
        lettre::AsyncTransport::send(&transport, mail)
            .await
            .map_err(|err| relay::failure(&err).into_provider_error())?;
        tracing::info!(channel_id = %request.channel.id, target_id = %request.target_id, "sent an e-mail");
        Ok(Published { provider_post_id: message::message_id(request.target_id), url: None })
    }

    /// An SMTP login does not expire or rotate: a refused one needs the user.
    async fn refresh(&self, _channel: &Channel) -> Result<(), ProviderError> {
        Err(ProviderError::AuthExpired {
            message: "the relay refused the SMTP login; reconnect the channel with a working one".into(),
        })
    }

    /// SMTP tells the sender nothing after the relay's final answer, and that answer is exactly
    /// what a crash loses: a relay that took the mail may deliver it with no trace Crier can ask
    /// about. Sending again could duplicate the mail, so the worker marks such an attempt unknown
    /// instead of re-sending (and if a mail is ever sent twice, its Message-ID shows it is one).
    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }
}
