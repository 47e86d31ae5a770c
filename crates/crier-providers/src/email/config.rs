//! What an e-mail channel is: the relay and how to reach it, the sender, the recipients (stored
//! in the clear), and the relay's login (sealed in the vault).

use std::net::IpAddr;

use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::TargetIssue;

/// Most recipients of one channel, or of one target's override. Every one is on the same message.
pub const MAX_RECIPIENTS: usize = 100;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP upgraded with STARTTLS before anything else; refused if the relay cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption at all: development only (`EmailSettings::allow_insecure_smtp`).
    None,
}

impl Security {
    /// The submission port each mode is usually found on.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

/// A channel's settings, as stored (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// `Name <address>` or a bare address: the message's From and the envelope sender.
    pub from: String,
    pub recipients: Vec<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// The relay's login, sealed. Both or neither: a relay that takes mail without AUTH (one that
/// trusts the sender's address) has none.
#[derive(Serialize, Deserialize)]
pub(super) struct SmtpLogin {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `POST /v1/channels/connect {provider: "email", …}`. No `Debug`: it holds the password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectParams {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
    pub recipients: Vec<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
}

impl ConnectParams {
    /// The settings to store, tidied (the host lower-cased and without brackets, the port filled
    /// in), and the login to seal.
    pub fn split(self) -> (EmailConfig, SmtpLogin) {
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let config = EmailConfig {
            host: normalise_host(&self.host),
            port: self.port.unwrap_or_else(|| self.security.default_port()),
            security: self.security,
            from: self.from.trim().to_owned(),
            recipients: self.recipients.iter().map(|r| r.trim().to_owned()).collect(),
            reply_to: non_empty(self.reply_to.map(|r| r.trim().to_owned())),
        };
        let login = SmtpLogin { username: non_empty(self.username), password: non_empty(self.password) };
        (config, login)
    }
}

fn normalise_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => inner.to_owned(),
        None => host,
    }
}

/// A DNS name or an IP address: what the relay is connected to and its certificate checked for.
fn valid_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A mailbox (`Name <address>` or `address`), as lettre reads it.
pub(super) fn mailbox(value: &str) -> Result<Mailbox, String> {
    value.trim().parse::<Mailbox>().map_err(|err| format!("{value:?} is not an e-mail address: {err}"))
}

/// Every problem with a list of recipients, at `{pointer}` and `{pointer}/{i}`.
pub(super) fn check_recipients(recipients: &[String], pointer: &str) -> Vec<TargetIssue> {
    let mut issues = Vec::new();
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        issues.push(TargetIssue::new(
            pointer,
            format!("{} recipients; give 1 to {MAX_RECIPIENTS}", recipients.len()),
        ));
    }
    for (i, recipient) in recipients.iter().enumerate() {
        if let Err(message) = mailbox(recipient) {
            issues.push(TargetIssue::new(&format!("{pointer}/{i}"), message));
        }
    }
    issues
}

impl EmailConfig {
    /// Every problem with these settings; `allow_insecure` is the deployment's development switch.
    pub fn check(&self, allow_insecure: bool) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        if !valid_host(&self.host) {
            issues
                .push(TargetIssue::new("/host", format!("{:?} is not a host name or IP address", self.host)));
        }
        if self.port == 0 {
            issues.push(TargetIssue::new("/port", "the port must be 1 to 65535"));
        }
        if self.security == Security::None && !allow_insecure {
            issues.push(TargetIssue::new(
                "/security",
                "plaintext SMTP would send the password and the mail unencrypted; use \"starttls\" or \"tls\"",
            ));
        }
        if let Err(message) = mailbox(&self.from) {
            issues.push(TargetIssue::new("/from", message));
        }
        issues.extend(check_recipients(&self.recipients, "/recipients"));
        if let Some(reply_to) = &self.reply_to
            && let Err(message) = mailbox(reply_to)
        {
            issues.push(TargetIssue::new("/reply_to", message));
        }
        issues
    }
}

impl SmtpLogin {
    /// A user name without a password (or the reverse) is a mistake, not an anonymous relay.
    pub fn check(&self) -> Option<TargetIssue> {
        match (&self.username, &self.password) {
            (Some(_), None) => Some(TargetIssue::new("/password", "a user name needs its password")),
            (None, Some(_)) => Some(TargetIssue::new("/username", "a password needs its user name")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EmailConfig {
        EmailConfig {
            host: "smtp.example.com".into(),
            port: 587,
            security: Security::Starttls,
            from: "Crier <news@example.com>".into(),
            recipients: vec!["a@example.net".into(), "B <b@example.org>".into()],
            reply_to: None,
        }
    }

    fn pointers(issues: &[TargetIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.pointer.as_str()).collect()
    }

    #[test]
    fn a_good_config_passes() {
        assert!(config().check(false).is_empty());
        let ip = EmailConfig { host: "2001:db8::1".into(), ..config() };
        assert!(ip.check(false).is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = EmailConfig {
            host: "smtp example.com".into(),
            port: 0,
            security: Security::None,
            from: "not an address".into(),
            recipients: vec!["ok@example.com".into(), "nope".into()],
            reply_to: Some("@".into()),
        };
        assert_eq!(
            pointers(&bad.check(false)),
            ["/host", "/port", "/security", "/from", "/recipients/1", "/reply_to"]
        );
        assert!(!pointers(&bad.check(true)).contains(&"/security"));
        let none = EmailConfig { recipients: Vec::new(), ..config() };
        assert_eq!(pointers(&none.check(false)), ["/recipients"]);
        let many = EmailConfig { recipients: vec!["a@example.com".into(); 101], ..config() };
        assert_eq!(pointers(&many.check(false)), ["/recipients"]);
    }

    #[test]
    fn hosts_are_tidied_and_ports_defaulted() {
        let params: ConnectParams = serde_json::from_value(serde_json::json!({
            "host": " SMTP.Example.COM. ", "security": "tls", "from": "a@example.com",
            "recipients": [" b@example.com "], "username": "", "password": ""
        }))
        .unwrap();
        let (config, login) = params.split();
        assert_eq!((config.host.as_str(), config.port), ("smtp.example.com", 465));
        assert_eq!(config.recipients, ["b@example.com"]);
        assert!(login.username.is_none() && login.password.is_none());
        assert_eq!(normalise_host("[::1]"), "::1");
    }

    #[test]
    fn a_login_is_both_or_neither() {
        let login = |u: Option<&str>, p: Option<&str>| SmtpLogin {
            username: u.map(str::to_owned),
            password: p.map(str::to_owned),
        };
        assert!(login(None, None).check().is_none());
        assert!(login(Some("u"), Some("p")).check().is_none());
        assert_eq!(login(Some("u"), None).check().unwrap().pointer, "/password");
        assert_eq!(login(None, Some("p")).check().unwrap().pointer, "/username");
    }
}
