//! A person's own security: their sessions (with revoke), the TOTP second factor with its
//! recovery codes (shown once), and the list of their passkeys (added and used in `passkeys`).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::login::Origin;
use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other, totp};
use crate::extract::ApiPath;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/security", get(security))
        .route("/security/sessions/{id}/revoke", post(revoke_session))
        .route("/security/totp", get(totp_setup).post(totp_enable))
        .route("/security/totp/disable", post(totp_disable))
        .route("/security/password", post(change_password))
        .route("/security/require-second-factor", post(require_second_factor))
}

struct SessionRow {
    id: uuid::Uuid,
    current: bool,
    created_at: String,
    last_seen_at: String,
    ip: String,
    user_agent: String,
}

struct PasskeyRow {
    id: uuid::Uuid,
    name: String,
    created_at: String,
    last_used_at: String,
}

#[derive(askama::Template)]
#[template(path = "dashboard/security.html")]
struct SecurityPage {
    nav: Option<Nav>,
    sessions: Vec<SessionRow>,
    totp_on: bool,
    recovery_left: i64,
    passkeys: Vec<PasskeyRow>,
    /// Whether this person may change the workspace's security settings.
    can_manage_security: bool,
    second_factor_required: bool,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    /// Identities at other services that sign this person in, and the services they may link.
    linked: Vec<super::sso::LinkedRow>,
    sso: Vec<super::sso::Button>,
}

async fn security(who: SignedIn, State(state): State<AppState>) -> Result<Response, DashError> {
    security_page(&who, &state, None, None).await
}

async fn security_page(
    who: &SignedIn,
    state: &AppState,
    notice: Option<&'static str>,
    error: Option<&'static str>,
) -> Result<Response, DashError> {
    let sessions = state
        .store
        .list_sessions(who.user.id)
        .await?
        .into_iter()
        .filter(|s| !s.pending_second_factor && s.is_live(state.clock.now(), &state.config.sessions))
        .map(|s| SessionRow {
            id: s.id,
            current: s.id == who.session.id,
            created_at: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen_at: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ip: s.ip.unwrap_or_else(|| "unknown".into()),
            user_agent: s.user_agent.unwrap_or_else(|| "unknown".into()),
        })
        .collect();
    let passkeys = state
        .store
        .list_passkeys(who.user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            created_at: p.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_used_at: p
                .last_used_at
                .map_or_else(|| "never".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        })
        .collect();
    Ok(render(&SecurityPage {
        nav: Some(who.nav()),
        sessions,
        totp_on: who.user.totp.is_some(),
        recovery_left: state.store.unused_recovery_codes(who.user.id).await?,
        passkeys,
        can_manage_security: who.role.permits(crier_core::Permission::ManageOwnersAndSecurity),
        second_factor_required: state.store.second_factor_required(who.session.workspace_id).await?,
        notice,
        error,
        linked: super::sso::linked(state, who.user.id).await?,
        sso: super::sso::buttons(state),
    }))
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

/// A new password: the current one proves it is you; every other session ends, and this one
/// gets a new id.
async fn change_password(
    State(state): State<AppState>,
    Origin(origin): Origin,
    posted: Posted<PasswordForm>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let form = posted.form;
    if !crate::oauth::verify_password(&form.current, Some(&who.user.password_hash)) {
        return security_page(&who, &state, None, Some("The current password is not right.")).await;
    }
    if form.new.chars().count() < 12 {
        return security_page(&who, &state, None, Some("Choose a new password of at least 12 characters."))
            .await;
    }
    if form.new != form.confirm {
        return security_page(&who, &state, None, Some("The two new passwords differ.")).await;
    }
    let hash = crate::oauth::hash_password(&form.new)
        .map_err(|err| DashError::Api(crate::ApiError::internal(&std::io::Error::other(err.to_string()))))?;
    let audit = who.tenant.audit(state.clock.now(), "user.password_changed", format!("user:{}", who.user.id));
    state.store.set_password(who.user.id, &hash, who.session.id, who.session.workspace_id, &audit).await?;
    let (fresh, cookie) = super::session::issue(
        &state,
        &who.user,
        who.session.workspace_id,
        false,
        &origin,
        Some(who.session.created_at),
    );
    if !state.store.rotate_session(&who.session.token_hash, &fresh).await? {
        return Err(DashError::SignIn);
    }
    let mut response = see_other("/security");
    response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Deserialize)]
