//! Signing in through another service (OpenID Connect, Google, GitHub), and linking such an
//! identity to your own account from the security page.
//!
//! A flow is bound to the browser that started it: a random value travels in the provider's
//! `state` parameter and another in an `HttpOnly; SameSite=Lax` cookie (sent on the provider's
//! top-level redirect back); the flow row is found only by the hashes of both, taken once, and
//! lives ten minutes. Linking rules: a known identity signs its person in; an unknown one links
//! to the account with the same address only if the provider verified that address; otherwise
//! nothing is stored and the person is told to ask for an invitation (there is no open sign-up).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;
use crier_core::{RequestOrigin, SsoFlow, User, UserIdentity};
use serde::Deserialize;

use super::login::{Factors, Origin, audit_person, check_pre_session, start_session};
use super::session::{self, Posted, SignedIn, read_cookie};
use super::{DashError, see_other};
use crate::oauth::{base_url, new_secret, secret_hash};
use crate::sso::{Authenticated, SsoProvider};
use crate::state::AppState;

/// The cookie that binds a flow to the browser that started it.
const FLOW_COOKIE: &str = "crier_sso";
const FLOW_LIFETIME: Duration = Duration::minutes(10);

pub(super) const NO_ACCOUNT: &str = "There is no account for this sign-in. Ask a workspace owner for an \
     invitation; once you have an account, you can link this sign-in to it from the Security page.";
pub(super) const STALE: &str = "This sign-in link is not valid (any more): it was used already, is older \
     than ten minutes, or was started in another browser. Go back to the sign-in page and start again.";
const FAILED: &str = "The sign-in with the other service did not complete. Try again; if it keeps \
     happening, tell the operator.";
const TAKEN: &str = "That account at the other service is linked to another Crier account already.";
const WRONG_SESSION: &str = "Linking must finish in the session that started it. Sign in and start again \
     from the Security page.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/sso/{provider}", post(begin_sign_in))
        .route("/login/sso/{provider}/callback", get(callback))
        .route("/security/sso/{provider}/link", post(begin_link))
        .route("/security/sso/unlink", post(unlink))
}

/// A configured provider's button.
pub(super) struct Button {
    pub name: String,
    pub label: String,
}

pub(super) fn buttons(state: &AppState) -> Vec<Button> {
    state.config.sso.iter().map(|p| Button { name: p.name.clone(), label: p.label.clone() }).collect()
}

fn provider<'a>(state: &'a AppState, name: &str) -> Result<&'a SsoProvider, DashError> {
    state.config.sso.iter().find(|p| p.name == name).ok_or(DashError::NotFound)
}

fn redirect_uri(state: &AppState, headers: &HeaderMap, provider: &SsoProvider) -> String {
    format!("{}/login/sso/{}/callback", base_url(state, headers), provider.name)
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn begin_sign_in(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> Result<Response, DashError> {
    check_pre_session(&headers, &form.csrf)?;
    let provider = provider(&state, &name)?;
    begin(&state, &headers, provider, None).await
}

#[derive(Deserialize)]
struct Empty {}

async fn begin_link(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    posted: Posted<Empty>,
) -> Result<Response, DashError> {
    let provider = provider(&state, &name)?;
    begin(&state, &headers, provider, Some(posted.who.user.id)).await
}

/// Stores the flow and sends the browser to the provider.
async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    provider: &SsoProvider,
    link_user: Option<uuid::Uuid>,
) -> Result<Response, DashError> {
    let (state_value, state_hash) = new_secret("sso_");
    let (browser, browser_hash) = new_secret("ssb_");
    let now = state.clock.now();
    let url = provider
        .authorize_url(&redirect_uri(state, headers, provider), &state_value, &browser)
        .await
        .map_err(|err| failed(provider, &err))?;
    let flow = SsoFlow {
        state_hash,
        browser_hash,
        provider: provider.name.clone(),
        link_user,
        created_at: now,
        expires_at: now + FLOW_LIFETIME,
    };
    state.store.insert_sso_flow(&flow).await?;
    let mut response = see_other(url.as_str());
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::cookie(state, FLOW_COOKIE, Some(&browser), FLOW_LIFETIME));
    Ok(response)
}

