//! WebAuthn passkeys (W3C Web Authentication Level 3, through the `webauthn-rs` crate): adding
//! and removing them on the Security page, signing in with one alone (a discoverable credential:
//! it holds both factors), and using one as the second factor after the password.
//!
//! Each ceremony is two JSON requests made by the dashboard's script: `start` returns the options
//! for `navigator.credentials.create()`/`get()` and keeps the challenge server-side (a row found
//! by the hash of a random id in a short-lived cookie, taken once); `finish` verifies the
//! browser's answer against it. The relying party is the host of `--public-url`, or else the
//! request's host.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Duration;
use crier_core::{Ceremony, CeremonyKind, User, UserPasskey};
use serde::Deserialize;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use super::login::{
    ACCOUNT_FAILURES, ADDRESS_FAILURES, Factors, Origin, audit_person, check_pre_session,
    finish_second_factor, record_failure, start_session, subject, throttled,
};
use super::session::{self, PendingSignIn, Posted, SignedIn, csrf_matches, read_cookie, same_origin};
use super::{DashError, see_other};
use crate::extract::ApiPath;
use crate::oauth::{new_secret, secret_hash, verify_password};
use crate::state::AppState;

/// The cookie naming the browser's ceremony in progress.
const CEREMONY_COOKIE: &str = "crier_webauthn";
/// How long a ceremony may take (the browser's own timeout is 5 minutes too).
const CEREMONY_TTL: Duration = Duration::minutes(5);
/// A session signed in this recently may add a passkey without the password again.
const RECENT_SIGN_IN: Duration = Duration::minutes(10);
const NAME_MAX: usize = 60;

pub(super) const PASSKEY_FAILED: &str =
    "That passkey could not sign you in. Try again, or use your password.";
const NEED_PASSWORD: &str =
    "Enter your current password to add a passkey (you signed in more than 10 minutes ago).";
const WRONG_PASSWORD: &str = "The current password is not right.";
const CEREMONY_GONE: &str = "That took too long or was already used. Try again.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/security/passkeys/register/start", post(register_start))
        .route("/security/passkeys/register/finish", post(register_finish))
        .route("/security/passkeys/{id}/remove", post(remove))
        .route("/login/passkey/start", post(sign_in_start))
        .route("/login/passkey/finish", post(sign_in_finish))
        .route("/login/second-factor/passkey/start", post(second_factor_start))
        .route("/login/second-factor/passkey/finish", post(second_factor_finish))
}

/// A JSON refusal the script shows as it is.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The relying party: the host of `--public-url` (and its origin) when set, else the host the
/// request named, over http. WebAuthn needs a domain name (`localhost` counts), not an address.
fn relying_party(state: &AppState, headers: &HeaderMap) -> Option<Webauthn> {
    let origin = match &state.config.public_url {
        Some(url) => Url::parse(&url.origin().ascii_serialization()).ok(),
        None => headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|host| Url::parse(&format!("http://{host}")).ok()),
    };
    origin.as_ref().and_then(|origin| {
        let rp_id = origin.domain()?;
        WebauthnBuilder::new(rp_id, origin).and_then(|b| b.rp_name("Crier").build()).ok()
    })
}

/// The answer when there is no relying party (Crier reached by an IP address).
fn no_relying_party() -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        "Passkeys need Crier to be reached by a domain name: set --public-url, or use localhost.",
    )
}

/// The `x-csrf-token` header of a JSON request.
fn presented_csrf(headers: &HeaderMap) -> &str {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn check_session_csrf(headers: &HeaderMap, expected: &str) -> Result<(), DashError> {
    same_origin(headers)?;
    if csrf_matches(expected, presented_csrf(headers)) { Ok(()) } else { Err(DashError::Csrf) }
}

fn internal(err: impl std::error::Error + 'static) -> DashError {
    DashError::Api(crate::ApiError::internal(&err))
}

/// Keeps a ceremony's state server-side and answers with its options and the cookie naming it.
async fn begin(
    state: &AppState,
    kind: CeremonyKind,
    user: Option<uuid::Uuid>,
    ceremony_state: &impl serde::Serialize,
    options: &impl serde::Serialize,
) -> Result<Response, DashError> {
    let (secret, id_hash) = new_secret("wac_");
    let ceremony = Ceremony {
        id_hash,
        kind,
        user_id: user,
        state: serde_json::to_string(ceremony_state).map_err(internal)?,
        expires_at: state.clock.now() + CEREMONY_TTL,
    };
    state.store.insert_ceremony(&ceremony).await?;
    let mut response = Json(options).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::cookie(state, CEREMONY_COOKIE, Some(&secret), CEREMONY_TTL));
    Ok(response)
}

