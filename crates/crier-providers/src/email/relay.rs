//! Reaching the relay: the user-supplied host resolved once and checked like any outbound URL,
//! lettre's SMTP client pointed at the checked address, and its failures read into Crier's.

use std::error::Error as _;
use std::net::SocketAddr;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use super::EmailSettings;
use super::config::{EmailConfig, Security, SmtpLogin};
use crate::{ConnectError, ProviderError};

/// For connecting and for each SMTP command. Generous: relays greylist and scan slowly.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Why the relay is not even tried.
#[derive(Debug)]
pub(super) enum Unusable {
    /// Plaintext SMTP while the development switch is off.
    Insecure,
    /// The host resolves to an address Crier must not reach (private, loopback, metadata…).
    Forbidden {
        why: &'static str,
    },
    Unresolvable,
    /// The deployment's extra root certificates are not PEM.
    BadRootCertificates(String),
}

impl Unusable {
    fn message(&self, config: &EmailConfig) -> String {
        match self {
            Unusable::Insecure => {
                "plaintext SMTP is allowed only in development (allow_insecure_smtp)".to_owned()
            }
            Unusable::Forbidden { why } => {
                format!("the host {} resolves to a {why} address, which is not allowed", config.host)
            }
            Unusable::Unresolvable => format!("the host {} could not be resolved", config.host),
            Unusable::BadRootCertificates(err) => {
                format!("the deployment's extra root certificates for SMTP are not valid PEM: {err}")
            }
        }
    }

    pub fn into_connect_error(self, config: &EmailConfig) -> ConnectError {
        let message = self.message(config);
        match self {
            Unusable::Insecure => ConnectError::invalid("/security", message),
            Unusable::Forbidden { .. } => ConnectError::invalid("/host", message),
            Unusable::Unresolvable | Unusable::BadRootCertificates(_) => {
                ConnectError::Unavailable { message }
            }
        }
    }

    pub fn into_provider_error(self, config: &EmailConfig) -> ProviderError {
        let message = self.message(config);
        match self {
            // DNS may come back; an operator may fix the certificates.
            Unusable::Unresolvable | Unusable::BadRootCertificates(_) => {
                ProviderError::Retryable { after: None, message }
            }
            Unusable::Insecure => ProviderError::Rejected { code: "insecure_smtp".into(), message },
            Unusable::Forbidden { .. } => {
                ProviderError::Rejected { code: "platform_unreachable".into(), message }
            }
        }
    }
}

/// The SMTP host is user-supplied, so it gets the same SSRF rule as every outbound URL
/// (`crier_net::check_url`): it is resolved once, here, and every address it resolves to must
/// be public (a name answering with one public and one private address is refused). lettre is
/// then given the checked IP address itself, so it makes no lookup of its own that a DNS
/// rebinding could answer differently; the certificate is still verified against the host name,
/// which lettre takes from `TlsParameters`, not from the address it connects to. The development
/// switch also lets loopback through (local relays and the test peer), never private ranges or
/// cloud metadata, as `OutboundPolicy::allow_insecure_loopback` does.
pub(super) async fn checked_address(
    config: &EmailConfig,
    settings: &EmailSettings,
) -> Result<SocketAddr, Unusable> {
    if config.security == Security::None && !settings.allow_insecure_smtp {
        return Err(Unusable::Insecure);
    }
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((config.host.as_str(), config.port))
        .await
        .map_err(|_| Unusable::Unresolvable)?
        .collect();
    let first = *addresses.first().ok_or(Unusable::Unresolvable)?;
    for address in &addresses {
        let ip = address.ip();
        if settings.allow_insecure_smtp && ip.is_loopback() {
            continue;
        }
        if let Some(why) = crier_net::ip::forbidden(ip) {
            return Err(Unusable::Forbidden { why });
        }
    }
    Ok(first)
}

