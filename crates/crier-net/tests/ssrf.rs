//! Hostile URLs against the outbound policy. Each must be refused before any connection: a local
//! listener on the port they aim at must never see one. Only loopback addresses are ever
//! connected to; refused private and metadata addresses are never dialled.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use crier_net::{OutboundClient, OutboundPolicy, Refusal, Resolve, check_url};
use crier_testkit::ssrf::serve_on;
use tokio::net::TcpListener;

/// Answers every name with fixed addresses, and counts the look-ups.
struct FixedResolver {
    answers: Vec<Vec<SocketAddr>>,
    calls: AtomicUsize,
}

impl FixedResolver {
    fn new(answers: Vec<Vec<&str>>) -> Self {
        Self {
            answers: answers
                .into_iter()
                .map(|a| a.into_iter().map(|s| s.parse().unwrap()).collect())
                .collect(),
            calls: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Resolve for FixedResolver {
    async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<SocketAddr>, Refusal> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers.get(call).or(self.answers.last()).cloned().unwrap_or_default();
        if answer.is_empty() { Err(Refusal::Unresolvable(host.to_owned())) } else { Ok(answer) }
    }
}

/// A loopback HTTP server answering every request with `response`, counting connections.
async fn server(response: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
    serve_on("127.0.0.1:0", response).await
}

fn ok(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
        .into_bytes()
}

#[tokio::test]
async fn forty_hostile_urls_are_refused_without_a_connection() {
    let (address, connections) = server(ok("secret")).await;
    let p = address.port();
    let strict = OutboundPolicy::default();
    // Names used below resolve like a hostile DNS server would.
    let private_dns = FixedResolver::new(vec![vec!["10.0.0.5:443"]]);
    let cases = crier_testkit::ssrf::hostile_urls(p);
    assert!(cases.len() >= 40);
    let client =
        OutboundClient::new(strict.clone(), Arc::new(FixedResolver::new(vec![vec!["10.0.0.5:443"]])));
    for url in &cases {
        let checked = check_url(url, &strict, &private_dns).await;
        assert!(checked.is_err(), "{url} passed the policy");
        let fetched = client.get(url).await;
        let refusal = fetched.expect_err(url);
        assert!(!refusal.to_string().is_empty(), "{url}: a clear reason");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no hostile URL reached the listener");
}

#[tokio::test]
async fn a_name_with_any_private_answer_is_refused() {
    let mixed = FixedResolver::new(vec![vec!["1.1.1.1:443", "127.0.0.1:443"]]);
    let refusal =
        check_url("https://mixed.example.test/", &OutboundPolicy::default(), &mixed).await.unwrap_err();
    assert!(matches!(refusal, Refusal::Forbidden { why, .. } if why.contains("loopback")), "{refusal:?}");
}

#[tokio::test]
async fn dns_rebinding_cannot_move_the_connection() {
    // The name first resolves to the allowed server, then to the "internal" one. The client must
    // look it up once and connect to what it checked.
    let (allowed, allowed_hits) = server(ok("public content")).await;
    let (internal, internal_hits) = serve_on("127.0.0.2:0", ok("internal secret")).await;
    let internal_at_same_port = format!("127.0.0.2:{}", allowed.port());
    let _ = internal;
    let resolver =
        Arc::new(FixedResolver::new(vec![vec![&allowed.to_string()], vec![&internal_at_same_port]]));
    let policy = OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() };
    let client = OutboundClient::new(policy, resolver.clone());
    let fetched = client.get(&format!("http://rebind.example.test:{}/", allowed.port())).await.unwrap();
    assert_eq!(fetched.body, b"public content");
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1, "resolved exactly once");
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
    assert_eq!(internal_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_rechecked_and_bounded() {
    let to_metadata = "HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/latest/meta-data/\r\ncontent-length: 0\r\n\r\n";
    let (hop, hop_hits) = server(to_metadata.as_bytes().to_vec()).await;
    let policy = OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() };
    let client = OutboundClient::new(policy.clone(), Arc::new(crier_net::SystemResolver));
    let refusal = client.get(&format!("http://{hop}/")).await.unwrap_err();
    assert!(matches!(refusal, Refusal::Forbidden { .. }), "{refusal:?}");
    assert_eq!(hop_hits.load(Ordering::SeqCst), 1);

    let to_self = |port: u16| {
        format!("HTTP/1.1 301 Moved\r\nlocation: http://127.0.0.1:{port}/again\r\ncontent-length: 0\r\n\r\n")
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let (looping, loop_hits) = serve_on(&format!("127.0.0.1:{port}"), to_self(port).into_bytes()).await;
    let refusal = client.get(&format!("http://{looping}/")).await.unwrap_err();
    assert_eq!(refusal, Refusal::TooManyRedirects(3));
    assert_eq!(loop_hits.load(Ordering::SeqCst), 4, "the first request and three redirects, no more");
}

#[tokio::test]
async fn bodies_are_cut_at_the_limit_while_streaming() {
    let big = "x".repeat(64 * 1024);
    let (declared, _) = server(ok(&big)).await;
    let chunked = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    let (streamed, _) = server(chunked.into_bytes()).await;
    let policy =
        OutboundPolicy { allow_insecure_loopback: true, max_bytes: 1024, ..OutboundPolicy::default() };
    let client = OutboundClient::new(policy, Arc::new(crier_net::SystemResolver));
    for address in [declared, streamed] {
        let refusal = client.get(&format!("http://{address}/")).await.unwrap_err();
        assert_eq!(refusal, Refusal::TooLarge(1024), "{address}");
    }
}
