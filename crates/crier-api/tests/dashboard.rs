//! The dashboard's people side over real HTTP: sign-in, the second factor, session cookies and
//! expiry, revoking, CSRF, throttling, and the role table of docs/PEOPLE.md checked cell by cell.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::HashMap;

use chrono::Duration;
use common::Server;
use crier_api::ApiConfig;
use crier_core::{Actor, Clock, NewAuditEvent, Role, User, WorkspaceId};
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    backend: sign_in_sets_a_hardened_cookie_and_unknown_and_wrong_passwords_look_the_same,
    repeated_failures_are_throttled_even_with_the_right_password,
    the_second_factor_is_owed_before_anything_opens_and_each_code_works_once,
    sessions_end_when_idle_or_at_their_absolute_end,
    a_session_revoked_from_another_is_signed_out,
    forms_without_the_token_or_from_another_site_are_refused_and_change_nothing,
    every_role_can_do_exactly_what_the_documented_table_says,
    an_invitation_link_works_once_for_a_new_or_an_existing_person,
    a_new_password_ends_the_other_sessions,
    a_workspace_requiring_a_second_factor_opens_only_its_set_up,
    a_webhook_secret_is_shown_once_and_test_sends_and_the_audit_log_are_listed,
    a_platform_account_is_connected_from_the_channels_page,
    an_api_key_is_rotated_with_its_new_secret_shown_once,
);

const PASSWORD: &str = "correct horse battery staple";
const COOKIE: &str = "__Host-crier_session";

async fn start(backend: Backend) -> Server {
    let config =
        ApiConfig { public_url: Some("https://crier.example".parse().unwrap()), ..ApiConfig::default() };
    Server::start_with(backend, config).await
}

