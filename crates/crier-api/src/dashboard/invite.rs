//! Accepting an invitation: the link's page, where a new person chooses a password, or someone
//! with an account proves it with theirs; either way they join with the invited role and are
//! signed in. The link works once and expires.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use crier_core::{Actor, Invitation, Invitee, NewAuditEvent, StoreError, User};
use serde::Deserialize;

use super::login::{
    ACCOUNT_FAILURES, Factors, Origin, THROTTLED, check_pre_session, pre_session_cookie, pre_session_csrf,
    record_failure, start_session, subject, throttled,
};
use super::{DashError, Nav, render};
use crate::oauth::{hash_password, secret_hash, verify_password};
use crate::state::AppState;

/// The shortest password a new person may choose (as `crier user create`).
const MIN_PASSWORD_CHARS: usize = 12;

pub fn router() -> Router<AppState> {
    Router::new().route("/invite/{token}", get(invitation_page).post(accept))
}

#[derive(askama::Template)]
#[template(path = "dashboard/invite.html")]
struct InvitePage {
    nav: Option<Nav>,
    csrf: String,
    email: String,
    role: &'static str,
    has_account: bool,
    error: Option<&'static str>,
}

/// The invitation the token names, if it can still be accepted.
async fn live_invitation(state: &AppState, token: &str) -> Result<Invitation, DashError> {
    let invitation = state.store.find_invitation(&secret_hash(token)).await?;
    match invitation {
        Some(inv) if inv.accepted_at.is_none() && inv.expires_at > state.clock.now() => Ok(inv),
        _ => Err(gone()),
    }
}

/// An unknown, spent or expired invitation: all look the same.
fn gone() -> DashError {
    DashError::Api(crate::ApiError::not_found(
        "invitation (it may have been used, withdrawn or have expired)",
    ))
}

async fn show(
    state: &AppState,
    invitation: &Invitation,
    csrf: String,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, DashError> {
    let has_account = state.store.find_user_by_email(&invitation.email).await?.is_some();
    let mut response = render(&InvitePage {
        nav: None,
        csrf: csrf.clone(),
        email: invitation.email.clone(),
        role: invitation.role.as_str(),
        has_account,
        error,
    });
    *response.status_mut() = status;
    response.headers_mut().append(header::SET_COOKIE, pre_session_cookie(state, &csrf));
    Ok(response)
}

async fn invitation_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let invitation = live_invitation(&state, &token).await?;
    show(&state, &invitation, pre_session_csrf(&headers), None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Origin(origin): Origin,
    headers: HeaderMap,
    Form(form): Form<AcceptForm>,
) -> Result<Response, DashError> {
    check_pre_session(&headers, &form.csrf)?;
    let invitation = live_invitation(&state, &token).await?;
    let existing = state.store.find_user_by_email(&invitation.email).await?;
    let now = state.clock.now();
    let (user, invitee_is_new) = match existing {
        Some(user) => {
            // Joining with an existing account takes its password, throttled like a sign-in.
            let account = subject("email", &user.email);
            if throttled(&state, &[(&account, ACCOUNT_FAILURES)]).await? {
                return show(&state, &invitation, form.csrf, Some(THROTTLED), StatusCode::TOO_MANY_REQUESTS)
                    .await;
            }
            if !verify_password(&form.password, Some(&user.password_hash)) {
                record_failure(&state, &[&account]).await?;
                return show(
                    &state,
                    &invitation,
                    form.csrf,
                    Some("That is not the password of this account."),
                    StatusCode::UNAUTHORIZED,
                )
                .await;
            }
            (user, false)
        }
        None => {
            if form.password.chars().count() < MIN_PASSWORD_CHARS {
                return show(
                    &state,
                    &invitation,
                    form.csrf,
                    Some("Choose a password of at least 12 characters."),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            if form.password != form.confirm {
                return show(
                    &state,
                    &invitation,
                    form.csrf,
                    Some("The two passwords differ."),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            let hash = hash_password(&form.password).map_err(|err| {
                DashError::Api(crate::ApiError::internal(&std::io::Error::other(err.to_string())))
            })?;
            let user = User {
                id: uuid::Uuid::now_v7(),
                email: invitation.email.clone(),
                password_hash: hash,
                created_at: now,
                totp: None,
            };
            (user, true)
        }
    };
    let invitee = if invitee_is_new { Invitee::New(&user) } else { Invitee::Existing(user.id) };
    let audit = NewAuditEvent::new(
        now,
        Actor(format!("user:{}", user.id)),
        &format!("member.joined.{}", invitation.role),
        format!("invitation:{}", invitation.id),
        &origin,
    );
    match state.store.accept_invitation(&secret_hash(&token), invitee, now, &audit).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(gone()),
        Err(StoreError::Conflict(_)) => {
            return show(
                &state,
                &invitation,
                form.csrf,
                Some("This account is a member of the workspace already: sign in instead."),
                StatusCode::CONFLICT,
            )
            .await;
        }
        Err(other) => return Err(other.into()),
    }
    start_session(&state, &user, invitation.workspace_id, &origin, Factors::Password).await
}