struct RequireForm {
    #[serde(default)]
    required: String,
}

/// Owners decide whether every member must sign in with a second factor.
async fn require_second_factor(
    State(state): State<AppState>,
    posted: Posted<RequireForm>,
) -> Result<Response, DashError> {
    let who = posted.who;
    who.require(crier_core::Permission::ManageOwnersAndSecurity)?;
    let required = posted.form.required == "on";
    let action =
        if required { "workspace.second_factor_required" } else { "workspace.second_factor_optional" };
    let audit = who.tenant.audit(state.clock.now(), action, who.session.workspace_id.to_string());
    state.store.require_second_factor(who.session.workspace_id, required, &audit).await?;
    Ok(see_other("/security"))
}

async fn revoke_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    if !state.store.delete_session(who.user.id, id).await? {
        return Err(DashError::NotFound);
    }
    let audit = who.tenant.audit(state.clock.now(), "user.session_revoked", format!("session:{id}"));
    state.store.append_audit(who.session.workspace_id, &audit).await?;
    Ok(see_other(if id == who.session.id { "/login" } else { "/security" }))
}

#[derive(askama::Template)]
#[template(path = "dashboard/totp.html")]
struct TotpPage {
    nav: Option<Nav>,
    secret: String,
    qr: String,
    error: Option<&'static str>,
    recovery_codes: Vec<String>,
}

fn setup_page(who: &SignedIn, secret: String, error: Option<&'static str>) -> Result<Response, DashError> {
    let bytes =
        totp::secret_bytes(&secret).ok_or_else(|| DashError::BadForm("the secret is not base32".into()))?;
    let generator = totp::generator(&bytes, &who.user.email)
        .ok_or_else(|| DashError::BadForm("the secret is too short".into()))?;
    let qr = totp::qr_data_uri(&generator).unwrap_or_default();
    Ok(render(&TotpPage { nav: Some(who.nav()), secret, qr, error, recovery_codes: Vec::new() }))
}

async fn totp_setup(who: SignedIn) -> Result<Response, DashError> {
    setup_page(&who, totp::new_secret(), None)
}

#[derive(Deserialize)]
struct EnableForm {
    secret: String,
    code: String,
}

/// Turns TOTP on once the person proves their app holds the secret (a current code).
async fn totp_enable(
    State(state): State<AppState>,
    posted: Posted<EnableForm>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let form = posted.form;
    let bytes = totp::secret_bytes(&form.secret)
        .ok_or_else(|| DashError::BadForm("the secret is not base32".into()))?;
    let generator = totp::generator(&bytes, &who.user.email)
        .ok_or_else(|| DashError::BadForm("the secret is too short".into()))?;
    let Some(step) = totp::matching_step(&generator, &form.code, state.clock.now()) else {
        return setup_page(
            &who,
            form.secret,
            Some("That code does not match. Check the time on your phone and try the next code."),
        );
    };
    let vault = state
        .vault
        .clone()
        .ok_or_else(|| DashError::Api(crate::ApiError::internal(&std::io::Error::other("no vault"))))?;
    let sealed = vault
        .seal_row(who.session.workspace_id, "totp", &bytes)
        .await
        .map_err(|err| DashError::Api(crate::ApiError::internal(&err)))?;
    let codes = totp::recovery_codes();
    let hashes: Vec<_> = codes.iter().map(|(_, hash)| *hash).collect();
    let audit = who.tenant.audit(state.clock.now(), "user.totp_enabled", format!("user:{}", who.user.id));
    state.store.enable_totp(who.user.id, &sealed, &hashes, &audit).await?;
    // The code just shown may not sign in again.
    state.store.use_totp_step(who.user.id, step).await?;
    Ok(render(&TotpPage {
        nav: Some(who.nav()),
        secret: String::new(),
        qr: String::new(),
        error: None,
        recovery_codes: codes.into_iter().map(|(code, _)| code).collect(),
    }))
}

async fn totp_disable(
    State(state): State<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let audit = who.tenant.audit(state.clock.now(), "user.totp_disabled", format!("user:{}", who.user.id));
    state.store.disable_totp(who.user.id, &audit).await?;
    Ok(see_other("/security"))
}
