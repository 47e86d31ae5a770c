//! A webhook receiver for tests: `peers/webhook_receiver.py`, which verifies every delivery with
//! the official `standardwebhooks` library (PyPI; `scripts/test` installs it), run as a child
//! process and killed on drop.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test support")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

pub struct Receiver {
    child: Child,
    pub base: String,
    http: reqwest::Client,
}

impl Receiver {
    pub fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/webhook_receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the receiver (scripts/test installs standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("PORT ").unwrap_or_else(|| panic!("receiver said {line:?}"));
        Self { child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() }
    }

    pub fn url(&self) -> String {
        format!("{}/hook", self.base)
    }

    pub async fn control(&self, config: Value) {
        let done = self.http.post(format!("{}/_control", self.base)).json(&config).send().await.unwrap();
        assert_eq!(done.status(), StatusCode::NO_CONTENT);
    }

    pub async fn received(&self) -> Vec<Value> {
        let got = self.http.get(format!("{}/_received", self.base)).send().await.unwrap();
        got.json::<Vec<Value>>().await.unwrap()
    }

    /// Every delivery so far verified; returns them.
    pub async fn all_verified(&self) -> Vec<Value> {
        let received = self.received().await;
        for r in &received {
            assert_eq!(r["verified"], true, "an unverifiable delivery: {r}");
        }
        received
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
