//! Hostile URLs for the outbound policy's tests (crier-net's own and the API's that take URLs),
//! and a listener that counts who reached it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// At least 40 URLs that must be refused, aimed where they would reach a listener on loopback
/// port `p` if the policy let them through: loopback in every spelling (decimal, octal, hex, short
/// forms, trailing dots, full-width digits, IPv6 and its IPv4-mapped, -compatible, NAT64 and 6to4
/// forms, userinfo tricks), private, CGNAT, metadata, multicast, broadcast and reserved ranges, a
/// name that does not resolve publicly, other schemes, plain http, and garbage.
pub fn hostile_urls(p: u16) -> Vec<String> {
    vec![
        format!("https://127.0.0.1:{p}/"),
        format!("http://127.0.0.1:{p}/"),
        format!("https://2130706433:{p}/"),
        format!("https://0x7f000001:{p}/"),
        format!("https://0177.0.0.1:{p}/"),
        format!("https://0177.00.00.01:{p}/"),
        format!("https://127.1:{p}/"),
        format!("https://0x7f.1:{p}/"),
        format!("https://127.0.0.1.:{p}/"),
        format!("https://127.000.000.001:{p}/"),
        format!("https://[::1]:{p}/"),
        format!("https://[0:0:0:0:0:0:0:1]:{p}/"),
        format!("https://[::ffff:127.0.0.1]:{p}/"),
        format!("https://[::ffff:7f00:1]:{p}/"),
        format!("https://[::127.0.0.1]:{p}/"),
        format!("https://[64:ff9b::7f00:1]:{p}/"),
        format!("https://[2002:7f00:1::1]:{p}/"),
        format!("https://example.com@127.0.0.1:{p}/"),
        format!("https://user:pass@127.0.0.1:{p}/"),
        format!("https://１２７.０.０.１:{p}/"),
        format!("https://[::]:{p}/"),
        format!("https://0:{p}/"),
        format!("https://0.0.0.0:{p}/"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://[::ffff:169.254.169.254]/".to_owned(),
        "https://[64:ff9b::a9fe:a9fe]/".to_owned(),
        "https://100.100.100.200/".to_owned(),
        "https://10.0.0.1/".to_owned(),
        "https://172.16.0.1/".to_owned(),
        "https://172.31.255.254/".to_owned(),
        "https://192.168.1.1/".to_owned(),
        "https://100.64.0.1/".to_owned(),
        "https://224.0.0.1/".to_owned(),
        "https://255.255.255.255/".to_owned(),
        "https://[fd00::1]/".to_owned(),
        "https://[fe80::1]/".to_owned(),
        "https://[ff02::1]/".to_owned(),
        "https://[::ffff:10.0.0.1]/".to_owned(),
        "https://192.0.0.1/".to_owned(),
        "https://198.18.0.1/".to_owned(),
        "https://internal.example.test/".to_owned(),
        "file:///etc/passwd".to_owned(),
        "ftp://example.com/".to_owned(),
        "gopher://127.0.0.1:70/".to_owned(),
        "javascript:alert(1)".to_owned(),
        "data:text/plain,hi".to_owned(),
        "http://example.com/".to_owned(),
        "not a url".to_owned(),
        "https:///".to_owned(),
    ]
}

/// An HTTP server on `bind` answering every request with `response`, counting connections.
pub async fn serve_on(bind: &str, response: Vec<u8>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(bind).await.expect("a local listener");
    let address = listener.local_addr().expect("a local listener");
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(&response).await;
            });
        }
    });
    (address, connections)
}
