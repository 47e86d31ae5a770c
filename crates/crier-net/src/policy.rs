use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use url::{Host, Url};

use crate::ip;

/// What outbound requests may do.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Development only: allow `http` URLs and loopback addresses (never private or metadata
    /// ranges). Tests of Crier itself turn it on to reach local peers.
    pub allow_insecure_loopback: bool,
    pub max_redirects: usize,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub max_bytes: u64,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_insecure_loopback: false,
            max_redirects: 3,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(30),
            max_bytes: 100 * 1024 * 1024,
        }
    }
}

/// Why a URL or a response was refused. The message is safe to show the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a valid URL")]
    Malformed,
    #[error("only https URLs are allowed")]
    Scheme,
    #[error("URLs with a user name or password are not allowed")]
    Credentials,
    #[error("the host {host} resolves to a {why} address, which is not allowed")]
    Forbidden { host: String, why: &'static str },
    #[error("the host {0} could not be resolved")]
    Unresolvable(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("a redirect without a usable Location")]
    BadRedirect,
    #[error("the response is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the request timed out")]
    Timeout,
    #[error("the request failed: {0}")]
    Failed(String),
}

/// Name resolution, behind a trait so tests can answer like a hostile DNS server would.
#[async_trait]
pub trait Resolve: Send + Sync {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal>;
}

/// The system resolver (getaddrinfo, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let found = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| Refusal::Unresolvable(host.to_owned()))?;
        Ok(found.collect())
    }
}

/// A URL that passed the policy, with the one address the connection must go to.
#[derive(Debug, Clone)]
pub struct CheckedUrl {
    pub url: Url,
    pub host: String,
    pub pinned: SocketAddr,
}

fn allowed(ip: IpAddr, host: &str, policy: &OutboundPolicy) -> Result<(), Refusal> {
    if policy.allow_insecure_loopback && ip.is_loopback() {
        return Ok(());
    }
    match ip::forbidden(ip) {
        Some(why) => Err(Refusal::Forbidden { host: host.to_owned(), why }),
        None => Ok(()),
    }
}

/// Checks a URL against the policy and resolves its host once. Every resolved address must be
/// allowed (a name answering with one public and one private address is refused), and the
/// first is pinned for the connection.
pub async fn check_url(
    raw: &str,
    policy: &OutboundPolicy,
    resolver: &dyn Resolve,
) -> Result<CheckedUrl, Refusal> {
    let url = Url::parse(raw.trim()).map_err(|_| Refusal::Malformed)?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_insecure_loopback => {}
        _ => return Err(Refusal::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    let port = url.port_or_known_default().ok_or(Refusal::Malformed)?;
    let (host, addresses) = match url.host().ok_or(Refusal::Malformed)? {
        Host::Ipv4(v4) => (v4.to_string(), vec![SocketAddr::new(IpAddr::V4(v4), port)]),
        Host::Ipv6(v6) => (v6.to_string(), vec![SocketAddr::new(IpAddr::V6(v6), port)]),
        Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() {
                return Err(Refusal::Malformed);
            }
            let addresses = resolver.resolve(&domain, port).await?;
            (domain, addresses)
        }
    };
    let pinned = *addresses.first().ok_or_else(|| Refusal::Unresolvable(host.clone()))?;
    for address in &addresses {
        allowed(address.ip(), &host, policy)?;
    }
    Ok(CheckedUrl { url, host, pinned })
}
