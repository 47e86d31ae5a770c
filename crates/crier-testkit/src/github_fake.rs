//! A fake GitHub for the dashboard's "Sign in with GitHub": the OAuth app flow (with PKCE) and
//! the two REST calls Crier makes, `GET /user` and `GET /user/emails`, in the shapes GitHub
//! documents (docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps,
//! docs.github.com/en/rest/users/users, docs.github.com/en/rest/users/emails). Its consent page
//! signs in whichever account the test chose with [`GitHubFake::sign_in_as`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::fake_server::{self, Shared};

pub const CLIENT_ID: &str = "Iv1.crier-test";
pub const CLIENT_SECRET: &str = "github-test-secret";

/// An address of an account: (address, primary, verified).
pub type Email = (&'static str, bool, bool);

#[derive(Default)]
struct Inner {
    accounts: HashMap<String, (u64, Vec<Email>)>,
    signing_in: Option<String>,
    /// Code -> (login, PKCE challenge).
    codes: HashMap<String, (String, String)>,
}

type St = Arc<Shared<Inner>>;

pub struct GitHubFake {
    shared: St,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitHubFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GitHubFake {
    pub async fn start() -> Self {
        let (listener, shared) = fake_server::bind(Inner::default()).await;
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .with_state(shared.clone());
        let task = fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// Both the web and the API base URL.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn add_account(&self, login: &str, id: u64, emails: Vec<Email>) {
        self.shared.lock().accounts.insert(login.to_owned(), (id, emails));
    }

    /// The account the next consent page signs in.
    pub fn sign_in_as(&self, login: &str) {
        self.shared.lock().signing_in = Some(login.to_owned());
    }
}

async fn authorize(State(st): State<St>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = st.lock();
    let (Some(login), Some(redirect), Some(state), Some(challenge)) =
        (inner.signing_in.clone(), q.get("redirect_uri"), q.get("state"), q.get("code_challenge"))
    else {
        return (StatusCode::BAD_REQUEST, "missing parameter or nobody signing in").into_response();
    };
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (StatusCode::BAD_REQUEST, "bad client or PKCE method").into_response();
    }
    let code = format!("code-{}", inner.codes.len());
    inner.codes.insert(code.clone(), (login, challenge.clone()));
    let mut url = url::Url::parse(redirect).unwrap();
    url.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    Redirect::to(url.as_str()).into_response()
}

async fn access_token(State(st): State<St>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let taken = st.lock().codes.remove(field("code"));
    let Some((login, challenge)) = taken else {
        return Json(json!({ "error": "bad_verification_code" })).into_response();
    };
    let verifier_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(field("code_verifier").as_bytes()));
    if field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
        || verifier_hash != challenge
    {
        return Json(json!({ "error": "incorrect_client_credentials" })).into_response();
    }
    Json(json!({ "access_token": format!("gho_{login}"), "token_type": "bearer", "scope": "read:user,user:email" }))
        .into_response()
}

fn account(st: &St, headers: &HeaderMap) -> Option<(u64, String, Vec<Email>)> {
    let login = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer gho_")?.to_owned();
    let (id, emails) = st.lock().accounts.get(&login)?.clone();
    Some((id, login, emails))
}

async fn user(State(st): State<St>, headers: HeaderMap) -> Response {
    match account(&st, &headers) {
        Some((id, login, _)) => Json(json!({ "id": id, "login": login, "type": "User" })).into_response(),
        None => {
            (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Requires authentication" }))).into_response()
        }
    }
}

async fn emails(State(st): State<St>, headers: HeaderMap) -> Response {
    match account(&st, &headers) {
        Some((_, _, emails)) => Json(
            emails
                .iter()
                .map(|(email, primary, verified)| {
                    json!({ "email": email, "primary": primary, "verified": verified, "visibility": "private" })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Requires authentication" }))).into_response(),
    }
}