/// Takes the browser's ceremony of `kind` (once) and reads its state; `None` if there is none,
/// it expired, or it belongs to someone else.
async fn take<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    kind: CeremonyKind,
    user: Option<uuid::Uuid>,
) -> Result<Option<T>, DashError> {
    let Some(secret) = read_cookie(headers, CEREMONY_COOKIE) else { return Ok(None) };
    let Some(ceremony) = state.store.take_ceremony(&secret_hash(secret), kind, state.clock.now()).await?
    else {
        return Ok(None);
    };
    if ceremony.user_id != user {
        return Ok(None);
    }
    Ok(serde_json::from_str(&ceremony.state).ok())
}

/// Ends the ceremony cookie along with a finished ceremony.
fn clear_ceremony(state: &AppState, response: &mut Response) {
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::cookie(state, CEREMONY_COOKIE, None, Duration::zero()));
}

/// A person's passkeys as the library reads them, with their rows.
async fn passkeys_of(state: &AppState, user: uuid::Uuid) -> Result<Vec<(UserPasskey, Passkey)>, DashError> {
    let rows = state.store.list_passkeys(user).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let passkey = serde_json::from_str(&row.passkey).ok()?;
            Some((row, passkey))
        })
        .collect())
}

/// Records a verified use: the new counter and backup state (`Passkey::update_credential`) and
/// the time.
async fn record_use(
    state: &AppState,
    row: &UserPasskey,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), DashError> {
    passkey.update_credential(result);
    let json = serde_json::to_string(&passkey).map_err(internal)?;
    state.store.record_passkey_use(row.user_id, row.id, &json, state.clock.now()).await?;
    Ok(())
}

#[derive(Deserialize)]
struct RegisterStartIn {
    #[serde(default)]
    password: String,
}

/// Starts adding a passkey: allowed to a session that signed in within the last 10 minutes, or
/// with the current password. The credential must be discoverable, so it can sign in alone.
async fn register_start(
    who: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<RegisterStartIn>,
) -> Result<Response, DashError> {
    check_session_csrf(&headers, &who.csrf)?;
    let Some(webauthn) = relying_party(&state, &headers) else { return Ok(no_relying_party()) };
    if state.clock.now() - who.session.created_at > RECENT_SIGN_IN {
        let account = subject("email", &who.user.email);
        if throttled(&state, &[(&account, ACCOUNT_FAILURES)]).await? {
            return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, super::login::THROTTLED));
        }
        if input.password.is_empty() {
            return Ok(refuse(StatusCode::FORBIDDEN, NEED_PASSWORD));
        }
        if !verify_password(&input.password, Some(&who.user.password_hash)) {
            record_failure(&state, &[&account]).await?;
            return Ok(refuse(StatusCode::FORBIDDEN, WRONG_PASSWORD));
        }
    }
    let existing = passkeys_of(&state, who.user.id).await?;
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
    let (options, registration) = webauthn
        .start_passkey_registration(who.user.id, &who.user.email, &who.user.email, Some(exclude))
        .map_err(internal)?;
    // A discoverable credential (the library asks for none), so the passkey can sign in alone;
    // the registration state does not depend on it.
    let mut options = serde_json::to_value(&options).map_err(internal)?;
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
    }
    begin(&state, CeremonyKind::Register, Some(who.user.id), &registration, &options).await
}

