//! `/openapi.json` and `/docs`: the API reference, rendered on the server from the same OpenAPI
//! document, so it works offline (no CDN, no JavaScript bundle, nothing downloaded at build time).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::error::ProblemKind;
use crate::state::AppState;

const DOCS_CSP: &str =
    "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const STYLE: &str = include_str!("../../templates/docs.css");
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub fn router(spec: utoipa::openapi::OpenApi) -> Router<AppState> {
    let json: Arc<str> = spec.to_pretty_json().unwrap_or_else(|_| "{}".to_owned()).into();
    let html: Arc<str> = render(&serde_json::from_str(&json).unwrap_or(Value::Null)).into();
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], json.to_string()) }
            }),
        )
        .route(
            "/docs",
            get(move || {
                let html = html.clone();
                async move {
                    with_csp((
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        html.to_string(),
                    ))
                }
            }),
        )
        .route(
            "/docs/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
}

fn with_csp(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    response
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    title: String,
    version: String,
    description: String,
    operations: Vec<OperationDoc>,
    problems: Vec<ProblemDoc>,
    schemas: Vec<SchemaDoc>,
}

struct OperationDoc {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    scopes: String,
    parameters: Vec<(String, String, String)>,
    request: String,
    responses: Vec<(String, String, String)>,
}

struct ProblemDoc {
    slug: &'static str,
    status: u16,
    title: &'static str,
    explanation: &'static str,
}

struct SchemaDoc {
    name: String,
    json: String,
}

fn text(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// The schema name a `$ref` points at, or the inline schema as JSON.
fn schema_name(schema: Option<&Value>) -> String {
    match schema {
        None => String::new(),
        Some(schema) => match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference.rsplit('/').next().unwrap_or(reference).to_owned(),
            None => schema.to_string(),
        },
    }
}

fn first_content_schema(value: &Value) -> Option<&Value> {
    value.get("content")?.as_object()?.values().next()?.get("schema")
}

fn operation(path: &str, method: &str, op: &Value) -> OperationDoc {
    let scopes = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.get("api_key")?.as_array().cloned())
        .flatten()
        .filter_map(|scope| scope.as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join(", ");
    let parameters = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| (text(p, "/name"), text(p, "/in"), text(p, "/description")))
        .collect();
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(status, r)| (status.clone(), text(r, "/description"), schema_name(first_content_schema(r))))
        .collect();
    let summary = text(op, "/summary");
    OperationDoc {
        anchor: format!("{}-{}", method, path.trim_matches('/').replace(['/', '{', '}'], "-")),
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        description: text(op, "/description"),
        summary,
        scopes,
        parameters,
        request: op.get("requestBody").map(|b| schema_name(first_content_schema(b))).unwrap_or_default(),
        responses,
    }
}

fn render(spec: &Value) -> String {
    let operations = spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            METHODS
                .into_iter()
                .filter_map(move |method| item.get(method).map(|op| operation(path, method, op)))
        })
        .collect();
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| SchemaDoc {
            name: name.clone(),
            json: serde_json::to_string_pretty(schema).unwrap_or_default(),
        })
        .collect();
    let problems = ProblemKind::ALL
        .into_iter()
        .map(|kind| ProblemDoc {
            slug: kind.slug(),
            status: kind.status().as_u16(),
            title: kind.title(),
            explanation: kind.explanation(),
        })
        .collect();
    let page = DocsPage {
        title: text(spec, "/info/title"),
        version: text(spec, "/info/version"),
        description: text(spec, "/info/description"),
        operations,
        problems,
        schemas,
    };
    page.render().unwrap_or_else(|err| {
        tracing::error!(error = %err, "could not render /docs");
        "<!doctype html><title>Crier API</title><p>The reference could not be rendered; see /openapi.json."
            .to_owned()
    })
}
