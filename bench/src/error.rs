//! `kit::Error`'s mapping to HTTP, for the failures the baseline can meet:
//! problem JSON with a `detail`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub enum Error {
    /// What a component answers itself (`kit::body`, `order.rs` of stock).
    Kit(kit::Error),
    BadRequest(String),
    Unauthorized(&'static str),
    Forbidden(&'static str),
    NotFound,
    Conflict(String),
    UnsupportedMediaType,
    /// A peer service that cannot answer.
    Unavailable(String),
    Database(rusqlite::Error),
    Internal,
}

impl From<kit::Error> for Error {
    fn from(error: kit::Error) -> Self {
        Error::Kit(error)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::Database(error)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            Error::Kit(error) => {
                let status = StatusCode::from_u16(error.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (
                    status,
                    [(header::CONTENT_TYPE, "application/problem+json")],
                    error.body().to_string(),
                )
                    .into_response();
            }
            Error::BadRequest(detail) => (StatusCode::BAD_REQUEST, detail.clone()),
            Error::Unauthorized(detail) => (StatusCode::UNAUTHORIZED, (*detail).to_owned()),
            Error::Forbidden(detail) => (StatusCode::FORBIDDEN, (*detail).to_owned()),
            Error::NotFound => (StatusCode::NOT_FOUND, "Introuvable.".to_owned()),
            Error::Conflict(detail) => (StatusCode::CONFLICT, detail.clone()),
            Error::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Le corps de la requête doit être du JSON (Content-Type: application/json)."
                    .to_owned(),
            ),
            Error::Unavailable(detail) => (StatusCode::SERVICE_UNAVAILABLE, detail.clone()),
            Error::Database(error) => {
                eprintln!("error: {error}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "La base de données n'a pas pu être interrogée.".to_owned(),
                )
            }
            Error::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Erreur interne du serveur.".to_owned(),
            ),
        };
        let body = serde_json::json!({ "detail": detail });
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        response
    }
}
