//! What the in-process platform fakes share: their state behind one lock, with the address they
//! serve at, and a server on a free loopback port that stops with the fake.

use std::sync::{Mutex, MutexGuard};

/// A fake's state, and the base URL it serves at.
pub struct Shared<Inner> {
    pub base_url: String,
    inner: Mutex<Inner>,
}

impl<Inner> Shared<Inner> {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }
}

/// A free port on 127.0.0.1, and the state a fake starts with there.
pub async fn bind<Inner>(inner: Inner) -> (tokio::net::TcpListener, std::sync::Arc<Shared<Inner>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    (listener, std::sync::Arc::new(Shared { base_url, inner: Mutex::new(inner) }))
}

/// Serves `router` on `listener` until the returned task is aborted (fakes abort it on drop).
pub fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    })
}
