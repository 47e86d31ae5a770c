//! Runs the real `crier` binary: one-shot commands, and `crier serve` as a child process whose
//! log is collected so tests can read the port it bound and scan what it printed.

#![allow(dead_code, reason = "each test binary uses a different part of this module")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_crier");

/// A `crier` command with no CRIER_* setting inherited from the developer's shell.
pub fn crier(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("CRIER_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs a one-shot command and returns its standard output, failing the test on a non-zero exit.
pub fn run_ok(command: &mut Command) -> String {
    let out = command.output().expect("crier runs");
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

pub struct Served {
    child: Child,
    pub base: String,
    log: Arc<Mutex<String>>,
}

/// Spawns `command` with its stderr collected into a log; `ready` picks the line (and the value
/// in it) that says the process is up.
fn spawn_logged(
    mut command: Command,
    ready: fn(&str) -> Option<String>,
) -> (Child, Arc<Mutex<String>>, std::sync::mpsc::Receiver<String>) {
    command.arg("serve").stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("crier serve starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(value) = ready(&line) {
                let _ = tx.send(value);
            }
            let mut log = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            log.push_str(&line);
            log.push('\n');
        }
    });
    (child, log, rx)
}

impl Served {
    /// Starts `crier serve` (on a free port unless CRIER_LISTEN is set) and waits (up to 30 s)
    /// until it says where it listens.
    pub fn start(mut command: Command) -> Self {
        if !command.get_envs().any(|(name, _)| name == "CRIER_LISTEN") {
            command.env("CRIER_LISTEN", "127.0.0.1:0");
        }
        let (child, log, rx) = spawn_logged(command, |line| {
            let at = line.find("listening on http://")?;
            Some(line[at + "listening on ".len()..].split_whitespace().next().unwrap_or("").to_owned())
        });
        Self::wait(child, log, rx)
    }

    /// Starts `crier serve --role worker` (no HTTP) and waits until it says it started.
    pub fn start_worker(command: Command) -> Self {
        let (child, log, rx) =
            spawn_logged(command, |line| line.contains("worker started").then(String::new));
        Self::wait(child, log, rx)
    }

    fn wait(mut child: Child, log: Arc<Mutex<String>>, rx: std::sync::mpsc::Receiver<String>) -> Self {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => Self { child, base, log },
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "crier serve did not start; log:\n{}",
                    log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
                );
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends SIGTERM and waits for a clean exit; returns the whole log.
    pub fn stop(mut self) -> String {
        let status =
            Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "crier serve exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "crier serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader thread drains the pipe once the process is gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log().contains("Crier stopped") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.log()
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` as `key`, the body as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> serde_json::Value {
    let response = http.get(url).bearer_auth(key).send().await.expect("request sent");
    response.json().await.expect("a JSON body")
}

/// POST `body` to `url` as `key`, the answer as JSON.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let response = http.post(url).bearer_auth(key).json(body).send().await.expect("request sent");
    response.json().await.expect("a JSON body")
}
