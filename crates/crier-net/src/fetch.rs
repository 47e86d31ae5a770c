use std::sync::Arc;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;

use crate::policy::{CheckedUrl, OutboundPolicy, Refusal, Resolve, check_url};

/// A fetched body, within the byte limit.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The URL finally answered, after redirects.
    pub final_url: String,
}

/// The answer to a POST: status, headers, and the start of the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// At most the `keep` bytes the caller asked for; the rest is not read.
    pub body_start: Vec<u8>,
}

/// Fetches user-supplied URLs under the policy.
#[derive(Clone)]
pub struct OutboundClient {
    policy: OutboundPolicy,
    resolver: Arc<dyn Resolve>,
}

impl OutboundClient {
    pub fn new(policy: OutboundPolicy, resolver: Arc<dyn Resolve>) -> Self {
        Self { policy, resolver }
    }

    /// A client for one checked URL: its host is pinned to the checked address, so reqwest does
    /// no lookup of its own, and redirects are left to us.
    fn pinned_client(&self, checked: &CheckedUrl) -> Result<reqwest::Client, Refusal> {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .connect_timeout(self.policy.connect_timeout)
            .timeout(self.policy.total_timeout)
            .resolve(&checked.host, checked.pinned)
            .no_proxy()
            .build()
            .map_err(|err| Refusal::Failed(err.to_string()))
    }

    /// GET with every hop checked, the body read up to the byte limit.
    pub async fn get(&self, url: &str) -> Result<Fetched, Refusal> {
        let mut current = url.to_owned();
        for _ in 0..=self.policy.max_redirects {
            let checked = check_url(&current, &self.policy, self.resolver.as_ref()).await?;
            let client = self.pinned_client(&checked)?;
            let mut response = client.get(checked.url.clone()).send().await.map_err(|err| {
                if err.is_timeout() { Refusal::Timeout } else { Refusal::Failed(without_url(&err)) }
            })?;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| checked.url.join(l).ok())
                    .ok_or(Refusal::BadRedirect)?;
                current = location.to_string();
                continue;
            }
            if response.content_length().is_some_and(|n| n > self.policy.max_bytes) {
                return Err(Refusal::TooLarge(self.policy.max_bytes));
            }
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|err| {
                if err.is_timeout() { Refusal::Timeout } else { Refusal::Failed(without_url(&err)) }
            })? {
                if body.len() as u64 + chunk.len() as u64 > self.policy.max_bytes {
                    return Err(Refusal::TooLarge(self.policy.max_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(Fetched { status, content_type, body, final_url: checked.url.to_string() });
        }
        Err(Refusal::TooManyRedirects(self.policy.max_redirects))
    }
}

impl OutboundClient {
    /// POSTs `body` once, redirects not followed (a 3xx is returned as the answer, for the
    /// caller to treat as a failure). Keeps the first `keep` bytes of the answer's body.
    pub async fn post(
        &self,
        url: &str,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
        keep: usize,
    ) -> Result<Answer, Refusal> {
        let checked = check_url(url, &self.policy, self.resolver.as_ref()).await?;
        let client = self.pinned_client(&checked)?;
        let mut response =
            client.post(checked.url.clone()).headers(headers).body(body).send().await.map_err(|err| {
                if err.is_timeout() { Refusal::Timeout } else { Refusal::Failed(without_url(&err)) }
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body_start = Vec::new();
        // A failure while reading the rest of an answer whose status we have does not change it.
        while body_start.len() < keep {
            match response.chunk().await {
                Ok(Some(chunk)) => body_start.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body_start.truncate(keep);
        Ok(Answer { status, headers, body_start })
    }
}

/// A platform's answer to an API call: status, headers and the whole body (within the limit).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl OutboundClient {
    /// One API call to a user-named host (a Mastodon instance, a PDS): the host is checked and
    /// pinned like any fetch, `build` adds headers and a body, redirects are not followed (a 3xx
    /// is returned), and the answer's body is read up to the byte limit.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Reply, Refusal> {
        let checked = check_url(url, &self.policy, self.resolver.as_ref()).await?;
        let client = self.pinned_client(&checked)?;
        let mut response =
            build(client.request(method, checked.url.clone())).send().await.map_err(|err| {
                if err.is_timeout() { Refusal::Timeout } else { Refusal::Failed(without_url(&err)) }
            })?;
        if response.content_length().is_some_and(|n| n > self.policy.max_bytes) {
            return Err(Refusal::TooLarge(self.policy.max_bytes));
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| {
            if err.is_timeout() { Refusal::Timeout } else { Refusal::Failed(without_url(&err)) }
        })? {
            if body.len() as u64 + chunk.len() as u64 > self.policy.max_bytes {
                return Err(Refusal::TooLarge(self.policy.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply { status, headers, body })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Checks a URL under this client's policy and resolver without calling it, for a connection
    /// made by other means (Reddit's websocket): the caller must connect to `pinned` only.
    pub async fn check(&self, url: &str) -> Result<CheckedUrl, Refusal> {
        check_url(url, &self.policy, self.resolver.as_ref()).await
    }
}

/// reqwest errors name the URL, which may carry a user's token in its query: leave it out.
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}
