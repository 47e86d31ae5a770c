//! The dashboard's people side over real HTTP: sign-in, the second factor, session cookies and
//! expiry, revoking, CSRF, throttling, and the role table of docs/PEOPLE.md checked cell by cell.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::Duration;
use common::Server;
use common::browser::{Browser, COOKIE, PASSWORD, Page, field, person, start, totp_code};
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
    open_sign_up_is_off_unless_configured_and_then_makes_an_owner,
    passkey_ceremonies_need_the_token_are_used_once_and_an_unknown_passkey_changes_nothing,
    passkeys_are_listed_and_removed_by_their_owner_only_and_count_as_the_second_factor,
    a_failed_target_is_retried_from_the_post_page,
);

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

async fn open_sign_up_is_off_unless_configured_and_then_makes_an_owner(backend: Backend) {
    let closed = start(backend).await;
    let mut visitor = Browser::new(&closed);
    assert_eq!(visitor.get("/signup").await.status, StatusCode::NOT_FOUND);
    let csrf = visitor.get("/login").await.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("email", "new@example.com"),
        ("workspace", "Mine"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    assert_eq!(visitor.post("/signup", &form).await.status, StatusCode::NOT_FOUND);
    assert!(closed.db.store.find_user_by_email("new@example.com").await.unwrap().is_none());
    assert!(!visitor.get("/login").await.body.contains("/signup"), "no link when it is off");

    let config = ApiConfig {
        public_url: Some("https://crier.example".parse().unwrap()),
        open_signup: true,
        ..ApiConfig::default()
    };
    let server = Server::start_with(backend, config).await;
    let existing = server.seed("existing").await;
    person(&server, existing.workspace, "taken@example.com", Role::Member).await;
    let mut browser = Browser::new(&server);
    assert!(browser.get("/login").await.body.contains("href=\"/signup\""));
    let csrf = browser.get("/signup").await.csrf();
    let page = browser.post("/signup", &signup_form(&csrf, "not-an-address", PASSWORD)).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Enter an e-mail address"), "{}", page.body);
    let short = browser.post("/signup", &signup_form(&csrf, "new@example.com", "short")).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let forged = browser
        .http
        .post(server.url("/signup"))
        .header("origin", "https://evil.example")
        .form(&signup_form(&csrf, "new@example.com", PASSWORD));
    assert_eq!(browser.send(forged).await.status, StatusCode::FORBIDDEN);
    assert!(
        server.db.store.find_user_by_email("new@example.com").await.unwrap().is_none(),
        "nothing made yet"
    );

    let page = browser.post("/signup", &signup_form(&csrf, "New@Example.com", PASSWORD)).await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/")), "{}", page.body);
    assert!(browser.cookies.contains_key(COOKIE), "signed in at once");
    let home = browser.get("/").await;
    assert!(home.body.contains("new@example.com (owner)"), "{}", home.body);
    let user = server.db.store.find_user_by_email("new@example.com").await.unwrap().unwrap();
    let workspaces = server.db.store.user_workspaces(user.id).await.unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_ne!(workspaces[0].0, existing.workspace, "a workspace of their own");
    let actions = audit_actions(&server, workspaces[0].0).await;
    assert!(
        actions.contains(&"workspace.created".to_owned()) && actions.contains(&"user.signed_up".to_owned()),
        "{actions:?}"
    );

    let mut another = Browser::new(&server);
    let csrf = another.get("/signup").await.csrf();
    let taken = signup_form(&csrf, "taken@example.com", PASSWORD);
    let page = another.post("/signup", &taken).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("ask a workspace owner for an invitation"), "{}", page.body);
    // Accounts made from one address are limited (the two above, and three more).
    let mut last = StatusCode::OK;
    for n in 0..4 {
        let email = format!("flood{n}@example.com");
        let mut visitor = Browser::new(&server);
        let csrf = visitor.get("/signup").await.csrf();
        last = visitor.post("/signup", &signup_form(&csrf, &email, PASSWORD)).await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert!(server.db.store.find_user_by_email("flood3@example.com").await.unwrap().is_none());
}

fn signup_form<'a>(csrf: &'a str, email: &'a str, password: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("csrf", csrf),
        ("email", email),
        ("workspace", "Newsroom"),
        ("password", password),
        ("confirm", password),
    ]
}

/// A browser's answer to `navigator.credentials.get()` naming `credential_id`, with a signature
/// nothing will verify.
fn forged_assertion(credential_id: &[u8], user: uuid::Uuid) -> serde_json::Value {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    json!({ "credential": {
        "id": b64(credential_id),
        "rawId": b64(credential_id),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&[0; 37]),
            "clientDataJSON": b64(br#"{"type":"webauthn.get","challenge":"AAAA","origin":"https://crier.example"}"#),
            "signature": b64(&[1; 70]),
            "userHandle": b64(user.as_bytes()),
        },
    }})
}