#[derive(Deserialize)]
struct RegisterFinishIn {
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

async fn register_finish(
    who: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<RegisterFinishIn>,
) -> Result<Response, DashError> {
    check_session_csrf(&headers, &who.csrf)?;
    let Some(webauthn) = relying_party(&state, &headers) else { return Ok(no_relying_party()) };
    let Some(registration) =
        take::<PasskeyRegistration>(&state, &headers, CeremonyKind::Register, Some(who.user.id)).await?
    else {
        return Ok(refuse(StatusCode::BAD_REQUEST, CEREMONY_GONE));
    };
    let passkey = match webauthn.finish_passkey_registration(&input.credential, &registration) {
        Ok(passkey) => passkey,
        Err(err) => {
            tracing::info!(error = %err, "a passkey registration was refused");
            return Ok(refuse(StatusCode::BAD_REQUEST, "The browser's answer did not verify. Try again."));
        }
    };
    let name = input.name.trim();
    let name = if name.is_empty() { "Passkey".to_owned() } else { name.chars().take(NAME_MAX).collect() };
    let row = UserPasskey {
        id: uuid::Uuid::now_v7(),
        user_id: who.user.id,
        credential_id: passkey.cred_id().as_ref().to_vec(),
        passkey: serde_json::to_string(&passkey).map_err(internal)?,
        name,
        created_at: state.clock.now(),
        last_used_at: None,
    };
    let audit = who.tenant.audit(state.clock.now(), "passkey.added", format!("passkey:{}", row.id));
    match state.store.add_passkey(&row, who.session.workspace_id, &audit).await {
        Ok(()) => {}
        Err(crier_core::StoreError::Conflict(_)) => {
            return Ok(refuse(StatusCode::CONFLICT, "This passkey is registered already."));
        }
        Err(err) => return Err(err.into()),
    }
    let mut response = Json(serde_json::json!({ "location": "/security" })).into_response();
    clear_ceremony(&state, &mut response);
    Ok(response)
}

async fn remove(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let audit = who.tenant.audit(state.clock.now(), "passkey.removed", format!("passkey:{id}"));
    if !state.store.remove_passkey(who.user.id, id, who.session.workspace_id, &audit).await? {
        return Err(DashError::NotFound);
    }
    Ok(see_other("/security"))
}

/// Starts a passwordless sign-in: no account named, the browser offers its passkeys for this site.
async fn sign_in_start(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, DashError> {
    check_pre_session(&headers, presented_csrf(&headers))?;
    let Some(webauthn) = relying_party(&state, &headers) else { return Ok(no_relying_party()) };
    let (mut options, authentication) = webauthn.start_discoverable_authentication().map_err(internal)?;
    // A button press, not the autofill ("conditional") flow the library prepares for.
    options.mediation = None;
    begin(&state, CeremonyKind::SignIn, None, &authentication, &options).await
}

#[derive(Deserialize)]
struct AssertionIn {
    credential: PublicKeyCredential,
}

/// Finishes a passwordless sign-in. An unknown credential, a wrong signature or a spent
/// challenge all get one answer and change nothing but the failure count.
async fn sign_in_finish(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    Json(input): Json<AssertionIn>,
) -> Result<Response, DashError> {
    check_pre_session(&headers, presented_csrf(&headers))?;
    let Some(webauthn) = relying_party(&state, &headers) else { return Ok(no_relying_party()) };
    let address = subject("ip", origin.ip.as_deref().unwrap_or("unknown"));
    if throttled(&state, &[(&address, ADDRESS_FAILURES)]).await? {
        return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, super::login::THROTTLED));
    }
    let ceremony = take::<DiscoverableAuthentication>(&state, &headers, CeremonyKind::SignIn, None).await?;
    let (user, verified) = match ceremony {
        Some(ceremony) => verify_discoverable(&state, &webauthn, &input.credential, ceremony).await?,
        None => (None, None),
    };
    let Some(user) = user else {
        record_failure(&state, &[&address]).await?;
        tracing::info!(ip = origin.ip.as_deref().unwrap_or("unknown"), "a passkey sign-in failed");
        return Ok(refuse(StatusCode::UNAUTHORIZED, PASSKEY_FAILED));
    };
    let account = subject("email", &user.email);
    let workspace = state.store.user_workspaces(user.id).await?.first().map(|(ws, _)| *ws);
    let throttled_account = throttled(&state, &[(&account, ACCOUNT_FAILURES)]).await?;
    let (Some((row, passkey, result)), Some(workspace), false) = (verified, workspace, throttled_account)
    else {
        record_failure(&state, &[&account, &address]).await?;
        audit_person(&state, &user, "user.login_failed", &origin).await?;
        tracing::info!(ip = origin.ip.as_deref().unwrap_or("unknown"), "a passkey sign-in failed");
        let (status, message) = if throttled_account {
            (StatusCode::TOO_MANY_REQUESTS, super::login::THROTTLED)
        } else {
            (StatusCode::UNAUTHORIZED, PASSKEY_FAILED)
        };
        return Ok(refuse(status, message));
    };
    record_use(&state, &row, passkey, &result).await?;
    state.store.clear_login_failures(&account).await?;
    let started = start_session(&state, &user, workspace, &origin, Factors::Passkey).await?;
    let mut response = as_json_redirect(started);
    clear_ceremony(&state, &mut response);
    Ok(response)
}

type Verified = (UserPasskey, Passkey, webauthn_rs::prelude::AuthenticationResult);