/// An SMTP client for one relay at its checked address. Without lettre's `pool` feature each
/// send (and `test_connection`) opens its own connection and closes it with QUIT.
pub(super) fn transport(
    config: &EmailConfig,
    address: SocketAddr,
    login: &SmtpLogin,
    settings: &EmailSettings,
) -> Result<Transport, Unusable> {
    let tls = match config.security {
        Security::Starttls => Tls::Required(tls_parameters(&config.host, settings)?),
        Security::Tls => Tls::Wrapper(tls_parameters(&config.host, settings)?),
        Security::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
        .port(address.port())
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let (Some(username), Some(password)) = (&login.username, &login.password) {
        builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// The web PKI roots (lettre's webpki-roots) plus the deployment's own.
fn tls_parameters(host: &str, settings: &EmailSettings) -> Result<TlsParameters, Unusable> {
    let bad = |err: lettre::transport::smtp::Error| Unusable::BadRootCertificates(err.to_string());
    let mut builder = TlsParameters::builder(host.to_owned());
    for pem in &settings.extra_root_certificates {
        builder = builder.add_root_certificate(Certificate::from_pem(pem.as_bytes()).map_err(bad)?);
    }
    builder.build().map_err(bad)
}

/// An SMTP failure, read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// 535: the relay refused the user name or password.
    Login(String),
    /// A 5xx reply: this will not work by trying again.
    Permanent { code: u16, text: String },
    /// A 4xx reply (greylisting, a full queue, a rate limit).
    Transient(String),
    /// lettre found nothing it could do (no AUTH mechanism it speaks).
    Client(String),
    /// The connection, TLS or a timeout.
    Network(String),
}

pub(super) fn failure(err: &lettre::transport::smtp::Error) -> Failure {
    // lettre's Display is the kind and the code, then the server's text or the I/O cause.
    let message = err.to_string();
    match err.status().map(u16::from) {
        Some(535) => Failure::Login(message),
        Some(code) if err.is_permanent() => {
            let text = err.source().map_or_else(|| message.clone(), ToString::to_string);
            Failure::Permanent { code, text }
        }
        Some(_) => Failure::Transient(message),
        None if err.is_client() => Failure::Client(message),
        None => Failure::Network(message),
    }
}

impl Failure {
    /// At connect time, a wrong login is the user's to fix, at the field that is wrong.
    pub fn into_connect_error(self) -> ConnectError {
        match self {
            Failure::Login(message) => ConnectError::invalid(
                "/password",
                format!("the relay refused the user name or password: {message}"),
            ),
            Failure::Permanent { code, text } => {
                ConnectError::Refused { message: format!("the relay answered {code}: {text}") }
            }
            Failure::Client(message) => ConnectError::Refused { message },
            Failure::Transient(message) | Failure::Network(message) => ConnectError::Unavailable { message },
        }
    }

    pub fn into_provider_error(self) -> ProviderError {
        match self {
            Failure::Login(message) => ProviderError::AuthExpired { message },
            Failure::Permanent { code, text } => {
                ProviderError::Rejected { code: format!("smtp_{code}"), message: text }
            }
            Failure::Client(message) => ProviderError::Rejected { code: "smtp_client".into(), message },
            Failure::Transient(message) | Failure::Network(message) => {
                ProviderError::Retryable { after: None, message }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host: &str, security: Security) -> EmailConfig {
        EmailConfig {
            host: host.into(),
            port: 2525,
            security,
            from: "a@example.com".into(),
            recipients: vec!["b@example.com".into()],
            reply_to: None,
        }
    }

    #[tokio::test]
    async fn loopback_and_private_addresses_are_refused_unless_developing() {
        let strict = EmailSettings::default();
        let dev = EmailSettings { allow_insecure_smtp: true, ..EmailSettings::default() };
        let loopback = config("127.0.0.1", Security::Starttls);
        assert!(matches!(checked_address(&loopback, &strict).await, Err(Unusable::Forbidden { .. })));
        assert_eq!(checked_address(&loopback, &dev).await.unwrap(), "127.0.0.1:2525".parse().unwrap());
        // The switch never opens private ranges or metadata endpoints.
        for host in ["10.0.0.1", "169.254.169.254", "::ffff:192.168.1.1"] {
            let private = config(host, Security::Starttls);
            assert!(
                matches!(checked_address(&private, &dev).await, Err(Unusable::Forbidden { .. })),
                "{host}"
            );
        }
    }

    #[tokio::test]
    async fn plaintext_needs_the_switch() {
        let plain = config("127.0.0.1", Security::None);
        assert!(matches!(checked_address(&plain, &EmailSettings::default()).await, Err(Unusable::Insecure)));
        let dev = EmailSettings { allow_insecure_smtp: true, ..EmailSettings::default() };
        assert!(checked_address(&plain, &dev).await.is_ok());
    }

    #[test]
    fn bad_extra_roots_are_named() {
        let settings = EmailSettings {
            allow_insecure_smtp: false,
            extra_root_certificates: vec![
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into(),
            ],
        };
        assert!(matches!(tls_parameters("example.com", &settings), Err(Unusable::BadRootCertificates(_))));
        assert!(tls_parameters("example.com", &EmailSettings::default()).is_ok());
    }
}
