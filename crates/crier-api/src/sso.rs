//! Signing in to the dashboard through another service: a generic OpenID Connect issuer, Google
//! (OpenID Connect at https://accounts.google.com) and GitHub (OAuth 2 then its REST API: GitHub
//! has no OpenID Connect for people signing in). This module speaks the protocols; the pages and
//! the linking rules are in `dashboard::sso`.
//!
//! The PKCE verifier and the nonce of a flow are derived from the random value of the cookie
//! that binds the flow to the browser, so the server stores nothing secret for a flow under way.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

/// The Google preset's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// What identities from GitHub are stored under (it has no issuer URL).
pub const GITHUB: &str = "github";
const GITHUB_WEB: &str = "https://github.com";
const GITHUB_API: &str = "https://api.github.com";
/// Largest answer read from GitHub's API.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// One way to sign in, as configured by the operator.
#[derive(Clone)]
pub struct SsoProvider {
    /// In the callback path: `oidc`, `google` or `github`.
    pub name: String,
    /// The button's text.
    pub label: String,
    pub kind: SsoKind,
    client_id: String,
    client_secret: Zeroizing<String>,
}

#[derive(Debug, Clone)]
pub enum SsoKind {
    /// An OpenID Connect issuer, exactly as it names itself in its discovery document.
    Oidc { issuer: String },
    /// GitHub's OAuth app flow; the URLs are GitHub's own except in tests.
    GitHub { web: Url, api: Url },
}

impl std::fmt::Debug for SsoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoProvider")
            .field("name", &self.name)
            .field("label", &self.label)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A provider setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum SsoConfigError {
    #[error("the issuer is not a URL: {0}")]
    Issuer(String),
}

impl SsoProvider {
    /// A generic OpenID Connect issuer (`name` is `oidc`).
    pub fn oidc(
        issuer: &str,
        client_id: String,
        client_secret: String,
        label: String,
    ) -> Result<Self, SsoConfigError> {
        IssuerUrl::new(issuer.to_owned()).map_err(|_| SsoConfigError::Issuer(issuer.to_owned()))?;
        Ok(Self {
            name: "oidc".into(),
            label,
            kind: SsoKind::Oidc { issuer: issuer.to_owned() },
            client_id,
            client_secret: Zeroizing::new(client_secret),
        })
    }

    /// Google, through its OpenID Connect issuer.
    pub fn google(client_id: String, client_secret: String) -> Self {
        Self {
            name: "google".into(),
            label: "Sign in with Google".into(),
            kind: SsoKind::Oidc { issuer: GOOGLE_ISSUER.into() },
            client_id,
            client_secret: Zeroizing::new(client_secret),
        }
    }

    /// GitHub, through an OAuth app.
    pub fn github(client_id: String, client_secret: String) -> Self {
        let web = Url::parse(GITHUB_WEB).unwrap_or_else(|_| unreachable!("a valid URL"));
        let api = Url::parse(GITHUB_API).unwrap_or_else(|_| unreachable!("a valid URL"));
        Self::github_at(client_id, client_secret, web, api)
    }

    /// GitHub at other URLs (a test double).
    pub fn github_at(client_id: String, client_secret: String, web: Url, api: Url) -> Self {
        Self {
            name: "github".into(),
            label: "Sign in with GitHub".into(),
            kind: SsoKind::GitHub { web, api },
            client_id,
            client_secret: Zeroizing::new(client_secret),
        }
    }

    /// What this provider's identities are stored under: the issuer, or `github`.
    pub fn identity_provider(&self) -> &str {
        match &self.kind {
            SsoKind::Oidc { issuer } => issuer,
            SsoKind::GitHub { .. } => GITHUB,
        }
    }
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the address (only such an address links an account).
    pub email_verified: bool,
}

