//! The authorization endpoint: checks the request, shows the consent page (a minimal login), and
//! on approval redirects back with a single-use code, `state` and `iss`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use crier_core::{AuthorizationCode, OAuthClient, ScopeSet};
use serde::Deserialize;

use super::{
    CODE_LIFETIME, CODE_PREFIX, base_url, default_scopes, mcp_resource, new_secret, verify_password,
};
use crate::state::AppState;

const CSRF_COOKIE: &str = "crier_oauth_csrf";

/// The parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 8707).
#[derive(Debug, Clone, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
}

/// The consent form's fields: the request again, plus the login and the decision.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// `sign_in` (first page), then `approve` or `deny` (consent page).
    decision: String,
    /// On the consent page: the code issued at sign-in, released only on approval.
    code: Option<String>,
}

/// A checked request.
struct Checked {
    client: OAuthClient,
    redirect_uri: String,
    scopes: ScopeSet,
    state: Option<String>,
    code_challenge: String,
    resource: String,
}

/// Why a request was refused: before the redirect URI is trusted, to the user's browser; after,
/// back to the client (RFC 6749 §4.1.2.1).
enum Refusal {
    Page(String),
    Redirect { redirect_uri: String, error: &'static str, description: String, state: Option<String> },
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{}</title></head><body><main><h1>{}</h1>{body}\
         </main></body></html>",
        escape(title),
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page posts only to itself and loads nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => {
            return page(StatusCode::BAD_REQUEST, "Invalid redirect", "<p>The redirect URI is unusable.</p>");
        }
    };
    url.query_pairs_mut().extend_pairs(pairs.iter().copied());
    Redirect::to(url.as_str()).into_response()
}

fn refuse(state: &AppState, headers: &HeaderMap, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(reason) => page(
            StatusCode::BAD_REQUEST,
            "This authorization request is invalid",
            &format!("<p>{}</p>", escape(&reason)),
        ),
        Refusal::Redirect { redirect_uri, error, description, state: client_state } => {
            let issuer = base_url(state, headers);
            let mut pairs =
                vec![("error", error), ("error_description", description.as_str()), ("iss", issuer.as_str())];
            if let Some(s) = client_state.as_deref() {
                pairs.push(("state", s));
            }
            redirect_with(&redirect_uri, &pairs)
        }
    }
}

async fn check(state: &AppState, headers: &HeaderMap, params: &AuthorizeParams) -> Result<Checked, Refusal> {
    let client_id =
        params.client_id.as_deref().ok_or_else(|| Refusal::Page("client_id is missing".into()))?;
    let client = if client_id.starts_with("https://") || client_id.starts_with("http://") {
        metadata_document_client(state, client_id).await?
    } else {
        match state.store.get_client(client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(Refusal::Page("unknown client_id; register the client first".into())),
            Err(err) => {
                tracing::error!(error = %err, "could not read an OAuth client");
                return Err(Refusal::Page("try again later".into()));
            }
        }
    };
    let redirect_uri =
        params.redirect_uri.clone().ok_or_else(|| Refusal::Page("redirect_uri is missing".into()))?;
    // Exact string comparison, no prefix or pattern matching.
    if !client.redirect_uris.contains(&redirect_uri) {
        return Err(Refusal::Page("redirect_uri is not one this client registered".into()));
    }
    let back = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: params.state.clone(),
    };
    if params.response_type.as_deref() != Some("code") {
        return Err(back("unsupported_response_type", "only response_type=code is supported"));
    }
    let code_challenge = params
        .code_challenge
        .clone()
        .ok_or_else(|| back("invalid_request", "PKCE is required: send code_challenge"))?;
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(back("invalid_request", "code_challenge_method must be S256 (plain is not accepted)"));
    }
    if code_challenge.len() != 43
        || !code_challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(back("invalid_request", "code_challenge must be BASE64URL(SHA-256(verifier))"));
    }
    let ours = mcp_resource(state, headers);
    let resource = params.resource.clone().unwrap_or_else(|| ours.clone());
    if resource.trim_end_matches('/') != ours {
        return Err(back("invalid_target", "resource must be this server's MCP endpoint"));
    }
    let scopes = match params.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => default_scopes(),
        Some(text) => text.parse::<ScopeSet>().map_err(|_| back("invalid_scope", "unknown scope"))?,
    };
    Ok(Checked { client, redirect_uri, scopes, state: params.state.clone(), code_challenge, resource: ours })
}