fn stored_passkey(server: &Server, user: &User, credential: u8, name: &str) -> crier_core::UserPasskey {
    crier_core::UserPasskey {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        credential_id: vec![credential; 16],
        passkey: "{}".into(),
        name: name.into(),
        created_at: server.clock.now(),
        last_used_at: None,
    }
}

async fn passkey_ceremonies_need_the_token_are_used_once_and_an_unknown_passkey_changes_nothing(
    backend: Backend,
) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    let owner = person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let mut browser = Browser::signed_in(&server, "owner@example.com").await;
    let csrf = browser.csrf().await;

    let refused = browser.post_json("/security/passkeys/register/start", None, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no token, no ceremony");
    let start = browser.post_json("/security/passkeys/register/start", Some(&csrf), json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    assert!(start.set_cookies.iter().any(|c| c.starts_with("crier_webauthn=") && c.contains("HttpOnly")));
    let options: serde_json::Value = serde_json::from_str(&start.body).unwrap();
    assert_eq!(options["publicKey"]["rp"]["id"], "crier.example", "the host of --public-url");
    assert_eq!(options["publicKey"]["user"]["name"], "owner@example.com");
    assert_eq!(options["publicKey"]["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["publicKey"]["authenticatorSelection"]["userVerification"], "required");
    let forged = json!({ "name": "forged", "credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" },
    }});
    let first = browser.post_json("/security/passkeys/register/finish", Some(&csrf), forged.clone()).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert!(first.body.contains("did not verify"), "{}", first.body);
    let again = browser.post_json("/security/passkeys/register/finish", Some(&csrf), forged).await;
    assert!(again.body.contains("already used"), "a ceremony is used once: {}", again.body);
    assert!(server.db.store.list_passkeys(owner.id).await.unwrap().is_empty());

    // Signed in 11 minutes ago: adding a passkey takes the password again.
    server.clock.advance(Duration::minutes(11));
    let stale = browser.post_json("/security/passkeys/register/start", Some(&csrf), json!({})).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert!(stale.body.contains("Enter your current password"), "{}", stale.body);
    let wrong = browser
        .post_json("/security/passkeys/register/start", Some(&csrf), json!({ "password": "not it" }))
        .await;
    assert!(wrong.body.contains("not right"), "{}", wrong.body);
    let right = browser
        .post_json("/security/passkeys/register/start", Some(&csrf), json!({ "password": PASSWORD }))
        .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);

    // Passwordless: the login page's token; a passkey nobody registered gets the one answer.
    let mut anonymous = Browser::new(&server);
    let login_csrf = anonymous.get("/login").await.csrf();
    assert!(anonymous.get("/login").await.body.contains("Sign in with a passkey"));
    let refused = anonymous.post_json("/login/passkey/start", None, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let start = anonymous.post_json("/login/passkey/start", Some(&login_csrf), json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let options: serde_json::Value = serde_json::from_str(&start.body).unwrap();
    assert_eq!(options["publicKey"]["rpId"], "crier.example");
    assert!(options["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty), "discoverable");
    assert!(options.get("mediation").is_none(), "a button press, not autofill: {options}");
    let unknown = forged_assertion(&[7; 16], owner.id);
    let failed = anonymous.post_json("/login/passkey/finish", Some(&login_csrf), unknown.clone()).await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(failed.body.contains("could not sign you in"), "{}", failed.body);
    let spent = anonymous.post_json("/login/passkey/finish", Some(&login_csrf), unknown).await;
    assert_eq!((spent.status, spent.body), (failed.status, failed.body), "the same answer, ceremony or not");
    assert!(!anonymous.cookies.contains_key(COOKIE), "no session");
}

async fn passkeys_are_listed_and_removed_by_their_owner_only_and_count_as_the_second_factor(
    backend: Backend,
) {
    let server = start(backend).await;
    let seeded = server.seed("people").await;
    let alice = person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let bob = person(&server, seeded.workspace, "member@example.com", Role::Member).await;
    let mut browser = Browser::signed_in(&server, "owner@example.com").await;
    let mut member = Browser::signed_in(&server, "member@example.com").await;
    let audit = NewAuditEvent::new(
        server.clock.now(),
        Actor::cli(),
        "passkey.added",
        "x".into(),
        &Default::default(),
    );
    let hers = stored_passkey(&server, &alice, 1, "Alice laptop");
    let his = stored_passkey(&server, &bob, 2, "Bob phone");
    server.db.store.add_passkey(&hers, seeded.workspace, &audit).await.unwrap();
    server.db.store.add_passkey(&his, seeded.workspace, &audit).await.unwrap();

    let security = browser.get("/security").await;
    assert!(
        security.body.contains("Alice laptop") && !security.body.contains("Bob phone"),
        "{}",
        security.body
    );
    assert!(security.body.contains("never"), "not used yet");
    let csrf = security.csrf();
    let others = browser.post(&format!("/security/passkeys/{}/remove", his.id), &[("csrf", &csrf)]).await;
    assert_eq!(others.status, StatusCode::NOT_FOUND, "only one's own");
    assert!(server.db.store.find_passkey(&his.credential_id).await.unwrap().is_some());

    // With a passkey, the password alone leaves the second factor owed; the page offers the
    // passkey (and no code field, as there is no app). Someone else's passkey is refused.
    let mut second = Browser::new(&server);
    let page = second.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(page.location.as_deref(), Some("/login/second-factor"));
    assert_eq!(second.get("/").await.location.as_deref(), Some("/login"), "nothing opens yet");
    let factor = second.get("/login/second-factor").await;
    assert!(
        factor.body.contains("Use a passkey") && !factor.body.contains("6-digit code"),
        "{}",
        factor.body
    );
    let marker = "data-csrf=\"";
    let at = factor.body.find(marker).unwrap() + marker.len();
    let pending_csrf = factor.body[at..].split('"').next().unwrap().to_owned();
    let bobs = forged_assertion(&his.credential_id, bob.id);
    let refused = second.post_json("/login/second-factor/passkey/finish", Some(&pending_csrf), bobs).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(
        server.db.store.find_passkey(&his.credential_id).await.unwrap(),
        Some(his.clone()),
        "unchanged"
    );
    assert_eq!(second.get("/").await.location.as_deref(), Some("/login"), "still owed");

    let removed = browser.post(&format!("/security/passkeys/{}/remove", hers.id), &[("csrf", &csrf)]).await;
    assert_eq!((removed.status, removed.location.as_deref()), (StatusCode::SEE_OTHER, Some("/security")));
    assert!(server.db.store.list_passkeys(alice.id).await.unwrap().is_empty());
    assert!(browser.get("/security").await.body.contains("You have no passkey."));

    // A workspace requiring a second factor takes a passkey as one, and lets a member without
    // one add a passkey from the set-up page.
    browser.post("/security/require-second-factor", &[("csrf", &csrf), ("required", "on")]).await;
    assert_eq!(member.get("/channels").await.status, StatusCode::OK, "his passkey is his second factor");
    server.db.store.remove_passkey(bob.id, his.id, seeded.workspace, &audit).await.unwrap();
    assert_eq!(member.get("/channels").await.location.as_deref(), Some("/security/totp"));
    let setup = member.get("/security/totp").await;
    assert!(setup.body.contains("Add a passkey"), "a passkey can be set up instead of an app");
    let member_csrf = setup.csrf();
    let start = member.post_json("/security/passkeys/register/start", Some(&member_csrf), json!({})).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let actions = audit_actions(&server, seeded.workspace).await;
    assert!(
        actions.contains(&"passkey.removed".to_owned())
            && actions.contains(&"user.second_factor_failed".to_owned()),
        "{actions:?}"
    );
}

async fn a_failed_target_is_retried_from_the_post_page(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("retry").await;
    person(&server, seeded.workspace, "member@example.com", Role::Member).await;
    person(&server, seeded.workspace, "viewer@example.com", Role::Viewer).await;
    let channel = server.sandbox(&seeded.admin_key, json!({"reject_containing": "nope"})).await;
    let accepted = server
        .post("/v1/posts", &seeded.admin_key, json!({"text": "nope", "targets": [{"channel_id": channel}]}))
        .await;
    let post = accepted.body["id"].as_str().unwrap().to_owned();
    let target = accepted.body["targets"][0]["id"].as_str().unwrap().to_owned();
    server.worker("w").run_once().await.unwrap();
    let action = format!("/posts/{post}/targets/{target}/retry");

    let mut viewer = Browser::signed_in(&server, "viewer@example.com").await;
    let csrf = viewer.csrf().await;
    assert!(!viewer.get(&format!("/posts/{post}")).await.body.contains(&action), "no button for a viewer");
    assert_eq!(viewer.post(&action, &[("csrf", &csrf)]).await.status, StatusCode::FORBIDDEN);

    let mut member = Browser::signed_in(&server, "member@example.com").await;
    let csrf = member.csrf().await;
    let page = member.get(&format!("/posts/{post}")).await;
    assert!(page.body.contains(&action) && page.body.contains("Retry"), "{}", page.body);
    let done = member.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some(format!("/posts/{post}?notice=retried").as_str()));
    let after = server.get(&format!("/v1/posts/{post}"), &seeded.admin_key).await;
    assert_eq!(after.body["targets"][0]["status"], "queued", "{}", after.body);
    assert!(!member.get(&format!("/posts/{post}")).await.body.contains(&action), "nothing to retry now");
}