fn failed(provider: &SsoProvider, err: &crate::sso::SsoError) -> DashError {
    tracing::warn!(provider = %provider.name, error = %err, "a sign-in through another service failed");
    DashError::SignInRefused(FAILED)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    #[serde(default)]
    state: String,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Origin(origin): Origin,
    headers: HeaderMap,
    signed_in: Result<SignedIn, DashError>,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, DashError> {
    let provider = provider(&state, &name)?;
    // The flow cookie goes whatever the outcome.
    let clear = session::cookie(&state, FLOW_COOKIE, None, Duration::zero());
    let outcome = finish(&state, provider, &headers, &origin, signed_in.ok(), query).await;
    let mut response = match outcome {
        Ok(response) => response,
        Err(err) => axum::response::IntoResponse::into_response(err),
    };
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

async fn finish(
    state: &AppState,
    provider: &SsoProvider,
    headers: &HeaderMap,
    origin: &RequestOrigin,
    signed_in: Option<SignedIn>,
    query: CallbackQuery,
) -> Result<Response, DashError> {
    let browser = read_cookie(headers, FLOW_COOKIE).unwrap_or_default();
    if browser.is_empty() || query.state.is_empty() {
        return Err(DashError::SignInRefused(STALE));
    }
    let taken = state.store.take_sso_flow(&secret_hash(&query.state), &secret_hash(browser)).await?;
    let Some(flow) = taken else { return Err(DashError::SignInRefused(STALE)) };
    if flow.expires_at <= state.clock.now() || flow.provider != provider.name {
        return Err(DashError::SignInRefused(STALE));
    }
    let Some(code) = query.code.filter(|_| query.error.is_none()) else {
        tracing::info!(provider = %provider.name, error = query.error.as_deref().unwrap_or("none"), "the provider sent no code");
        return Err(DashError::SignInRefused(FAILED));
    };
    let who = provider
        .finish(&redirect_uri(state, headers, provider), &code, browser)
        .await
        .map_err(|err| failed(provider, &err))?;
    match flow.link_user {
        Some(user) => link(state, provider, signed_in, user, who).await,
        None => sign_in(state, provider, origin, who).await,
    }
}

/// Finishes a link started from the security page: only in the session of the person who
/// started it.
async fn link(
    state: &AppState,
    provider: &SsoProvider,
    signed_in: Option<SignedIn>,
    user: uuid::Uuid,
    who: Authenticated,
) -> Result<Response, DashError> {
    let Some(me) = signed_in.filter(|me| me.user.id == user) else {
        return Err(DashError::SignInRefused(WRONG_SESSION));
    };
    match state.store.find_identity(provider.identity_provider(), &who.subject).await? {
        Some(existing) if existing.user_id == me.user.id => return Ok(see_other("/security")),
        Some(_) => return Err(DashError::SignInRefused(TAKEN)),
        None => {}
    }
    let identity = UserIdentity {
        provider: provider.identity_provider().to_owned(),
        subject: who.subject,
        user_id: me.user.id,
        email: who.email.filter(|_| who.email_verified),
        created_at: state.clock.now(),
    };
    let audit =
        me.tenant.audit(state.clock.now(), "identity.linked", identity_target(provider, &identity.subject));
    state.store.link_identity(&identity, me.session.workspace_id, &audit).await.map_err(|err| match err {
        crier_core::StoreError::Conflict(_) => DashError::SignInRefused(TAKEN),
        other => other.into(),
    })?;
    Ok(see_other("/security"))
}

fn identity_target(provider: &SsoProvider, subject: &str) -> String {
    format!("identity:{}:{subject}", provider.name)
}

/// Signs in the person this identity belongs to, linking it first when the provider verified
/// an address that is theirs.
async fn sign_in(
    state: &AppState,
    provider: &SsoProvider,
    origin: &RequestOrigin,
    who: Authenticated,
) -> Result<Response, DashError> {
    let known = state.store.find_identity(provider.identity_provider(), &who.subject).await?;
    let (user, new_link) = match known {
        Some(identity) => (state.store.get_user(identity.user_id).await?, false),
        None => match &who.email {
            Some(email) => {
                let owner = state.store.find_user_by_email(email).await?;
                if !who.email_verified {
                    // The address may belong to someone else: never a link on an unverified one.
                    if let Some(owner) = &owner {
                        audit_person(state, owner, "user.login_failed", origin).await?;
                    }
                    (None, false)
                } else {
                    (owner, true)
                }
            }
            None => (None, false),
        },
    };
    let workspace = match &user {
        Some(user) => state.store.user_workspaces(user.id).await?.first().map(|(ws, _)| *ws),
        None => None,
    };
    let (Some(user), Some(workspace)) = (user, workspace) else {
        tracing::info!(provider = %provider.name, ip = origin.ip.as_deref().unwrap_or("unknown"), "a sign-in through another service matched no account");
        return Err(DashError::SignInRefused(NO_ACCOUNT));
    };
    if new_link {
        let identity = UserIdentity {
            provider: provider.identity_provider().to_owned(),
            subject: who.subject.clone(),
            user_id: user.id,
            email: who.email.clone(),
            created_at: state.clock.now(),
        };
        let audit =
            person_audit(state, &user, "identity.linked", identity_target(provider, &who.subject), origin);
        state.store.link_identity(&identity, workspace, &audit).await?;
    }
    audit_person(state, &user, "user.login_sso", origin).await?;
    // Another service vouches for the first factor only: a second one is still owed.
    start_session(state, &user, workspace, origin, Factors::Password).await
}

fn person_audit(
    state: &AppState,
    user: &User,
    action: &str,
    target: String,
    origin: &RequestOrigin,
) -> crier_core::NewAuditEvent {
    crier_core::NewAuditEvent::new(
        state.clock.now(),
        crier_core::Actor(format!("user:{}", user.id)),
        action,
        target,
        origin,
    )
}

#[derive(Deserialize)]
struct UnlinkForm {
    provider: String,
    subject: String,
}

/// Unlinks one of your identities (the password still signs you in).
async fn unlink(State(state): State<AppState>, posted: Posted<UnlinkForm>) -> Result<Response, DashError> {
    let who = posted.who;
    let form = posted.form;
    let provider = provider(&state, &form.provider)?;
    let audit =
        who.tenant.audit(state.clock.now(), "identity.unlinked", identity_target(provider, &form.subject));
    let gone = state
        .store
        .unlink_identity(
            who.user.id,
            provider.identity_provider(),
            &form.subject,
            who.session.workspace_id,
            &audit,
        )
        .await?;
    if !gone {
        return Err(DashError::NotFound);
    }
    Ok(see_other("/security"))
}

/// The person's linked identities as the security page lists them.
pub(super) struct LinkedRow {
    pub provider: String,
    pub label: String,
    pub subject: String,
    pub email: String,
}

pub(super) async fn linked(state: &AppState, user: uuid::Uuid) -> Result<Vec<LinkedRow>, DashError> {
    let identities = state.store.list_identities(user).await?;
    Ok(identities
        .into_iter()
        .filter_map(|identity| {
            let provider = state.config.sso.iter().find(|p| p.identity_provider() == identity.provider)?;
            Some(LinkedRow {
                provider: provider.name.clone(),
                label: identity.provider.clone(),
                subject: identity.subject,
                email: identity.email.unwrap_or_default(),
            })
        })
        .collect())
}