/// A client known by the URL of its client ID metadata document: the document is fetched
/// (through the SSRF-safe client, small and quick) at every authorization, must name itself as
/// `client_id`, and lists the redirect URIs. The client is recorded so its codes and tokens can
/// refer to it.
async fn metadata_document_client(state: &AppState, client_id: &str) -> Result<OAuthClient, Refusal> {
    #[derive(Deserialize)]
    struct Document {
        client_id: String,
        client_name: Option<String>,
        #[serde(default)]
        redirect_uris: Vec<String>,
    }
    let policy = crier_net::OutboundPolicy {
        max_bytes: 64 * 1024,
        total_timeout: std::time::Duration::from_secs(5),
        ..(*state.outbound).clone()
    };
    let fetched = crier_net::OutboundClient::new(policy, state.resolver.clone())
        .get(client_id)
        .await
        .map_err(|refusal| {
            Refusal::Page(format!("the client's metadata document could not be fetched: {refusal}"))
        })?;
    let document: Document =
        serde_json::from_slice(&fetched.body).ok().filter(|_| fetched.status == 200).ok_or_else(|| {
            Refusal::Page("the client's metadata document is not a JSON client document".into())
        })?;
    if document.client_id != client_id {
        return Err(Refusal::Page("the client's metadata document names another client_id".into()));
    }
    let client = OAuthClient {
        client_id: client_id.to_owned(),
        name: document.client_name.unwrap_or_else(|| client_id.to_owned()).chars().take(200).collect(),
        redirect_uris: document.redirect_uris,
        created_at: state.clock.now(),
    };
    if let Ok(None) = state.store.get_client(client_id).await
        && let Err(err) = state.store.register_client(&client).await
    {
        // Another authorization recorded it meanwhile: fine.
        tracing::debug!(error = %err, "metadata document client already recorded");
    }
    Ok(client)
}

fn hidden(name: &str, value: Option<&str>) -> String {
    value.map_or_else(String::new, |v| {
        format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(v))
    })
}

/// The request's parameters, the CSRF token and (on the consent page) the code, as hidden fields.
fn carried_fields(params: &AuthorizeParams, csrf: &str, code: Option<&str>) -> String {
    [
        hidden("response_type", params.response_type.as_deref()),
        hidden("client_id", params.client_id.as_deref()),
        hidden("redirect_uri", params.redirect_uri.as_deref()),
        hidden("scope", params.scope.as_deref()),
        hidden("state", params.state.as_deref()),
        hidden("code_challenge", params.code_challenge.as_deref()),
        hidden("code_challenge_method", params.code_challenge_method.as_deref()),
        hidden("resource", params.resource.as_deref()),
        hidden("csrf", Some(csrf)),
        hidden("code", code),
    ]
    .concat()
}

/// `GET /oauth/authorize`: the consent page.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let checked = match check(&state, &headers, &params).await {
        Ok(checked) => checked,
        Err(refusal) => return refuse(&state, &headers, refusal),
    };
    let (csrf, _) = new_secret("");
    let scopes: String =
        checked.scopes.iter().map(|s| format!("<li><code>{}</code></li>", s.as_str())).collect();
    let fields = carried_fields(&params, &csrf, None);
    let body = format!(
        "<p><strong>{}</strong> (client <code>{}</code>) asks to act in your Crier workspace with these \
         scopes:</p><ul>{scopes}</ul><p>It will be able to do this until you revoke it; its tokens work \
         only at <code>{}</code>.</p><form method=\"post\" action=\"/oauth/authorize\">{fields}\
         <p><label for=\"email\">Email</label> <input id=\"email\" name=\"email\" type=\"email\" required \
         autocomplete=\"username\"></p><p><label for=\"password\">Password</label> <input id=\"password\" \
         name=\"password\" type=\"password\" required autocomplete=\"current-password\"></p>\
         <p><button name=\"decision\" value=\"sign_in\">Sign in</button> \
         <button name=\"decision\" value=\"deny\" formnovalidate>Deny</button></p></form>",
        escape(&checked.client.name),
        escape(&checked.client.client_id),
        escape(&checked.resource),
    );
    let mut response = page(StatusCode::OK, "Allow access to Crier?", &body);
    let cookie =
        format!("{CSRF_COOKIE}={csrf}; Path=/oauth/authorize; HttpOnly; SameSite=Strict; Max-Age=900");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim().strip_prefix(CSRF_COOKIE).and_then(|rest| rest.strip_prefix('=')).map(str::to_owned)
        })
}

