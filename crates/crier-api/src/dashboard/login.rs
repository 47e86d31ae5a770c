//! Signing in and out: password, then the second factor when the person has one (a TOTP app or a
//! passkey), or a passkey alone (see `passkeys`). Failures are throttled per account and per
//! address, and an unknown address gets exactly the answer a wrong password gets, after the same
//! work.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::Duration;
use crier_core::{Actor, KeyHash, NewAuditEvent, RequestOrigin, User};
use serde::Deserialize;

use super::session::{self, PendingSignIn, Posted, csrf_matches, read_cookie, same_origin};
use super::{DashError, render, see_other, totp};
use crate::oauth::{new_secret, secret_hash, verify_password};
use crate::state::AppState;

/// The login form's own CSRF token (there is no session yet): a cookie and a field that match.
const LOGIN_CSRF_COOKIE: &str = "crier_login_csrf";
/// Failures counted over this window.
const THROTTLE_WINDOW: Duration = Duration::minutes(15);
/// Failed attempts per account (or per second-factor session owner) in the window.
pub(super) const ACCOUNT_FAILURES: i64 = 5;
/// Failed attempts per address in the window (an office shares one).
pub(super) const ADDRESS_FAILURES: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/second-factor", get(second_factor_page).post(second_factor))
        .route("/logout", axum::routing::post(logout))
}

#[derive(askama::Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    nav: Option<super::Nav>,
    csrf: String,
    email: String,
    error: Option<&'static str>,
    /// Offer `/signup` (`--open-signup`).
    signup: bool,
    /// A button per configured sign-in service.
    sso: Vec<super::sso::Button>,
}

#[derive(askama::Template)]
#[template(path = "dashboard/second_factor.html")]
struct SecondFactorPage {
    nav: Option<super::Nav>,
    csrf: String,
    /// Which factors the person has: a TOTP app, passkeys.
    totp_on: bool,
    passkeys_on: bool,
    error: Option<&'static str>,
}

pub(super) const WRONG: &str = "That e-mail address and password do not match an account.";
pub(super) const THROTTLED: &str = "Too many failed sign-ins. Wait 15 minutes, then try again.";
const WRONG_CODE: &str = "That code is not right (or was used already). Try the next code from your app.";

/// The request's address and user agent.
pub(super) struct Origin(pub(super) RequestOrigin);

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Origin(super::origin(parts)))
    }
}

fn login_form(state: &AppState, csrf: String, email: String, error: Option<&'static str>) -> Response {
    let signup = state.config.open_signup;
    let sso = super::sso::buttons(state);
    let mut response = render(&LoginPage { nav: None, csrf: csrf.clone(), email, error, signup, sso });
    let cookie = session::cookie(state, LOGIN_CSRF_COOKIE, Some(&csrf), Duration::hours(1));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The token of a form shown before any session (sign-in, accepting an invitation): the one the
/// browser already holds, or a new one.
pub(super) fn pre_session_csrf(headers: &HeaderMap) -> String {
    match read_cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(existing) if existing.len() == 47 => existing.to_owned(),
        _ => new_secret("lgn_").0,
    }
}

/// The cookie that carries the pre-session token.
pub(super) fn pre_session_cookie(state: &AppState, csrf: &str) -> axum::http::HeaderValue {
    session::cookie(state, LOGIN_CSRF_COOKIE, Some(csrf), Duration::hours(1))
}

