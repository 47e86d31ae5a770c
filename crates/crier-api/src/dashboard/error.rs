//! What can go wrong on a dashboard page, each written for a person, with what to do next.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use crier_core::StoreError;

use super::render;
use crate::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum DashError {
    /// No live session: go and sign in.
    #[error("sign in")]
    SignIn,
    /// The workspace requires a second factor this person has not set up.
    #[error("set up a second factor")]
    SecondFactorRequired,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("the form expired")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("the form is too large")]
    TooLarge,
    #[error("the form could not be read: {0}")]
    BadForm(String),
    /// A sign-in through another service that is refused or failed, with why and what to do.
    #[error("sign-in refused: {0}")]
    SignInRefused(&'static str),
    #[error("{0:?}")]
    Api(ApiError),
}

impl From<ApiError> for DashError {
    fn from(err: ApiError) -> Self {
        DashError::Api(err)
    }
}

impl From<StoreError> for DashError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => DashError::NotFound,
            other => DashError::Api(other.into()),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage {
    nav: Option<super::Nav>,
    title: String,
    detail: String,
    errors: Vec<String>,
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let (status, title, detail, errors) = match self {
            DashError::SignIn => {
                let mut response = Redirect::to("/login").into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
                return response;
            }
            DashError::SecondFactorRequired => {
                let mut response = Redirect::to("/security/totp").into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
                return response;
            }
            DashError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed".to_owned(),
                "Your role in this workspace does not allow this. An owner or admin can change your role."
                    .to_owned(),
                vec![],
            ),
            DashError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired".to_owned(),
                "The form was not sent from a page of this session. Go back, reload the page and try again."
                    .to_owned(),
                vec![],
            ),
            DashError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found".to_owned(),
                "There is nothing here in this workspace.".to_owned(),
                vec![],
            ),
            DashError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large".to_owned(),
                "The form is too large.".to_owned(),
                vec![],
            ),
            DashError::SignInRefused(why) => {
                (StatusCode::FORBIDDEN, "Not signed in".to_owned(), why.to_owned(), vec![])
            }
            DashError::BadForm(why) => {
                (StatusCode::BAD_REQUEST, "The form could not be read".to_owned(), why, vec![])
            }
            DashError::Api(err) => {
                let problem = err.problem();
                let errors = problem.errors.iter().map(|e| format!("{}: {}", e.pointer, e.detail)).collect();
                let detail = if err.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    "Something went wrong on our side. Try again; if it keeps happening, tell the operator."
                        .to_owned()
                } else {
                    problem.detail
                };
                (err.status(), problem.title, detail, errors)
            }
        };
        let mut response = render(&ErrorPage { nav: None, title, detail, errors });
        *response.status_mut() = status;
        response
    }
}