/// Why a sign-in through a provider did not complete (logged; the person sees a short page).
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("could not read the issuer's discovery document: {0}")]
    Discovery(String),
    #[error("the provider's token endpoint refused the code: {0}")]
    Exchange(String),
    #[error("the provider sent no ID token")]
    NoIdToken,
    #[error("the ID token did not verify: {0}")]
    IdToken(String),
    #[error("the provider's API answered unexpectedly: {0}")]
    Api(String),
}

/// The HTTP client for providers: no redirects (openidconnect's advice against SSRF through the
/// token endpoint), short timeouts.
fn http_client() -> Result<reqwest::Client, SsoError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(20))
        .user_agent("Crier (self-hosted)")
        .build()
        .map_err(|err| SsoError::Api(err.to_string()))
}

/// An error with its causes, for the log.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn derived(browser_secret: &str, purpose: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("crier-sso-{purpose}:{browser_secret}").as_bytes()))
}

/// The PKCE verifier of the flow bound to `browser_secret` (43 characters, RFC 7636 §4.1).
fn pkce_verifier(browser_secret: &str) -> PkceCodeVerifier {
    PkceCodeVerifier::new(derived(browser_secret, "pkce"))
}

fn nonce(browser_secret: &str) -> Nonce {
    Nonce::new(derived(browser_secret, "nonce"))
}

impl SsoProvider {
    /// Where to send the browser: the provider's consent page for this flow.
    pub async fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        browser_secret: &str,
    ) -> Result<Url, SsoError> {
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&pkce_verifier(browser_secret));
        match &self.kind {
            SsoKind::Oidc { issuer } => {
                let http = http_client()?;
                let client = self.oidc_client(&http, issuer, redirect_uri).await?;
                let state = state.to_owned();
                let nonce = nonce(browser_secret);
                // Authentication request, OpenID Connect Core 1.0 §3.1.2.1:
                // https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
                let (url, _, _) = client
                    .authorize_url(
                        CoreAuthenticationFlow::AuthorizationCode,
                        move || CsrfToken::new(state),
                        move || nonce,
                    )
                    .add_scope(Scope::new("email".into()))
                    .set_pkce_challenge(challenge)
                    .url();
                Ok(url)
            }
            SsoKind::GitHub { web, .. } => {
                // https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#1-request-a-users-github-identity
                let mut url =
                    web.join("login/oauth/authorize").map_err(|err| SsoError::Api(err.to_string()))?;
                url.query_pairs_mut()
                    .append_pair("client_id", &self.client_id)
                    .append_pair("redirect_uri", redirect_uri)
                    .append_pair("scope", "read:user user:email")
                    .append_pair("state", state)
                    .append_pair("allow_signup", "false")
                    .append_pair("code_challenge", challenge.as_str())
                    .append_pair("code_challenge_method", "S256");
                Ok(url)
            }
        }
    }

    /// Trades the code the provider sent back for who signed in.
    pub async fn finish(
        &self,
        redirect_uri: &str,
        code: &str,
        browser_secret: &str,
    ) -> Result<Authenticated, SsoError> {
        let http = http_client()?;
        match &self.kind {
            SsoKind::Oidc { issuer } => {
                let client = self.oidc_client(&http, issuer, redirect_uri).await?;
                // Token request, OpenID Connect Core 1.0 §3.1.3.1:
                // https://openid.net/specs/openid-connect-core-1_0.html#TokenRequest
                let tokens = client
                    .exchange_code(AuthorizationCode::new(code.to_owned()))
                    .map_err(|err| SsoError::Exchange(err.to_string()))?
                    .set_pkce_verifier(pkce_verifier(browser_secret))
                    .request_async(&http)
                    .await
                    .map_err(|err| SsoError::Exchange(chain(&err)))?;
                let id_token = tokens.id_token().ok_or(SsoError::NoIdToken)?;
                // ID token validation, §3.1.3.7: signature, issuer, audience, expiry and nonce.
                let claims = id_token
                    .claims(&client.id_token_verifier(), &nonce(browser_secret))
                    .map_err(|err| SsoError::IdToken(err.to_string()))?;
                Ok(Authenticated {
                    subject: claims.subject().as_str().to_owned(),
                    email: claims.email().map(|email| email.as_str().to_ascii_lowercase()),
                    email_verified: claims.email_verified() == Some(true),
                })
            }
            SsoKind::GitHub { web, api } => {
                self.finish_github(&http, web, api, redirect_uri, code, browser_secret).await
            }
        }
    }

    async fn oidc_client(
        &self,
        http: &reqwest::Client,
        issuer: &str,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SsoError,
    > {
        let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|err| SsoError::Discovery(err.to_string()))?;
        // OpenID Connect Discovery 1.0 §4:
        // https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
        let metadata = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|err| SsoError::Discovery(chain(&err)))?;
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|err| SsoError::Discovery(err.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.to_string())),
        )
        .set_redirect_uri(redirect))
    }

    async fn finish_github(
        &self,
        http: &reqwest::Client,
        web: &Url,
        api: &Url,
        redirect_uri: &str,
        code: &str,
        browser_secret: &str,
    ) -> Result<Authenticated, SsoError> {
        let fail = |err: &dyn std::fmt::Display| SsoError::Api(err.to_string());
        // https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#2-users-are-redirected-back-to-your-site-by-github
        let token_url = web.join("login/oauth/access_token").map_err(|err| fail(&err))?;
        let verifier = pkce_verifier(browser_secret);
        let answer = http
            .post(token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.secret().as_str()),
            ])
            .send()
            .await
            .map_err(|err| fail(&err))?;
        let token: GitHubToken = read_json(answer).await?;
        let Some(access_token) = token.access_token.map(Zeroizing::new) else {
            return Err(SsoError::Exchange(token.error.unwrap_or_else(|| "no access token".into())));
        };
        // https://docs.github.com/en/rest/users/users#get-the-authenticated-user
        let user: GitHubUser = read_json(github_get(http, api, "user", &access_token).await?).await?;
        // https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
        let emails: Vec<GitHubEmail> =
            read_json(github_get(http, api, "user/emails", &access_token).await?).await?;
        // Only the primary address, and only if GitHub verified it.
        let primary = emails.into_iter().find(|e| e.primary);
        Ok(Authenticated {
            subject: user.id.to_string(),
            email: primary.as_ref().map(|e| e.email.to_ascii_lowercase()),
            email_verified: primary.is_some_and(|e| e.verified),
        })
    }
}

