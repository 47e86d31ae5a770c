//! Signing in to the dashboard through a real OpenID Connect issuer (npm `oidc-provider`,
//! `peers/oidc`) over HTTP, its login form filled in like a person would: linking by a verified
//! address only, refusals that store nothing, explicit linking from a signed-in session, a
//! state that works once and only in its own browser, and the second factor still owed. The
//! GitHub preset (OAuth 2 and GitHub's REST API) against a fake GitHub.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::HashMap;

use common::Server;
use crier_api::ApiConfig;
use crier_api::sso::SsoProvider;
use crier_core::{Actor, Clock, NewAuditEvent, Role, User, WorkspaceId};
use crier_testkit::github_fake::GitHubFake;
use crier_testkit::oidc_issuer::OidcIssuer;
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use url::Url;

on_both_backends!(
    backend: a_verified_address_links_the_account_and_the_link_signs_in_again,
    an_unverified_address_is_refused_and_nothing_is_linked,
    an_address_without_an_account_is_refused,
    a_signed_in_person_links_an_identity_explicitly_then_signs_in_with_it_and_unlinks_it,
    a_state_works_once_and_only_in_the_browser_that_started_it,
    a_person_with_a_second_factor_still_owes_it_after_signing_in_elsewhere,
    github_signs_in_by_its_verified_primary_address_only,
);

const PASSWORD: &str = "correct horse battery staple";
/// Crier's public URL in these tests; the browser below sends it to the real server.
const PUBLIC: &str = "http://crier.test";
const CLIENT_ID: &str = "crier-test";
const CLIENT_SECRET: &str = "crier-test-secret-which-is-long-enough";
const ISSUER_NAME: &str = "Sign in with Test SSO";

struct World {
    server: Server,
    issuer: OidcIssuer,
    workspace: WorkspaceId,
}

async fn start(backend: Backend) -> World {
    let callback = format!("{PUBLIC}/login/sso/oidc/callback");
    let issuer = OidcIssuer::start(CLIENT_ID, CLIENT_SECRET, &[&callback]);
    let provider =
        SsoProvider::oidc(&issuer.url, CLIENT_ID.into(), CLIENT_SECRET.into(), ISSUER_NAME.into()).unwrap();
    let config =
        ApiConfig { public_url: Some(PUBLIC.parse().unwrap()), sso: vec![provider], ..ApiConfig::default() };
    let server = Server::start_with(backend, config).await;
    let workspace = server.seed("sso").await.workspace;
    World { server, issuer, workspace }
}

async fn person(server: &Server, workspace: WorkspaceId, email: &str) -> User {
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
    server.db.store.create_user(&user, workspace, Role::Member.as_str(), &audit).await.unwrap();
    user
}

/// A browser across Crier and the issuer: keeps cookies, follows redirects itself (so a test
/// sees each hop), and sends Crier's public URL to the test server.
struct Browser<'a> {
    server: &'a Server,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Page {
    url: Url,
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start =
            self.body.find(marker).unwrap_or_else(|| panic!("no csrf in {}", self.body)) + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    /// Where the redirect goes, as an absolute URL.
    fn next(&self) -> Url {
        self.url
            .join(self.location.as_deref().unwrap_or_else(|| panic!("no redirect: {}", self.body)))
            .unwrap()
    }
}

impl<'a> Browser<'a> {
    fn new(server: &'a Server) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { server, http, cookies: HashMap::new() }
    }

    /// The address actually dialled for `url` (Crier's public URL is the test server).
    fn dial(&self, url: &Url) -> Url {
        match url.as_str().strip_prefix(PUBLIC) {
            Some(rest) => format!("{}{rest}", self.server.base).parse().unwrap(),
            None => url.clone(),
        }
    }

