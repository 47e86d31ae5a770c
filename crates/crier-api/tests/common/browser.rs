//! A browser for the dashboard's HTTP tests: keeps cookies, follows nothing, fills in CSRF
//! tokens; and the people it signs in as.

#![expect(clippy::unwrap_used, reason = "test support: a failed step should stop the test loudly")]

use std::collections::HashMap;

use crier_api::ApiConfig;
use crier_core::{Actor, Clock, NewAuditEvent, Role, User, WorkspaceId};
use crier_testkit::Backend;
use reqwest::StatusCode;

use super::Server;

pub const PASSWORD: &str = "correct horse battery staple";
pub const COOKIE: &str = "__Host-crier_session";

pub async fn start(backend: Backend) -> Server {
    let config =
        ApiConfig { public_url: Some("https://crier.example".parse().unwrap()), ..ApiConfig::default() };
    Server::start_with(backend, config).await
}

pub async fn person(server: &Server, workspace: WorkspaceId, email: &str, role: Role) -> User {
    let user = User {
        id: uuid::Uuid::now_v7(),
        email: email.into(),
        password_hash: crier_api::oauth::hash_password(PASSWORD).unwrap(),
        created_at: server.clock.now(),
        totp: None,
    };
    let audit = NewAuditEvent::new(
        server.clock.now(),
        Actor::cli(),
        "user.created",
        user.id.to_string(),
        &Default::default(),
    );
    server.db.store.create_user(&user, workspace, role.as_str(), &audit).await.unwrap();
    user
}

/// A browser: keeps cookies, follows nothing, and says where its forms come from.
pub struct Browser<'a> {
    pub server: &'a Server,
    pub http: reqwest::Client,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The value of the first `name="csrf"` field on the page.
    pub fn csrf(&self) -> String {
        field(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

pub fn field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a Server) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { server, http, cookies: HashMap::new() }
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = request.header("cookie", cookie.join("; ")).send().await.unwrap();
        let set_cookies: Vec<String> =
            response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for line in &set_cookies {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            location: response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()),
            set_cookies,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.server.url(path));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(self.server.url(path)).header("origin", &self.server.base).form(form);
        self.send(request).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let csrf = self.get("/login").await.csrf();
        self.post("/login", &[("csrf", &csrf), ("email", email), ("password", password)]).await
    }

    /// Signs in and lands on the posts page.
    pub async fn signed_in(server: &'a Server, email: &str) -> Self {
        let mut browser = Browser::new(server);
        let page = browser.sign_in(email, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/"));
        browser
    }

    /// A script's JSON request, with the session's token in `x-csrf-token` when given.
    pub async fn post_json(&mut self, path: &str, csrf: Option<&str>, body: serde_json::Value) -> Page {
        let mut request =
            self.http.post(self.server.url(path)).header("origin", &self.server.base).json(&body);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        self.send(request).await
    }

    /// The CSRF token of this session (from any signed-in page).
    pub async fn csrf(&mut self) -> String {
        self.get("/security").await.csrf()
    }
}

pub fn totp_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let generator = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into()).unwrap();
    generator.generate(u64::try_from(at.timestamp()).unwrap())
}