async fn github_get(
    http: &reqwest::Client,
    api: &Url,
    path: &str,
    access_token: &str,
) -> Result<reqwest::Response, SsoError> {
    let url = api.join(path).map_err(|err| SsoError::Api(err.to_string()))?;
    http.get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|err| SsoError::Api(err.to_string()))
}

async fn read_json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, SsoError> {
    let status = response.status();
    let body = response.bytes().await.map_err(|err| SsoError::Api(err.to_string()))?;
    if body.len() > MAX_ANSWER_BYTES {
        return Err(SsoError::Api("the answer is too large".into()));
    }
    if !status.is_success() {
        return Err(SsoError::Api(format!("status {status}")));
    }
    serde_json::from_slice(&body).map_err(|err| SsoError::Api(err.to_string()))
}

#[derive(Deserialize)]
struct GitHubToken {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_no_secret_and_the_derived_values_are_valid_pkce() {
        let provider = SsoProvider::google("client-id".into(), "very-secret-value".into());
        let printed = format!("{provider:?}");
        assert!(printed.contains("google") && !printed.contains("very-secret-value"), "{printed}");
        let verifier = pkce_verifier("ssb_browser");
        assert_eq!(verifier.secret().len(), 43);
        assert_ne!(verifier.secret(), nonce("ssb_browser").secret());
        assert_ne!(pkce_verifier("ssb_other").secret(), verifier.secret());
    }
}