    async fn send(&mut self, url: Url, request: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = request.header("cookie", cookie.join("; ")).send().await.unwrap();
        for line in response.headers().get_all("set-cookie") {
            let line = line.to_str().unwrap();
            let (name, value) = line.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") || line.contains("1970") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            url,
            status: response.status(),
            location: response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    async fn get_url(&mut self, url: Url) -> Page {
        let request = self.http.get(self.dial(&url));
        self.send(url, request).await
    }

    async fn get(&mut self, path: &str) -> Page {
        self.get_url(format!("{PUBLIC}{path}").parse().unwrap()).await
    }

    async fn post_url(&mut self, url: Url, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(self.dial(&url)).header("origin", &self.server.base).form(form);
        self.send(url, request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_url(format!("{PUBLIC}{path}").parse().unwrap(), form).await
    }

    async fn sign_in_with_password(&mut self, email: &str) -> Page {
        let csrf = self.get("/login").await.csrf();
        self.post("/login", &[("csrf", &csrf), ("email", email), ("password", PASSWORD)]).await
    }

    /// From Crier's redirect to the issuer, through its login form as `login`, to the URL of
    /// Crier's callback the issuer sends the browser back to (not yet followed).
    async fn through_issuer(&mut self, mut page: Page, login: &str) -> Url {
        for _ in 0..10 {
            assert!(page.status.is_redirection(), "{} {}: {}", page.url, page.status, page.body);
            let next = page.next();
            if next.as_str().starts_with(PUBLIC) {
                return next;
            }
            page = self.get_url(next).await;
            if page.status == StatusCode::OK && page.body.contains("name=\"prompt\" value=\"login\"") {
                let form = page.url.clone();
                page =
                    self.post_url(form, &[("prompt", "login"), ("login", login), ("password", "any")]).await;
            }
        }
        panic!("the issuer never sent the browser back");
    }

    /// Presses the login page's button for the issuer and signs in there as `login`; returns
    /// the callback URL.
    async fn until_callback(&mut self, login: &str) -> Url {
        let login_page = self.get("/login").await;
        assert!(login_page.body.contains(ISSUER_NAME), "a button for the issuer: {}", login_page.body);
        let started = self.post("/login/sso/oidc", &[("csrf", &login_page.csrf())]).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
        self.through_issuer(started, login).await
    }

    async fn sso_sign_in(&mut self, login: &str) -> Page {
        let callback = self.until_callback(login).await;
        self.get_url(callback).await
    }

    fn has_session(&self) -> bool {
        self.cookies.contains_key("crier_session")
    }
}

async fn identities(server: &Server, user: &User) -> Vec<crier_core::UserIdentity> {
    server.db.store.list_identities(user.id).await.unwrap()
}

async fn audit_actions(server: &Server, workspace: WorkspaceId) -> Vec<String> {
    let events = server.db.store.list_audit_events(workspace, 0, 500).await.unwrap();
    events.into_iter().map(|e| e.action).collect()
}

async fn a_verified_address_links_the_account_and_the_link_signs_in_again(backend: Backend) {
    let world = start(backend).await;
    let server = &world.server;
    let alice = person(server, world.workspace, "alice@x.test").await;

    let mut browser = Browser::new(server);
    let done = browser.sso_sign_in("alice@x.test").await;
    assert_eq!((done.status, done.location.as_deref()), (StatusCode::SEE_OTHER, Some("/")), "{}", done.body);
    assert!(browser.has_session());
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("alice@x.test"), "{}", home.body);
    let linked = identities(server, &alice).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].provider, world.issuer.url);
    assert_eq!(linked[0].subject, "alice@x.test");
    assert_eq!(linked[0].email.as_deref(), Some("alice@x.test"));

    // A second sign-in (a new browser) goes by the link.
    let mut again = Browser::new(server);
    let done = again.sso_sign_in("alice@x.test").await;
    assert_eq!(done.location.as_deref(), Some("/"), "{}", done.body);
    assert_eq!(identities(server, &alice).await.len(), 1, "linked once");
    let actions = audit_actions(server, world.workspace).await;
    assert_eq!(actions.iter().filter(|a| *a == "identity.linked").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "user.login_sso").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "user.login").count(), 2, "{actions:?}");
}

async fn an_unverified_address_is_refused_and_nothing_is_linked(backend: Backend) {
    let world = start(backend).await;
    let server = &world.server;
    let bob = person(server, world.workspace, "bob@x.test").await;

    // The issuer says the address is bob@x.test, but has not verified it.
    let mut browser = Browser::new(server);
    let refused = browser.sso_sign_in("unverified-bob@x.test").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("no account for this sign-in"), "{}", refused.body);
    assert!(refused.body.contains("invitation"), "{}", refused.body);
    assert!(!browser.has_session());
    assert!(identities(server, &bob).await.is_empty());
    assert_eq!(browser.get("/").await.location.as_deref(), Some("/login"));
    let actions = audit_actions(server, world.workspace).await;
    assert!(actions.contains(&"user.login_failed".to_owned()), "{actions:?}");
    assert!(!actions.iter().any(|a| a == "identity.linked" || a == "user.login"), "{actions:?}");
}

