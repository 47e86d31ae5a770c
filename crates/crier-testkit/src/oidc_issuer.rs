//! A real OpenID Connect issuer as a test peer: `peers/oidc/issuer.mjs` (npm `oidc-provider`,
//! installed by `scripts/test` with `npm ci`), on an ephemeral port of 127.0.0.1. Its login form
//! accepts any password; see the script for the accounts it makes up from the login name.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the issuer may take to start listening.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The running issuer; stopped when dropped.
pub struct OidcIssuer {
    /// Its issuer URL (`http://127.0.0.1:PORT`, no trailing slash).
    pub url: String,
    child: Child,
}

impl OidcIssuer {
    /// Starts an issuer with one confidential client allowed to come back to `redirect_uris`.
    pub fn start(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/oidc");
        let mut child = Command::new("node")
            .current_dir(dir)
            .arg("issuer.mjs")
            .args([client_id, client_secret])
            .args(redirect_uris)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the OIDC issuer (scripts/test installs it: npm ci in peers/oidc)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading: the issuer's notices would hit a closed pipe and stop it.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(READY_WITHIN) {
            Ok(line) if line.starts_with("http") => line,
            other => {
                let _ = child.kill();
                panic!("the OIDC issuer did not start (is peers/oidc installed?): {other:?}");
            }
        };
        Self { url: line.trim().to_owned(), child }
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
