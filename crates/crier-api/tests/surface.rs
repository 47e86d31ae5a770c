//! The HTTP surface every client sees: hardening headers, health checks, the OpenAPI document
//! (snapshotted, so API changes are deliberate) and the offline `/docs` page.

mod common;

use common::Server;
use crier_api::ApiConfig;
use crier_testkit::Backend;
use reqwest::{Method, StatusCode};

const HARDENING: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'"),
];

#[tokio::test]
async fn every_response_carries_the_hardening_headers() {
    let server = Server::start(Backend::Sqlite).await;
    let seeded = server.seed("Acme").await;
    let replies = [
        server.call(Method::GET, "/healthz", None, None).await,
        server.call(Method::GET, "/readyz", None, None).await,
        server.call(Method::GET, "/v1/workspace", None, None).await,
        server.call(Method::GET, "/v1/workspace", Some(&seeded.admin_key), None).await,
        server.call(Method::GET, "/nowhere", None, None).await,
        server.call(Method::GET, "/openapi.json", None, None).await,
        server.call(Method::GET, "/docs", None, None).await,
    ];
    for reply in &replies {
        for (name, value) in HARDENING {
            let got = reply.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("");
            assert!(got.starts_with(value), "{name} on {:?}: {got:?}", reply.status);
        }
        assert!(reply.headers.get("strict-transport-security").is_none(), "no HSTS over plain http");
        assert!(reply.headers.get("x-request-id").is_some());
    }
}

#[tokio::test]
async fn https_public_url_turns_on_hsts() {
    let config =
        ApiConfig { public_url: Some("https://crier.example".parse().unwrap()), ..ApiConfig::default() };
    let server = Server::start_with(Backend::Sqlite, config).await;
    let reply = server.call(Method::GET, "/healthz", None, None).await;
    let hsts = reply.headers["strict-transport-security"].to_str().unwrap();
    assert!(hsts.starts_with("max-age="), "{hsts}");
}

#[tokio::test]
async fn health_and_readiness() {
    let server = Server::start(Backend::Sqlite).await;
    let health = server.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((health.status, health.body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let ready = server.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["database"], "sqlite");
}

#[tokio::test]
async fn openapi_document_is_served_and_unchanged() {
    let server = Server::start(Backend::Sqlite).await;
    let reply = server.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(reply.body, serde_json::to_value(crier_api::openapi()).unwrap(), "served = generated");
    insta::assert_json_snapshot!("openapi", reply.body);
}

#[tokio::test]
async fn docs_page_works_offline() {
    let server = Server::start(Backend::Sqlite).await;
    let page = server.http.get(server.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    for expected in ["/v1/api-keys/{id}/rotate", "keys:admin", "id=\"problem-not-found\"", "ApiKeyIn"] {
        assert!(html.contains(expected), "docs lack {expected}");
    }
    for external in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "<script"] {
        assert!(!html.contains(external), "docs must not load {external}");
    }
    let css = server.http.get(server.url("/docs/style.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
}

/// A parameter the document calls `in: path` must be in the path template; anything else is a
/// query or header parameter and optional unless the route needs it.
#[test]
fn path_parameters_are_in_their_paths() {
    let spec = serde_json::to_value(crier_api::openapi()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                if parameter["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is not in the path"
                    );
                }
            }
        }
    }
}
