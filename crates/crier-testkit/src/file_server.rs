//! Files served at unguessable loopback addresses, as Crier's `/media-links/{token}` serves media
//! to platforms that fetch it (Instagram, Threads): provider tests hand these addresses to the
//! platform fakes, which fetch them over HTTP as Meta does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

struct Inner {
    /// Token → (content type, bytes).
    files: HashMap<String, (String, Vec<u8>)>,
    fetches: usize,
}

type Shared = crate::fake_server::Shared<Inner>;

pub struct FileServer {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FileServer {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner { files: HashMap::new(), fetches: 0 }).await;
        let router = Router::new().route("/media-links/{token}", get(serve)).with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// A fresh address serving `bytes` as `content_type`.
    pub fn publish(&self, content_type: &str, bytes: &[u8]) -> String {
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
        self.shared.lock().files.insert(token.clone(), (content_type.to_owned(), bytes.to_vec()));
        format!("{}/media-links/{token}", self.shared.base_url)
    }

    /// How many files were fetched.
    pub fn fetches(&self) -> usize {
        self.shared.lock().fetches
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let mut inner = shared.lock();
    let Some((content_type, bytes)) = inner.files.get(&token).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    inner.fetches += 1;
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}
