//! Open sign-up, off unless `--open-signup`: anyone may make an account and a workspace of their
//! own (they are its owner). Without it, people join only by invitation and `/signup` is not
//! there at all.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use crier_core::{Actor, NewAuditEvent, NewWorkspace, StoreError, User};
use serde::Deserialize;

use super::login::{
    Factors, Origin, check_pre_session, pre_session_cookie, pre_session_csrf, record_failure, start_session,
    subject, throttled,
};
use super::{DashError, Nav, render};
use crate::oauth::hash_password;
use crate::state::AppState;

/// The shortest password a new person may choose (as for an invitation).
const MIN_PASSWORD_CHARS: usize = 12;
/// Accounts one address may make per 15 minutes.
const SIGNUPS_PER_ADDRESS: i64 = 5;

pub fn router() -> Router<AppState> {
    Router::new().route("/signup", get(signup_page).post(signup))
}

#[derive(askama::Template)]
#[template(path = "dashboard/signup.html")]
struct SignupPage {
    nav: Option<Nav>,
    csrf: String,
    email: String,
    workspace: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

fn open(state: &AppState) -> Result<(), DashError> {
    if state.config.open_signup { Ok(()) } else { Err(DashError::NotFound) }
}

fn show(state: &AppState, page: SignupPage, status: StatusCode) -> Response {
    let cookie = pre_session_cookie(state, &page.csrf);
    let mut response = render(&page);
    *response.status_mut() = status;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

async fn signup_page(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, DashError> {
    open(&state)?;
    let page = SignupPage {
        nav: None,
        csrf: pre_session_csrf(&headers),
        email: String::new(),
        workspace: String::new(),
        error: None,
    };
    Ok(show(&state, page, StatusCode::OK))
}

/// What is wrong with the form, said for people; None when it can be used.
fn problem(form: &SignupForm, email: &str, now: crier_core::Timestamp) -> Option<String> {
    let address_ok =
        email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(char::is_whitespace);
    if !address_ok {
        return Some("Enter an e-mail address such as you@example.com.".into());
    }
    if let Err(err) = NewWorkspace::new(&form.workspace, now) {
        return Some(format!("Workspace name: {err}."));
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!("Choose a password of at least {MIN_PASSWORD_CHARS} characters."));
    }
    if form.password != form.confirm {
        return Some("The two passwords differ.".into());
    }
    None
}

async fn signup(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    Form(form): Form<SignupForm>,
) -> Result<Response, DashError> {
    open(&state)?;
    check_pre_session(&headers, &form.csrf)?;
    let email = form.email.trim().to_ascii_lowercase();
    let refuse = |error: String, status| {
        let page = SignupPage {
            nav: None,
            csrf: form.csrf.clone(),
            email: email.clone(),
            workspace: form.workspace.clone(),
            error: Some(error),
        };
        Ok(show(&state, page, status))
    };
    let address = subject("signup-ip", origin.ip.as_deref().unwrap_or("unknown"));
    if throttled(&state, &[(&address, SIGNUPS_PER_ADDRESS)]).await? {
        return refuse(
            "Too many accounts were made from this address. Wait 15 minutes, then try again.".into(),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let now = state.clock.now();
    if let Some(error) = problem(&form, &email, now) {
        return refuse(error, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Every attempt that reaches here counts against the address, made or not.
    record_failure(&state, &[&address]).await?;
    // Sign-up without e-mail verification cannot hide that an address has an account; the page
    // says so (docs/PEOPLE.md), and sign-in itself still does not tell.
    if state.store.find_user_by_email(&email).await?.is_some() {
        return refuse(
            "An account with this address exists: sign in, or ask a workspace owner for an invitation."
                .into(),
            StatusCode::CONFLICT,
        );
    }
    let Some(vault) = state.vault.clone() else {
        return Err(DashError::Api(crate::ApiError::internal(&std::io::Error::other("no vault configured"))));
    };
    let hash = hash_password(&form.password)
        .map_err(|err| DashError::Api(crate::ApiError::internal(&std::io::Error::other(err.to_string()))))?;
    let user = User {
        id: uuid::Uuid::now_v7(),
        email: email.clone(),
        password_hash: hash,
        created_at: now,
        totp: None,
    };
    let actor = Actor(format!("user:{}", user.id));
    let workspace =
        NewWorkspace::new(&form.workspace, now).map_err(|err| DashError::BadForm(err.to_string()))?;
    let workspace = vault
        .create_workspace(&workspace, actor.clone(), &origin)
        .await
        .map_err(|err| DashError::Api(crate::ApiError::internal(&err)))?;
    let audit = NewAuditEvent::new(now, actor, "user.signed_up", user.id.to_string(), &origin);
    match state.store.create_user(&user, workspace.id, "owner", &audit).await {
        Ok(()) => {}
        // The same address signed up a moment ago: its workspace stays empty and unowned.
        Err(StoreError::Conflict(_)) => {
            return refuse(
                "An account with this address exists: sign in, or ask a workspace owner for an invitation."
                    .into(),
                StatusCode::CONFLICT,
            );
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(workspace = %workspace.id, "a person signed up");
    start_session(&state, &user, workspace.id, &origin, Factors::Password).await
}