/// Refuses a pre-session form whose token does not match the browser's cookie, or that comes
/// from another site.
pub(super) fn check_pre_session(headers: &HeaderMap, presented: &str) -> Result<(), DashError> {
    same_origin(headers)?;
    let expected = read_cookie(headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !csrf_matches(expected, presented) { Err(DashError::Csrf) } else { Ok(()) }
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, pre_session_csrf(&headers), String::new(), None)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub(super) fn subject(kind: &str, value: &str) -> KeyHash {
    secret_hash(&format!("crier-throttle:{kind}:{value}"))
}

pub(super) async fn throttled(state: &AppState, subjects: &[(&KeyHash, i64)]) -> Result<bool, DashError> {
    let since = state.clock.now() - THROTTLE_WINDOW;
    for (subject, limit) in subjects {
        if state.store.login_failures_since(subject, since).await? >= *limit {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) async fn record_failure(state: &AppState, subjects: &[&KeyHash]) -> Result<(), DashError> {
    let now = state.clock.now();
    for subject in subjects {
        state.store.record_login_failure(subject, now).await?;
    }
    Ok(())
}

/// Audits in the person's first workspace (people are global; their log lives in a workspace).
pub(super) async fn audit_person(
    state: &AppState,
    user: &User,
    action: &str,
    origin: &RequestOrigin,
) -> Result<(), DashError> {
    let workspaces = state.store.user_workspaces(user.id).await?;
    if let Some((workspace, _)) = workspaces.first() {
        let event = NewAuditEvent::new(
            state.clock.now(),
            Actor(format!("user:{}", user.id)),
            action,
            format!("user:{}", user.id),
            origin,
        );
        state.store.append_audit(*workspace, &event).await?;
    }
    Ok(())
}

async fn login(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, DashError> {
    check_pre_session(&headers, &form.csrf)?;
    let email = form.email.trim().to_ascii_lowercase();
    let account = subject("email", &email);
    let address = subject("ip", origin.ip.as_deref().unwrap_or("unknown"));
    let refuse = |message| {
        let mut response = login_form(&state, form.csrf.clone(), email.clone(), Some(message));
        *response.status_mut() =
            if message == THROTTLED { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNAUTHORIZED };
        response
    };
    if throttled(&state, &[(&account, ACCOUNT_FAILURES), (&address, ADDRESS_FAILURES)]).await? {
        return Ok(refuse(THROTTLED));
    }
    let user = state.store.find_user_by_email(&email).await?;
    // Verified whether or not the account exists, so both answers take as long.
    let matches = verify_password(&form.password, user.as_ref().map(|u| u.password_hash.as_str()));
    let workspace = match &user {
        Some(user) => state.store.user_workspaces(user.id).await?.first().map(|(ws, _)| *ws),
        None => None,
    };
    let (Some(user), true, Some(workspace)) = (user.as_ref(), matches, workspace) else {
        record_failure(&state, &[&account, &address]).await?;
        if let Some(user) = &user {
            audit_person(&state, user, "user.login_failed", &origin).await?;
        }
        tracing::info!(ip = origin.ip.as_deref().unwrap_or("unknown"), "a dashboard sign-in failed");
        return Ok(refuse(WRONG));
    };
    state.store.clear_login_failures(&account).await?;
    start_session(&state, user, workspace, &origin, Factors::Password).await
}

/// What a person proved to start a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Factors {
    /// Their password: a second factor is owed if they have one.
    Password,
    /// A passkey alone: something they have, unlocked by something they know or are (WebAuthn
    /// user verification), so both factors at once.
    Passkey,
}

/// Whether `user` has a second factor to ask for after the password: a TOTP app or a passkey.
pub(super) async fn has_second_factor(state: &AppState, user: &User) -> Result<bool, DashError> {
    Ok(user.totp.is_some() || !state.store.list_passkeys(user.id).await?.is_empty())
}

/// Signs `user` in to `workspace` after `factors` were checked: a full session, or one waiting
/// for the second factor when they have one and gave only their password.
pub(super) async fn start_session(
    state: &AppState,
    user: &User,
    workspace: crier_core::WorkspaceId,
    origin: &RequestOrigin,
    factors: Factors,
) -> Result<Response, DashError> {
    let pending = factors == Factors::Password && has_second_factor(state, user).await?;
    let (new_session, cookie) = session::issue(state, user, workspace, pending, origin, None);
    state.store.insert_session(&new_session).await?;
    if !pending {
        let action = if factors == Factors::Passkey { "user.login_passkey" } else { "user.login" };
        audit_person(state, user, action, origin).await?;
    }
    let mut response = see_other(if pending { "/login/second-factor" } else { "/" });
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::cookie(state, LOGIN_CSRF_COOKIE, None, Duration::zero()));
    Ok(response)
}

async fn second_factor_page(
    State(state): State<AppState>,
    pending: PendingSignIn,
) -> Result<Response, DashError> {
    second_factor_form(&state, pending, None).await
}

/// The second-factor page offering the factors the person has.
async fn second_factor_form(
    state: &AppState,
    pending: PendingSignIn,
    error: Option<&'static str>,
) -> Result<Response, DashError> {
    let passkeys_on = !state.store.list_passkeys(pending.user.id).await?.is_empty();
    let totp_on = pending.user.totp.is_some();
    Ok(render(&SecondFactorPage { nav: None, csrf: pending.csrf, totp_on, passkeys_on, error }))
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Whether `code` is a current TOTP code (used once) or an unused recovery code of `user`.
async fn second_factor_holds(state: &AppState, user: &User, code: &str) -> Result<bool, DashError> {
    let Some(totp_ref) = user.totp else { return Ok(false) };
    let code = code.trim();
    if code.len() > 6 {
        let hash = totp::recovery_hash(code);
        return Ok(state.store.use_recovery_code(user.id, &hash, state.clock.now()).await?);
    }
    let vault = state.vault.as_ref().ok_or_else(|| {
        DashError::Api(crate::ApiError::internal(&std::io::Error::other("no vault for the second factor")))
    })?;
    let secret = vault
        .open(totp_ref.workspace_id, totp_ref.secret_id)
        .await
        .map_err(|err| DashError::Api(crate::ApiError::internal(&err)))?;
    let Some(generator) = totp::generator(secret.expose(), &user.email) else { return Ok(false) };
    match totp::matching_step(&generator, code, state.clock.now()) {
        Some(step) => Ok(state.store.use_totp_step(user.id, step).await?),
        None => Ok(false),
    }
}

async fn second_factor(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    pending: PendingSignIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, DashError> {
    same_origin(&headers)?;
    if !csrf_matches(&pending.csrf, &form.csrf) {
        return Err(DashError::Csrf);
    }
    let owner = subject("second-factor", &pending.user.id.to_string());
    if throttled(&state, &[(&owner, ACCOUNT_FAILURES)]).await? {
        let mut response = second_factor_form(&state, pending, Some(THROTTLED)).await?;
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(response);
    }
    if !second_factor_holds(&state, &pending.user, &form.code).await? {
        record_failure(&state, &[&owner]).await?;
        audit_person(&state, &pending.user, "user.second_factor_failed", &origin).await?;
        let mut response = second_factor_form(&state, pending, Some(WRONG_CODE)).await?;
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    }
    state.store.clear_login_failures(&owner).await?;
    finish_second_factor(&state, &pending, &origin).await
}

/// Completes a sign-in whose second factor (a code or a passkey) was just checked.
pub(super) async fn finish_second_factor(
    state: &AppState,
    pending: &PendingSignIn,
    origin: &RequestOrigin,
) -> Result<Response, DashError> {
    // A new id now that the session holds every factor.
    let (full, cookie) =
        session::issue(state, &pending.user, pending.session.workspace_id, false, origin, None);
    if !state.store.rotate_session(&pending.session.token_hash, &full).await? {
        return Err(DashError::SignIn);
    }
    audit_person(state, &pending.user, "user.login", origin).await?;
    let mut response = see_other("/");
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(state): State<AppState>, posted: Posted<Empty>) -> Result<Response, DashError> {
    let who = posted.who;
    state.store.delete_session(who.user.id, who.session.id).await?;
    let mut response = see_other("/login");
    response.headers_mut().append(header::SET_COOKIE, session::clear(&state));
    Ok(response.into_response())
}