async fn an_address_without_an_account_is_refused(backend: Backend) {
    let world = start(backend).await;
    let server = &world.server;
    person(server, world.workspace, "alice@x.test").await;

    let mut browser = Browser::new(server);
    let refused = browser.sso_sign_in("stranger@x.test").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("no account for this sign-in"), "{}", refused.body);
    assert!(!browser.has_session());
    assert!(server.db.store.find_identity(&world.issuer.url, "stranger@x.test").await.unwrap().is_none());
    assert!(server.db.store.find_user_by_email("stranger@x.test").await.unwrap().is_none(), "no sign-up");
}

async fn a_signed_in_person_links_an_identity_explicitly_then_signs_in_with_it_and_unlinks_it(
    backend: Backend,
) {
    let world = start(backend).await;
    let server = &world.server;
    // The account's address differs from the identity's, and the identity's is unverified:
    // only an explicit link from the signed-in session may join them.
    let carol = person(server, world.workspace, "carol@crier.example").await;
    let mut browser = Browser::new(server);
    assert_eq!(browser.sign_in_with_password("carol@crier.example").await.location.as_deref(), Some("/"));
    let security = browser.get("/security").await;
    assert!(security.body.contains("Link: Sign in with Test SSO"), "{}", security.body);
    let csrf = security.csrf();
    let forged = browser.post("/security/sso/oidc/link", &[("csrf", "wrong")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "the CSRF token is checked");
    let started = browser.post("/security/sso/oidc/link", &[("csrf", &csrf)]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let callback = browser.through_issuer(started, "unverified-carol@elsewhere.test").await;
    let done = browser.get_url(callback).await;
    assert_eq!(done.location.as_deref(), Some("/security"), "{}", done.body);
    let linked = identities(server, &carol).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].subject, "unverified-carol@elsewhere.test");
    assert_eq!(linked[0].email, None, "an unverified address is not kept");
    let security = browser.get("/security").await;
    assert!(security.body.contains("Unlink"), "{}", security.body);

    // A new browser signs in with the linked identity.
    let mut other = Browser::new(server);
    let done = other.sso_sign_in("unverified-carol@elsewhere.test").await;
    assert_eq!(done.location.as_deref(), Some("/"), "{}", done.body);
    assert!(other.get("/").await.body.contains("carol@crier.example"));

    // Unlinked, it signs nobody in.
    let unlinked = browser
        .post(
            "/security/sso/unlink",
            &[("csrf", &csrf), ("provider", "oidc"), ("subject", "unverified-carol@elsewhere.test")],
        )
        .await;
    assert_eq!(unlinked.location.as_deref(), Some("/security"), "{}", unlinked.body);
    assert!(identities(server, &carol).await.is_empty());
    let mut third = Browser::new(server);
    assert_eq!(third.sso_sign_in("unverified-carol@elsewhere.test").await.status, StatusCode::FORBIDDEN);
    let actions = audit_actions(server, world.workspace).await;
    assert!(
        actions.contains(&"identity.linked".to_owned()) && actions.contains(&"identity.unlinked".to_owned())
    );
}

async fn a_state_works_once_and_only_in_the_browser_that_started_it(backend: Backend) {
    let world = start(backend).await;
    let server = &world.server;
    let alice = person(server, world.workspace, "alice@x.test").await;

    let mut browser = Browser::new(server);
    let callback = browser.until_callback("alice@x.test").await;
    let flow_cookies = browser.cookies.clone();

    // Another browser with a flow of its own (an attacker handing over a callback) gets
    // nothing, and spends nothing.
    let mut stranger = Browser::new(server);
    stranger.until_callback("alice@x.test").await;
    let refused = stranger.get_url(callback.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("not valid"), "{}", refused.body);
    assert!(!stranger.has_session());

    // A state changed on the way is refused, and spends nothing either.
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == "state" { format!("{v}x") } else { v.to_string() }))
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let refused = browser.get_url(tampered).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("not valid"), "{}", refused.body);
    assert!(!browser.has_session());
    assert!(identities(server, &alice).await.is_empty(), "nothing linked");

    // The flow cookie went with the refusal; with it back, the real callback works once.
    browser.cookies = flow_cookies.clone();
    let done = browser.get_url(callback.clone()).await;
    assert_eq!(done.location.as_deref(), Some("/"), "{}", done.body);
    assert!(browser.has_session());
    assert_eq!(identities(server, &alice).await.len(), 1);

    // Replayed with the same cookie, it is refused.
    let mut replay = Browser::new(server);
    replay.cookies = flow_cookies;
    let refused = replay.get_url(callback).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("not valid"), "{}", refused.body);
    assert!(!replay.has_session());
}