/// `POST /oauth/authorize`: signing in (then the consent page, naming the workspace), then the
/// decision. Every step needs the CSRF cookie of the first page. The code is issued at sign-in but
/// released to the client only when the person approves; denying deletes it.
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    let checked = match check(&state, &headers, &form.params).await {
        Ok(checked) => checked,
        Err(refusal) => return refuse(&state, &headers, refusal),
    };
    if csrf_cookie(&headers).is_none_or(|cookie| !constant_time_eq(cookie.as_bytes(), form.csrf.as_bytes())) {
        return page(
            StatusCode::FORBIDDEN,
            "Please try again",
            "<p>This form expired or was not sent from Crier's page. Go back to your application and start again.</p>",
        );
    }
    let issuer = base_url(&state, &headers);
    let back = |pairs: Vec<(&'static str, String)>| {
        let mut pairs = pairs;
        pairs.push(("iss", issuer.clone()));
        if let Some(s) = &checked.state {
            pairs.push(("state", s.clone()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut response = redirect_with(&checked.redirect_uri, &pairs);
        *response.status_mut() = StatusCode::SEE_OTHER;
        response
    };
    match (form.decision.as_str(), form.code.as_deref()) {
        ("approve", Some(code)) => back(vec![("code", code.to_owned())]),
        ("deny", code) => {
            if let Some(code) = code {
                let _ = state.store.take_code(&super::secret_hash(code)).await;
            }
            back(vec![("error", "access_denied".into())])
        }
        ("sign_in", None) => sign_in(&state, &checked, &form).await,
        _ => page(
            StatusCode::BAD_REQUEST,
            "Please try again",
            "<p>Go back to your application and start again.</p>",
        ),
    }
}

/// Checks the login, issues the code, and shows the consent page with the workspace.
async fn sign_in(state: &AppState, checked: &Checked, form: &DecisionForm) -> Response {
    let user = match state.store.find_user_by_email(form.email.trim()).await {
        Ok(user) => user,
        Err(err) => {
            tracing::error!(error = %err, "could not read a user");
            return page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "");
        }
    };
    // Verified whether or not the user exists, so timing does not tell.
    let verified = verify_password(&form.password, user.as_ref().map(|u| u.password_hash.as_str()));
    let Some(user) = user.filter(|_| verified) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign-in failed",
            "<p>The email or password is wrong. Go back and try again.</p>",
        );
    };
    let memberships = state.store.user_workspaces(user.id).await.unwrap_or_default();
    let Some((workspace, role)) = memberships.into_iter().next() else {
        return page(StatusCode::FORBIDDEN, "No workspace", "<p>Your account belongs to no workspace.</p>");
    };
    let workspace_name = match state.store.get_workspace(workspace).await {
        Ok(found) => found.name,
        Err(_) => return page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", ""),
    };
    let scopes: ScopeSet = checked.scopes.iter().filter(|scope| role_allows(&role, *scope)).collect();
    let (code, hash) = new_secret(CODE_PREFIX);
    let stored = AuthorizationCode {
        hash,
        client_id: checked.client.client_id.clone(),
        workspace_id: workspace,
        user_id: user.id,
        redirect_uri: checked.redirect_uri.clone(),
        code_challenge: checked.code_challenge.clone(),
        scopes: scopes.clone(),
        resource: checked.resource.clone(),
        expires_at: state.clock.now() + CODE_LIFETIME,
    };
    if let Err(err) = state.store.insert_code(&stored).await {
        tracing::error!(error = %err, "could not store an authorization code");
        return page(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "");
    }
    let listed: String = scopes.iter().map(|s| format!("<li><code>{}</code></li>", s.as_str())).collect();
    let params = &form.params;
    let fields = carried_fields(params, &form.csrf, Some(&code));
    let body = format!(
        "<p>Signed in as <strong>{}</strong>.</p><p><strong>{}</strong> (client <code>{}</code>) asks to \
         act in the workspace <strong>{}</strong> with these scopes:</p><ul>{listed}</ul><p>Its tokens \
         work only at <code>{}</code>.</p><form method=\"post\" action=\"/oauth/authorize\">{fields}\
         <p><button name=\"decision\" value=\"approve\">Allow</button> \
         <button name=\"decision\" value=\"deny\">Deny</button></p></form>",
        escape(&user.email),
        escape(&checked.client.name),
        escape(&checked.client.client_id),
        escape(&workspace_name),
        escape(&checked.resource),
    );
    page(StatusCode::OK, "Allow access to Crier?", &body)
}

/// What each role may grant an agent (the dashboard issue brings the full role table).
fn role_allows(role: &str, scope: crier_core::Scope) -> bool {
    use crier_core::Scope::*;
    match role {
        "owner" | "admin" => true,
        "member" => !matches!(scope, KeysAdmin | WebhooksAdmin | AuditRead),
        _ => matches!(scope, PostsRead | ChannelsRead | MediaRead | EventsRead),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
