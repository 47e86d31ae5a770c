//! The dashboard in a real browser (Debian's Chromium through playwright-core): a person signs in
//! with a password, turns on TOTP and signs in again with a code the test computes, connects a
//! sandbox channel, composes and schedules a post and watches it reach `published`, creates
//! an API key whose secret is shown once, then adds a passkey with Chromium's virtual
//! authenticator (DevTools WebAuthn domain), signs in with it alone, uses it as the second factor
//! after the password and removes it — on a phone-sized screen, with no console error, no CSP
//! violation and no serious or critical axe-core finding. Screenshots are kept in
//! `target/browser-artifacts/`. Runs once per suite, against `crier serve` on embedded SQLite.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Served, crier, run_ok};

const PASSWORD: &str = "a long browser test password";

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crier-testkit/peers/browser")
}

#[test]
fn a_person_signs_in_with_totp_publishes_and_makes_a_key_in_chromium() {
    let peer = peer_dir();
    assert!(
        peer.join("node_modules/playwright-core").exists(),
        "the browser peer is not installed: run scripts/test (npm ci in {})",
        peer.display()
    );
    let chromium = std::env::var("CRIER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        PathBuf::from(&chromium).exists(),
        "no Chromium at {chromium}: run scripts/test (apt-get install chromium)"
    );

    let cwd = tempfile::tempdir().unwrap();
    let workspace = run_ok(crier(cwd.path()).args(["workspace", "create", "Browser"]));
    run_ok(
        crier(cwd.path())
            .args(["user", "create", "--workspace", &workspace, "--email", "owner@example.com", "--owner"])
            .env("CRIER_USER_PASSWORD", PASSWORD),
    );
    let served = Served::start(crier(cwd.path()));
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");

    let out = Command::new("node")
        .arg(peer.join("dashboard.mjs"))
        .current_dir(&peer)
        // WebAuthn needs a domain name for the relying party: `localhost`, not 127.0.0.1.
        .env("CRIER_URL", served.base.replace("127.0.0.1", "localhost"))
        .env("CRIER_EMAIL", "owner@example.com")
        .env("CRIER_PASSWORD", PASSWORD)
        .env("ARTIFACTS", &artifacts)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = served.stop();
    assert!(out.status.success(), "the browser run failed:\n{stderr}\n--- crier log ---\n{log}");
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(seen["ok"], true);
    let key = seen["key"].as_str().unwrap();
    assert!(!log.contains(key), "the key's secret reached the log");
    assert!(!log.contains(PASSWORD), "the password reached the log");
}