async fn person(server: &Server, workspace: WorkspaceId, email: &str, role: Role) -> User {
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
struct Browser<'a> {
    server: &'a Server,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Page {
    /// The value of the first `name="csrf"` field on the page.
    fn csrf(&self) -> String {
        field(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

fn field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    Some(body[start..].split('"').next()?.to_owned())
}

impl<'a> Browser<'a> {
    fn new(server: &'a Server) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { server, http, cookies: HashMap::new() }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
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

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.server.url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(self.server.url(path)).header("origin", &self.server.base).form(form);
        self.send(request).await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let csrf = self.get("/login").await.csrf();
        self.post("/login", &[("csrf", &csrf), ("email", email), ("password", password)]).await
    }

    /// Signs in and lands on the posts page.
    async fn signed_in(server: &'a Server, email: &str) -> Self {
        let mut browser = Browser::new(server);
        let page = browser.sign_in(email, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/"));
        browser
    }

    /// The CSRF token of this session (from any signed-in page).
    async fn csrf(&mut self) -> String {
        self.get("/security").await.csrf()
    }
}

fn totp_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let generator = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into()).unwrap();
    generator.generate(u64::try_from(at.timestamp()).unwrap())
}

async fn sign_in_sets_a_hardened_cookie_and_unknown_and_wrong_passwords_look_the_same(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;

    let mut anonymous = Browser::new(&server);
    let home = anonymous.get("/").await;
    assert_eq!((home.status, home.location.as_deref()), (StatusCode::SEE_OTHER, Some("/login")));

    let mut browser = Browser::new(&server);
    let login = browser.get("/login").await;
    assert!(login.set_cookies.iter().any(|c| c.starts_with("crier_login_csrf=") && c.contains("HttpOnly")));
    let csrf = login.csrf();
    let wrong = browser
        .post("/login", &[("csrf", &csrf), ("email", "owner@example.com"), ("password", "wrong password!")])
        .await;
    let unknown = browser
        .post("/login", &[("csrf", &csrf), ("email", "nobody@example.com"), ("password", "wrong password!")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(
        unknown.body.replace("nobody@example.com", "X"),
        wrong.body.replace("owner@example.com", "X"),
        "the same page whether or not the account exists"
    );
    assert!(wrong.body.contains("do not match an account"), "{}", wrong.body);
    assert!(!browser.cookies.contains_key(COOKIE), "no session for a failure");

    let page = browser
        .post("/login", &[("csrf", &csrf), ("email", "Owner@Example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let cookie = page.set_cookies.iter().find(|c| c.starts_with(COOKIE)).expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    assert!(!cookie.contains("Domain="), "__Host- cookies have no Domain");
    let value = &browser.cookies[COOKIE];
    let stored = server.db.store.find_session(&crier_api::oauth::secret_hash(value)).await.unwrap();
    assert!(stored.is_some(), "only the hash is stored, and it finds the session");
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("owner@example.com (owner)"));
    let csp = reqwest::Client::new().get(server.url("/login")).send().await.unwrap();
    let policy = csp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    let actions = audit_actions(&server, seeded.workspace).await;
    assert!(
        actions.contains(&"user.login_failed".to_owned()) && actions.contains(&"user.login".to_owned()),
        "{actions:?}"
    );
}

async fn audit_actions(server: &Server, workspace: WorkspaceId) -> Vec<String> {
    let events = server.db.store.list_audit_events(workspace, 0, 500).await.unwrap();
    events.into_iter().map(|e| e.action).collect()
}

async fn repeated_failures_are_throttled_even_with_the_right_password(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let mut browser = Browser::new(&server);
    for _ in 0..5 {
        let page = browser.sign_in("owner@example.com", "not the password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let page = browser.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("Too many failed sign-ins. Wait 15 minutes"), "{}", page.body);
    // An unknown address is throttled the same way, so throttling tells nothing either.
    for _ in 0..5 {
        browser.sign_in("nobody@example.com", "not the password").await;
    }
    assert_eq!(browser.sign_in("nobody@example.com", "x").await.status, StatusCode::TOO_MANY_REQUESTS);
    server.clock.advance(Duration::minutes(16));
    let page = browser.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "the window passed");
}

async fn the_second_factor_is_owed_before_anything_opens_and_each_code_works_once(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let mut browser = Browser::signed_in(&server, "owner@example.com").await;

    // Turn TOTP on: a wrong code first, then the app's code.
    let setup = browser.get("/security/totp").await;
    assert!(setup.body.contains("data:image/png;base64,"), "a QR code");
    let secret = field(&setup.body, "secret").unwrap();
    let csrf = setup.csrf();
    let refused =
        browser.post("/security/totp", &[("csrf", &csrf), ("secret", &secret), ("code", "000000")]).await;
    assert!(refused.body.contains("does not match"));
    let code = totp_code(&secret, server.clock.now());
    let enabled =
        browser.post("/security/totp", &[("csrf", &csrf), ("secret", &secret), ("code", &code)]).await;
    assert_eq!(enabled.status, StatusCode::OK);
    let recovery: Vec<String> = enabled
        .body
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10, "{}", enabled.body);

    // Signing in again now stops at the second factor, with a session that opens nothing else.
    let mut second = Browser::new(&server);
    let page = second.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/second-factor"));
    let pending_cookie = second.cookies[COOKIE].clone();
    assert_eq!(second.get("/").await.location.as_deref(), Some("/login"), "the posts page is closed");
    let form = second.get("/login/second-factor").await;
    let csrf = form.csrf();
    let reused = second.post("/login/second-factor", &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "the code used to turn TOTP on is spent");
    server.clock.advance(Duration::seconds(30));
    let fresh = totp_code(&secret, server.clock.now());
    let done = second.post("/login/second-factor", &[("csrf", &csrf), ("code", &fresh)]).await;
    assert_eq!((done.status, done.location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert_ne!(second.cookies[COOKIE], pending_cookie, "the id is replaced once every factor is in");
    assert!(
        server
            .db
            .store
            .find_session(&crier_api::oauth::secret_hash(&pending_cookie))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(second.get("/").await.status, StatusCode::OK);

    // A recovery code works once.
    let mut third = Browser::new(&server);
    third.sign_in("owner@example.com", PASSWORD).await;
    let csrf = third.get("/login/second-factor").await.csrf();
    let used =
        third.post("/login/second-factor", &[("csrf", &csrf), ("code", &recovery[0].to_uppercase())]).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER);
    let mut fourth = Browser::new(&server);
    fourth.sign_in("owner@example.com", PASSWORD).await;
    let csrf = fourth.get("/login/second-factor").await.csrf();
    let again = fourth.post("/login/second-factor", &[("csrf", &csrf), ("code", &recovery[0])]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let actions = audit_actions(&server, seeded.workspace).await;
    for action in ["user.totp_enabled", "user.second_factor_failed", "user.login"] {
        assert!(actions.contains(&action.to_owned()), "{action} not audited: {actions:?}");
    }
}

async fn sessions_end_when_idle_or_at_their_absolute_end(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let policy = crier_core::SessionPolicy::default();

    let mut idle = Browser::signed_in(&server, "owner@example.com").await;
    let mut active = Browser::signed_in(&server, "owner@example.com").await;
    // The active one is used every 20 days; the idle one is not.
    for _ in 0..4 {
        server.clock.advance(Duration::days(20));
        assert_eq!(active.get("/").await.status, StatusCode::OK, "in use, within its lifetime");
    }
    assert_eq!(idle.get("/").await.location.as_deref(), Some("/login"), "idle past 30 days");
    server.clock.advance(policy.absolute - Duration::days(80));
    assert_eq!(
        active.get("/").await.location.as_deref(),
        Some("/login"),
        "90 days after sign-in, however active"
    );
}

async fn a_session_revoked_from_another_is_signed_out(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    let owner = person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let mut laptop = Browser::signed_in(&server, "owner@example.com").await;
    let mut phone = Browser::signed_in(&server, "owner@example.com").await;
    let phone_session = server
        .db
        .store
        .find_session(&crier_api::oauth::secret_hash(&phone.cookies[COOKIE]))
        .await
        .unwrap()
        .unwrap();
    let page = laptop.get("/security").await;
    assert!(page.body.contains(&phone_session.id.to_string()), "the phone is listed");
    let csrf = page.csrf();
    let revoked =
        laptop.post(&format!("/security/sessions/{}/revoke", phone_session.id), &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/").await.location.as_deref(), Some("/login"));
    assert_eq!(laptop.get("/").await.status, StatusCode::OK);
    let sessions = server.db.store.list_sessions(owner.id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    // Another person's session id is not yours to end.
    person(&server, seeded.workspace, "other@example.com", Role::Admin).await;
    let mut other = Browser::signed_in(&server, "other@example.com").await;
    let csrf = other.csrf().await;
    let page = other.post(&format!("/security/sessions/{}/revoke", sessions[0].id), &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(laptop.get("/").await.status, StatusCode::OK);
}

async fn forms_without_the_token_or_from_another_site_are_refused_and_change_nothing(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let mut browser = Browser::signed_in(&server, "owner@example.com").await;
    let mut other = Browser::signed_in(&server, "owner@example.com").await;
    let others_token = other.csrf().await;
    for form in [
        vec![("name", "x")],
        vec![("name", "x"), ("csrf", "forged")],
        vec![("name", "x"), ("csrf", &others_token)],
    ] {
        let page = browser.post("/channels", &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{form:?}");
        assert!(page.body.contains("This form has expired"), "{}", page.body);
    }
    let csrf = browser.csrf().await;
    let cross_site = browser
        .send(
            browser
                .http
                .post(server.url("/channels"))
                .header("origin", "https://evil.example")
                .form(&[("csrf", csrf.as_str()), ("name", "x")]),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let login_without_cookie = Browser::new(&server)
        .post("/login", &[("csrf", "lgn_guess"), ("email", "owner@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(login_without_cookie.status, StatusCode::FORBIDDEN, "login CSRF");
    let channels = server.get("/v1/channels", &seeded.admin_key).await;
    assert_eq!(channels.body["data"], json!([]), "nothing was created");
    // With the token, the same form works.
    let page = browser.post("/channels", &[("csrf", &csrf), ("name", "sandbox one")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(server.get("/v1/channels", &seeded.admin_key).await.body["data"].as_array().unwrap().len(), 1);
}

/// One row of the table in docs/PEOPLE.md.
struct Row {
    action: String,
    method: String,
    path: String,
    allowed: [bool; 4],
}

fn documented_table() -> Vec<Row> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PEOPLE.md")).unwrap();
    let start = doc.find("| action | request | owner | admin | member | viewer |").expect("the role table");
    doc[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let (method, path) = cells[1].split_once(' ').unwrap();
            let allowed = [2, 3, 4, 5].map(|i| match cells[i] {
                "yes" => true,
                "no" => false,
                other => panic!("`{other}` in the role table"),
            });
            Row { action: cells[0].to_owned(), method: method.to_owned(), path: path.to_owned(), allowed }
        })
        .collect()
}

async fn every_role_can_do_exactly_what_the_documented_table_says(backend: Backend) {
    let server = start(backend).await;
    let table = documented_table();
    assert!(table.len() >= 10, "the table was read");
    for (column, role) in Role::ALL.into_iter().enumerate() {
        // A fresh workspace per role: earlier actions do not change what later ones find.
        let seeded = server.seed(role.as_str()).await;
        let me = format!("{role}@example.com");
        person(&server, seeded.workspace, &me, role).await;
        let member =
            person(&server, seeded.workspace, &format!("member-of-{role}@example.com"), Role::Member).await;
        let mut browser = Browser::signed_in(&server, &me).await;
        let csrf = browser.csrf().await;
        for row in &table {
            // Each action gets things of its own to act on.
            let channel = server.sandbox(&seeded.admin_key, json!({})).await;
            let post = server
                .post("/v1/posts", &seeded.admin_key, json!({"text": "hi", "targets": [{"channel_id": channel}], "scheduled_at": (server.clock.now() + Duration::days(1)).to_rfc3339()}))
                .await
                .body["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let (path, query) = row.path.split_once('?').unwrap_or((&row.path, ""));
            // A channel with no posts, which may be disconnected.
            let spare = server.sandbox(&seeded.admin_key, json!({})).await;
            let path = path
                .replace("{post}", &post)
                .replace("{channel}", &spare)
                .replace("{member}", &member.id.to_string());
            let page = if row.method == "GET" {
                browser.get(&path).await
            } else {
                let role_value = if query == "owner" { "owner" } else { "viewer" };
                let invitee = format!("invitee-{}@example.com", uuid::Uuid::now_v7());
                let form: Vec<(&str, &str)> = vec![
                    ("csrf", &csrf),
                    ("name", "made by the role test"),
                    ("text", "hello"),
                    ("channel", &channel),
                    ("scope", "posts:read"),
                    ("role", role_value),
                    ("idempotency_key", "role-test"),
                    ("email", &invitee),
                    ("url", "https://93.184.215.14/hook"),
                ];
                browser.post(&path, &form).await
            };
            let done = matches!(page.status, StatusCode::OK | StatusCode::SEE_OTHER | StatusCode::CREATED)
                && page.location.as_deref() != Some("/login");
            let expected = row.allowed[column];
            assert_eq!(
                done,
                expected,
                "{role} / {} ({} {path}): got {} {}",
                row.action,
                row.method,
                page.status,
                &page.body[..page.body.len().min(400)]
            );
            if !expected {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{role} / {}: refused as 403", row.action);
            }
            // Put the member back for the next row.
            server
                .db
                .store
                .set_member_role(
                    seeded.workspace,
                    member.id,
                    Role::Member,
                    &NewAuditEvent::new(
                        server.clock.now(),
                        Actor::cli(),
                        "reset",
                        String::new(),
                        &Default::default(),
                    ),
                )
                .await
                .unwrap();
        }
    }
}

/// The invitation link on the page that answers the invite form.
fn invitation_link(page: &Page) -> String {
    let marker = "id=\"invite-link\" class=\"secret\" readonly value=\"";
    let start = page.body.find(marker).unwrap_or_else(|| panic!("no link in {}", page.body)) + marker.len();
    page.body[start..].split('"').next().unwrap().to_owned()
}

async fn an_invitation_link_works_once_for_a_new_or_an_existing_person(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    let other = server.seed("other").await;
    person(&server, seeded.workspace, "admin@example.com", Role::Admin).await;
    let carol = person(&server, other.workspace, "carol@example.com", Role::Owner).await;
    let mut admin = Browser::signed_in(&server, "admin@example.com").await;
    let csrf = admin.csrf().await;
    let owner_invite = admin
        .post("/members/invite", &[("csrf", &csrf), ("email", "x@example.com"), ("role", "owner")])
        .await;
    assert_eq!(owner_invite.status, StatusCode::FORBIDDEN, "admins do not make owners");
    let page = admin
        .post("/members/invite", &[("csrf", &csrf), ("email", "New@Example.com"), ("role", "member")])
        .await;
    let link = invitation_link(&page);
    let path = link.strip_prefix("https://crier.example").expect("the link is on the public URL");
    assert!(!admin.get("/members").await.body.contains(path), "the link is shown once");

    // A new person chooses a password and is signed in as a member.
    let mut newcomer = Browser::new(&server);
    let form = newcomer.get(path).await;
    assert!(
        form.body.contains("new@example.com") && form.body.contains("Choose a password"),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    let short = newcomer.post(path, &[("csrf", &csrf), ("password", "short"), ("confirm", "short")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let joined = newcomer.post(path, &[("csrf", &csrf), ("password", PASSWORD), ("confirm", PASSWORD)]).await;
    assert_eq!(
        (joined.status, joined.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/")),
        "{}",
        joined.body
    );
    let home = newcomer.get("/").await;
    assert!(home.body.contains("new@example.com (member)"), "{}", home.body);
    let again = Browser::new(&server).get(path).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "the link works once");
    let mut by_password = Browser::new(&server);
    assert_eq!(by_password.sign_in("new@example.com", PASSWORD).await.status, StatusCode::SEE_OTHER);

    // Someone with an account joins with their own password; a wrong one changes nothing.
    let csrf = admin.csrf().await;
    let page = admin
        .post("/members/invite", &[("csrf", &csrf), ("email", "carol@example.com"), ("role", "viewer")])
        .await;
    let path = invitation_link(&page).replace("https://crier.example", "");
    let mut carols = Browser::new(&server);
    let form = carols.get(&path).await;
    assert!(form.body.contains("Your Crier password"));
    let csrf = form.csrf();
    let wrong = carols.post(&path, &[("csrf", &csrf), ("password", "not her password")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.db.store.member_role(seeded.workspace, carol.id).await.unwrap(), None);
    let joined = carols.post(&path, &[("csrf", &csrf), ("password", PASSWORD)]).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER);
    assert_eq!(server.db.store.member_role(seeded.workspace, carol.id).await.unwrap(), Some(Role::Viewer));

    // Expired and withdrawn links are refused.
    let csrf = admin.csrf().await;
    let page = admin
        .post("/members/invite", &[("csrf", &csrf), ("email", "late@example.com"), ("role", "member")])
        .await;
    let late = invitation_link(&page).replace("https://crier.example", "");
    let page = admin
        .post("/members/invite", &[("csrf", &csrf), ("email", "gone@example.com"), ("role", "member")])
        .await;
    let withdrawn = invitation_link(&page).replace("https://crier.example", "");
    let pending = server.db.store.list_invitations(seeded.workspace).await.unwrap();
    let gone = pending.iter().find(|i| i.email == "gone@example.com").unwrap();
    let revoked = admin.post(&format!("/members/invitations/{}/revoke", gone.id), &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(Browser::new(&server).get(&withdrawn).await.status, StatusCode::NOT_FOUND);
    server.clock.advance(Duration::days(8));
    assert_eq!(Browser::new(&server).get(&late).await.status, StatusCode::NOT_FOUND);
    let actions = audit_actions(&server, seeded.workspace).await;
    for action in
        ["member.invited.member", "member.joined.member", "member.joined.viewer", "member.invitation_revoked"]
    {
        assert!(actions.contains(&action.to_owned()), "{action}: {actions:?}");
    }
}

async fn a_new_password_ends_the_other_sessions(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let mut laptop = Browser::signed_in(&server, "owner@example.com").await;
    let mut phone = Browser::signed_in(&server, "owner@example.com").await;
    let before = laptop.cookies[COOKIE].clone();
    let csrf = laptop.csrf().await;
    let new = "a brand new long password";
    let wrong = laptop
        .post("/security/password", &[("csrf", &csrf), ("current", "nope"), ("new", new), ("confirm", new)])
        .await;
    assert!(wrong.body.contains("current password is not right"));
    let changed = laptop
        .post("/security/password", &[("csrf", &csrf), ("current", PASSWORD), ("new", new), ("confirm", new)])
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    assert_ne!(laptop.cookies[COOKIE], before, "this session gets a new id");
    assert_eq!(laptop.get("/").await.status, StatusCode::OK);
    assert_eq!(phone.get("/").await.location.as_deref(), Some("/login"), "the other session ended");
    assert_eq!(
        Browser::new(&server).sign_in("owner@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(Browser::new(&server).sign_in("owner@example.com", new).await.status, StatusCode::SEE_OTHER);
}

async fn a_workspace_requiring_a_second_factor_opens_only_its_set_up(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    person(&server, seeded.workspace, "member@example.com", Role::Member).await;
    let mut owner = Browser::signed_in(&server, "owner@example.com").await;
    let csrf = owner.csrf().await;
    let saved = owner.post("/security/require-second-factor", &[("csrf", &csrf), ("required", "on")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let mut member = Browser::signed_in(&server, "member@example.com").await;
    for path in ["/", "/channels", "/security"] {
        assert_eq!(member.get(path).await.location.as_deref(), Some("/security/totp"), "{path}");
    }
    let setup = member.get("/security/totp").await;
    let secret = field(&setup.body, "secret").unwrap();
    let csrf = setup.csrf();
    let code = totp_code(&secret, server.clock.now());
    let enabled =
        member.post("/security/totp", &[("csrf", &csrf), ("secret", &secret), ("code", &code)]).await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert_eq!(member.get("/").await.status, StatusCode::OK, "with a second factor every page opens");
    assert!(
        audit_actions(&server, seeded.workspace)
            .await
            .contains(&"workspace.second_factor_required".to_owned())
    );
}

async fn a_webhook_secret_is_shown_once_and_test_sends_and_the_audit_log_are_listed(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "admin@example.com", Role::Admin).await;
    let mut admin = Browser::signed_in(&server, "admin@example.com").await;
    let csrf = admin.csrf().await;
    let private = admin.post("/webhooks", &[("csrf", &csrf), ("url", "https://10.0.0.1/hook")]).await;
    assert_eq!(private.status, StatusCode::UNPROCESSABLE_ENTITY, "the API's SSRF rules apply");
    let page = admin
        .post("/webhooks", &[("csrf", &csrf), ("url", "https://93.184.215.14/hook"), ("description", "ops")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let marker = "id=\"new-secret\" class=\"secret\" readonly value=\"";
    let start = page.body.find(marker).unwrap_or_else(|| panic!("no secret in {}", page.body)) + marker.len();
    let secret = page.body[start..].split('"').next().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = admin.get("/webhooks").await;
    assert!(
        listed.body.contains("https://93.184.215.14/hook") && !listed.body.contains(&secret),
        "shown once"
    );
    let endpoints = server.get("/v1/webhooks/endpoints", &seeded.admin_key).await;
    let id = endpoints.body["data"][0]["id"].as_str().unwrap().to_owned();
    let sent = admin.post(&format!("/webhooks/{id}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(sent.location.as_deref(), Some("/webhooks?notice=test"));
    let log = admin.get("/webhooks?notice=test").await;
    assert!(
        log.body.contains("A test event is on its way") && log.body.contains("Deliver again"),
        "{}",
        log.body
    );
    let audit = admin.get("/audit?action=webhook").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(
        audit.body.contains("webhook_endpoint.created") && !audit.body.contains("user.login<"),
        "{}",
        audit.body
    );
}

async fn a_platform_account_is_connected_from_the_channels_page(backend: Backend) {
    let fake = crier_testkit::mastodon_fake::MastodonFake::start().await;
    let policy = crier_net::OutboundPolicy { allow_insecure_loopback: true, ..Default::default() };
    let config =
        ApiConfig { public_url: Some("https://crier.example".parse().unwrap()), ..ApiConfig::default() };
    let server =
        Server::start_media(backend, crier_api::MediaConfig::default(), policy).await_with(config).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "admin@example.com", Role::Admin).await;
    let mut admin = Browser::signed_in(&server, "admin@example.com").await;
    let page = admin.get("/channels").await;
    assert!(page.body.contains("Your instance (e.g. mastodon.social)"), "mastodon's field is offered");
    assert!(page.body.contains("App password"), "bluesky's too");
    let csrf = page.csrf();
    let bad = admin
        .post("/channels/connect", &[("csrf", &csrf), ("provider", "mastodon"), ("instance", "not a host!")])
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.body.contains("The account was not connected"), "{}", bad.body);
    let started = admin
        .post(
            "/channels/connect",
            &[
                ("csrf", &csrf),
                ("provider", "mastodon"),
                ("instance", fake.base_url()),
                ("name", "Our Mastodon"),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let authorize = started.location.unwrap();
    assert!(authorize.starts_with(&format!("{}/oauth/authorize", fake.base_url())), "{authorize}");
    // The person approves at the instance, which sends the browser to Crier's callback.
    let consent = admin.send(admin.http.get(&authorize)).await;
    let callback = consent.location.unwrap().replace("https://crier.example", &server.base);
    let back = admin.send(admin.http.get(&callback)).await;
    let back = back.location.unwrap();
    assert!(
        back.starts_with("https://crier.example/channels?") && back.contains("channel_id=chan_"),
        "{back}"
    );
    let listed = admin.get(&back.replace("https://crier.example", "")).await;
    assert!(
        listed.body.contains("The account is connected.") && listed.body.contains("Our Mastodon"),
        "{}",
        listed.body
    );
}

async fn an_api_key_is_rotated_with_its_new_secret_shown_once(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    person(&server, seeded.workspace, "admin@example.com", Role::Admin).await;
    let mut admin = Browser::signed_in(&server, "admin@example.com").await;
    let csrf = admin.csrf().await;
    let made = admin.post("/keys", &[("csrf", &csrf), ("name", "deploys"), ("scope", "posts:read")]).await;
    let secret_of = |page: &Page| {
        let marker = "id=\"new-key\" class=\"secret\" readonly value=\"";
        let start =
            page.body.find(marker).unwrap_or_else(|| panic!("no key in {}", page.body)) + marker.len();
        page.body[start..].split('"').next().unwrap().to_owned()
    };
    let first = secret_of(&made);
    let keys = server.get("/v1/api-keys", &seeded.admin_key).await;
    let id = keys.body["data"].as_array().unwrap().iter().find(|k| k["name"] == "deploys").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = admin.post(&format!("/keys/{id}/rotate"), &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let second = secret_of(&rotated);
    assert_ne!(first, second);
    assert!(second.starts_with("crier_live_"));
    assert!(!admin.get("/keys").await.body.contains(&second), "shown once");
    assert_eq!(server.get("/v1/posts", &second).await.status, StatusCode::OK, "the successor works");
    assert_eq!(
        server.get("/v1/posts", &first).await.status,
        StatusCode::OK,
        "the old key lives out its grace"
    );
}