/// The account a discoverable credential names (if its passkey is known and theirs) and, when
/// the assertion verifies, the passkey and result.
async fn verify_discoverable(
    state: &AppState,
    webauthn: &Webauthn,
    credential: &PublicKeyCredential,
    ceremony: DiscoverableAuthentication,
) -> Result<(Option<User>, Option<Verified>), DashError> {
    let Ok((user_id, credential_id)) = webauthn.identify_discoverable_authentication(credential) else {
        return Ok((None, None));
    };
    let Some(row) = state.store.find_passkey(credential_id).await? else { return Ok((None, None)) };
    // The user handle must name the passkey's owner.
    if row.user_id != user_id {
        return Ok((None, None));
    }
    let Some(user) = state.store.get_user(row.user_id).await? else { return Ok((None, None)) };
    let Ok(passkey) = serde_json::from_str::<Passkey>(&row.passkey) else { return Ok((Some(user), None)) };
    let key = DiscoverableKey::from(&passkey);
    match webauthn.finish_discoverable_authentication(credential, ceremony, &[key]) {
        Ok(result) => Ok((Some(user), Some((row, passkey, result)))),
        Err(err) => {
            tracing::info!(error = %err, "a passkey assertion did not verify");
            Ok((Some(user), None))
        }
    }
}

/// A redirect answered to a script: `{"location": …}` with the same cookies.
fn as_json_redirect(redirect: Response) -> Response {
    let location =
        redirect.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("/").to_owned();
    let cookies: Vec<HeaderValue> = redirect.headers().get_all(header::SET_COOKIE).iter().cloned().collect();
    let mut response = Json(serde_json::json!({ "location": location })).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Starts a passkey as the second factor: the person's own passkeys are the only ones allowed.
async fn second_factor_start(
    pending: PendingSignIn,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    check_session_csrf(&headers, &pending.csrf)?;
    let Some(webauthn) = relying_party(&state, &headers) else { return Ok(no_relying_party()) };
    let passkeys: Vec<Passkey> =
        passkeys_of(&state, pending.user.id).await?.into_iter().map(|(_, p)| p).collect();
    if passkeys.is_empty() {
        return Ok(refuse(StatusCode::BAD_REQUEST, "You have no passkey. Use the code from your app."));
    }
    let (options, authentication) = webauthn.start_passkey_authentication(&passkeys).map_err(internal)?;
    begin(&state, CeremonyKind::SecondFactor, Some(pending.user.id), &authentication, &options).await
}

async fn second_factor_finish(
    pending: PendingSignIn,
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    Json(input): Json<AssertionIn>,
) -> Result<Response, DashError> {
    check_session_csrf(&headers, &pending.csrf)?;
    let Some(webauthn) = relying_party(&state, &headers) else { return Ok(no_relying_party()) };
    let owner = subject("second-factor", &pending.user.id.to_string());
    if throttled(&state, &[(&owner, ACCOUNT_FAILURES)]).await? {
        return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, super::login::THROTTLED));
    }
    let ceremony =
        take::<PasskeyAuthentication>(&state, &headers, CeremonyKind::SecondFactor, Some(pending.user.id))
            .await?;
    let verified = match ceremony {
        Some(ceremony) => verify_own(&state, &webauthn, &pending.user, &input.credential, &ceremony).await?,
        None => None,
    };
    let Some((row, passkey, result)) = verified else {
        record_failure(&state, &[&owner]).await?;
        audit_person(&state, &pending.user, "user.second_factor_failed", &origin).await?;
        return Ok(refuse(StatusCode::UNAUTHORIZED, PASSKEY_FAILED));
    };
    record_use(&state, &row, passkey, &result).await?;
    state.store.clear_login_failures(&owner).await?;
    let done = finish_second_factor(&state, &pending, &origin).await?;
    let mut response = as_json_redirect(done);
    clear_ceremony(&state, &mut response);
    Ok(response)
}

/// Verifies an assertion by one of `user`'s own passkeys; someone else's credential is refused
/// before any verification.
async fn verify_own(
    state: &AppState,
    webauthn: &Webauthn,
    user: &User,
    credential: &PublicKeyCredential,
    ceremony: &PasskeyAuthentication,
) -> Result<Option<Verified>, DashError> {
    let Some(row) = state.store.find_passkey(credential.get_credential_id()).await? else { return Ok(None) };
    if row.user_id != user.id {
        return Ok(None);
    }
    let Ok(passkey) = serde_json::from_str::<Passkey>(&row.passkey) else { return Ok(None) };
    match webauthn.finish_passkey_authentication(credential, ceremony) {
        Ok(result) if result.cred_id() == passkey.cred_id() => Ok(Some((row, passkey, result))),
        Ok(_) => Ok(None),
        Err(err) => {
            tracing::info!(error = %err, "a passkey assertion did not verify");
            Ok(None)
        }
    }
}