async fn a_person_with_a_second_factor_still_owes_it_after_signing_in_elsewhere(backend: Backend) {
    let world = start(backend).await;
    let server = &world.server;
    person(server, world.workspace, "dave@x.test").await;

    let mut browser = Browser::new(server);
    assert_eq!(browser.sign_in_with_password("dave@x.test").await.location.as_deref(), Some("/"));
    let setup = browser.get("/security/totp").await;
    let marker = "name=\"secret\" value=\"";
    let start = setup.body.find(marker).unwrap() + marker.len();
    let secret = setup.body[start..].split('"').next().unwrap().to_owned();
    let code = totp_code(&secret, server.clock.now());
    let enabled = browser
        .post("/security/totp", &[("csrf", &setup.csrf()), ("secret", &secret), ("code", &code)])
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);

    let mut other = Browser::new(server);
    let done = other.sso_sign_in("dave@x.test").await;
    assert_eq!(done.location.as_deref(), Some("/login/second-factor"), "{}", done.body);
    assert_eq!(other.get("/").await.location.as_deref(), Some("/login"), "nothing opens yet");
    let form = other.get("/login/second-factor").await;
    server.clock.advance(chrono::Duration::seconds(30));
    let fresh = totp_code(&secret, server.clock.now());
    let finished = other.post("/login/second-factor", &[("csrf", &form.csrf()), ("code", &fresh)]).await;
    assert_eq!(finished.location.as_deref(), Some("/"), "{}", finished.body);
    assert_eq!(other.get("/").await.status, StatusCode::OK);
}

fn totp_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let generator = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into()).unwrap();
    generator.generate(u64::try_from(at.timestamp()).unwrap())
}

async fn github_signs_in_by_its_verified_primary_address_only(backend: Backend) {
    let github = GitHubFake::start().await;
    let base: Url = github.base_url().parse().unwrap();
    let provider = SsoProvider::github_at(
        crier_testkit::github_fake::CLIENT_ID.into(),
        crier_testkit::github_fake::CLIENT_SECRET.into(),
        base.clone(),
        base,
    );
    let config =
        ApiConfig { public_url: Some(PUBLIC.parse().unwrap()), sso: vec![provider], ..ApiConfig::default() };
    let server = Server::start_with(backend, config).await;
    let workspace = server.seed("github").await.workspace;
    let erin = person(&server, workspace, "erin@x.test").await;
    let frank = person(&server, workspace, "frank@x.test").await;
    github.add_account("erin", 101, vec![("Erin@x.test", true, true), ("old@x.test", false, false)]);
    // Frank's address at GitHub is verified only as a secondary one: not enough.
    github.add_account(
        "frank-gh",
        202,
        vec![("frank@elsewhere.test", true, false), ("frank@x.test", false, true)],
    );

    let (done, browser) = github_sign_in(&github, &server, "erin").await;
    assert_eq!(done.location.as_deref(), Some("/"), "{}", done.body);
    assert!(browser.has_session());
    let linked = identities(&server, &erin).await;
    assert_eq!(linked.len(), 1);
    assert_eq!((linked[0].provider.as_str(), linked[0].subject.as_str()), ("github", "101"));

    let (refused, browser) = github_sign_in(&github, &server, "frank-gh").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(!browser.has_session());
    assert!(identities(&server, &frank).await.is_empty());
}

/// Presses "Sign in with GitHub" as `login` (the fake's consent page answers at once).
async fn github_sign_in<'a>(github: &GitHubFake, server: &'a Server, login: &str) -> (Page, Browser<'a>) {
    github.sign_in_as(login);
    let mut browser = Browser::new(server);
    let login_page = browser.get("/login").await;
    assert!(login_page.body.contains("Sign in with GitHub"), "{}", login_page.body);
    let started = browser.post("/login/sso/github", &[("csrf", &login_page.csrf())]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let at_github = browser.get_url(started.next()).await;
    let callback = at_github.next();
    assert!(callback.as_str().starts_with(PUBLIC), "{callback}");
    (browser.get_url(callback).await, browser)
}
