//! An SMTP server for tests: `peers/smtp_peer.py` on aiosmtpd (PyPI; `scripts/test` installs
//! it), run as a child process and killed on drop. It requires STARTTLS and AUTH (PLAIN or
//! LOGIN, only offered over TLS), or, started with [`SmtpPeer::start_implicit_tls`], speaks TLS
//! from the first byte (SMTPS) and requires AUTH. Its certificate is self-signed for `localhost`
//! and 127.0.0.1, made at start with the `openssl` command; a client trusts it through
//! [`SmtpPeer::cert_pem`]. Every accepted message is kept for [`SmtpPeer::messages`].

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test support")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_tos: Vec<String>,
    /// The message as sent after `DATA` (dot-unstuffed, CRLF line ends).
    pub data: Vec<u8>,
    /// The login the session authenticated with.
    pub auth_login: Option<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
}

pub struct SmtpPeer {
    child: Child,
    port: u16,
    username: String,
    password: String,
    cert_pem: String,
    implicit_tls: bool,
    dir: tempfile::TempDir,
}

impl SmtpPeer {
    /// Plain SMTP on 127.0.0.1 requiring STARTTLS, then AUTH.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// SMTPS: TLS from the first byte, then AUTH.
    pub fn start_implicit_tls() -> Self {
        Self::launch(true)
    }

    fn launch(implicit_tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let out = dir.path().join("mail");
        std::fs::create_dir(&out).unwrap();
        make_certificate(&cert, &key);
        let username = "crier-test".to_owned();
        let password = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>());

        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/smtp_peer.py");
        let mut command = Command::new("python3");
        command.arg(script).arg("--cert").arg(&cert).arg("--key").arg(&key).arg("--out").arg(&out);
        if implicit_tls {
            command.arg("--implicit-tls");
        }
        let mut child = command
            .env("CRIER_SMTP_PEER_USERNAME", &username)
            .env("CRIER_SMTP_PEER_PASSWORD", &password)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the SMTP peer (scripts/test installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP peer said {line:?} (is aiosmtpd installed?)"));
        let cert_pem = std::fs::read_to_string(&cert).unwrap();
        Self { child, port, username, password, cert_pem, implicit_tls, dir }
    }

    /// The name to connect to and to check the certificate against.
    pub fn host(&self) -> &str {
        "localhost"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's self-signed certificate (PEM), the one root a client needs to trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Whether this peer speaks TLS from the first byte (SMTPS) rather than STARTTLS.
    pub fn implicit_tls(&self) -> bool {
        self.implicit_tls
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let out = self.dir.path().join("mail");
        let mut metas: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        metas.sort();
        metas
            .into_iter()
            .map(|meta_path| {
                let meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
                let data = std::fs::read(meta_path.with_extension("eml")).unwrap();
                ReceivedMail {
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: meta["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                    data,
                    auth_login: meta["auth_login"].as_str().map(str::to_owned),
                    tls: meta["tls"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    }

    /// Waits until at least `count` messages have arrived, polling until `timeout`; panics then.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP peer got {} message(s) within {timeout:?}, expected {count}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed end-entity certificate for `localhost` and 127.0.0.1 (P-256). Not a CA
/// (`CA:FALSE`): webpki refuses a CA certificate as a server's own.
fn make_certificate(cert: &Path, key: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .args([
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=critical,digitalSignature",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .output()
        .expect("the openssl command is installed (Debian: openssl)");
    assert!(out.status.success(), "openssl failed: {}", String::from_utf8_lossy(&out.stderr));
}
