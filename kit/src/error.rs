//! The one error type of the components and its single mapping to HTTP.
//!
//! Bodies follow RFC 9457 (`application/problem+json`) with the `detail`
//! member Django REST Framework clients of the seed already read. The
//! `Display` text of an [`Error`] *is* that detail, so it must never carry
//! internals: variants that wrap a lower-level error describe it generically
//! and the cause goes to stderr (the Spin host's log), never to the client.

use std::collections::BTreeMap;

use spin_sdk::http::Response;
use spin_sdk::sqlite;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a handler can fail with; each variant's doc names its status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 Bad Request: the request is malformed; the text says how.
    #[error("{0}")]
    BadRequest(String),
    /// 400 Bad Request: fields that fail validation, each with its messages;
    /// the body carries them beside `detail`, as Django REST Framework does.
    #[error("Données invalides.")]
    Validation(BTreeMap<String, Vec<String>>),
    /// 401 Unauthorized, with `WWW-Authenticate: Bearer`: no credential, or
    /// one that is not valid; the text never says what exactly is wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 Forbidden: authenticated, but the role is too low.
    #[error("{0}")]
    Forbidden(String),
    /// 404 Not Found.
    #[error("Introuvable.")]
    NotFound,
    /// 405 Method Not Allowed, with an `Allow` header listing `allow`.
    #[error("Méthode « {method} » non autorisée.")]
    MethodNotAllowed { method: String, allow: String },
    /// 409 Conflict: the request contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// 409 Conflict, with members the client acts on (`available`...)
    /// beside `detail`.
    #[error("{detail}")]
    ConflictWith {
        detail: String,
        members: serde_json::Map<String, serde_json::Value>,
    },
    /// 412 Precondition Failed: `If-Match` names a version that is gone.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 422 Unprocessable Content: well-formed, but not acceptable as is
    /// (an idempotency key reused for another request...).
    #[error("{0}")]
    Unprocessable(String),
    /// 503 Service Unavailable: a service this one depends on does not
    /// answer; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// 413 Content Too Large: a JSON body over [`crate::body::MAX_JSON_BYTES`].
    #[error("Le corps de la requête dépasse {limit} octets.")]
    PayloadTooLarge { limit: usize },
    /// 415 Unsupported Media Type: the body is not `application/json`.
    #[error("Le corps de la requête doit être du JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    /// 429 Too Many Requests, with `Retry-After: retry_after_secs`.
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    /// 503 Service Unavailable: the service's database cannot be used.
    #[error("{}", describe_database_error(.0))]
    Database(#[from] sqlite::Error),
    /// 500 Internal Server Error: a failure that is ours, not the client's.
    #[error("Erreur interne du serveur.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) | Error::Validation(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::Conflict(_) | Error::ConflictWith { .. } => 409,
            Error::PreconditionFailed(_) => 412,
            Error::Unprocessable(_) => 422,
            Error::PayloadTooLarge { .. } => 413,
            Error::UnsupportedMediaType => 415,
            Error::TooManyRequests { .. } => 429,
            Error::Internal(_) => 500,
            Error::Database(_) | Error::Unavailable(_) => 503,
        }
    }

    /// A 400 for one field with one message.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }

    /// The problem document: `detail`, and the members a client acts on
    /// (each invalid field's messages, a conflict's `available`...).
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "detail": self.to_string() });
        if let Error::Validation(fields) = self {
            for (field, messages) in fields {
                body[field] = serde_json::json!(messages);
            }
        }
        if let Error::ConflictWith { members, .. } = self {
            for (name, value) in members {
                body[name] = value.clone();
            }
        }
        body
    }

    /// The problem-JSON response for this error; server-side causes are logged.
    pub fn into_response(self) -> Response {
        let status = self.status();
        if status >= 500 {
            self.log();
        }
        let mut builder = Response::builder();
        builder
            .status(status)
            .header("content-type", PROBLEM_JSON)
            .body(self.body().to_string());
        match &self {
            Error::MethodNotAllowed { allow, .. } => {
                builder.header("allow", allow.as_str());
            }
            Error::Unauthorized(_) => {
                builder.header("www-authenticate", "Bearer realm=\"api\"");
            }
            Error::TooManyRequests {
                retry_after_secs, ..
            } => {
                builder.header("retry-after", retry_after_secs.to_string());
            }
            _ => {}
        }
        builder.build()
    }

    /// Writes the error and its causes to stderr, which Spin hosts collect as
    /// the component's log: the operator sees the SQL error the client must not.
    pub(crate) fn log(&self) {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            message.push_str(" Caused by: ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        eprintln!("error: {message}");
    }
}

/// A client-safe description of a SQLite failure. The `io` message is left
/// out on purpose: it is SQLite's own text and may quote the statement.
fn describe_database_error(error: &sqlite::Error) -> &'static str {
    match error {
        sqlite::Error::NoSuchDatabase => "La base de données n'est pas configurée.",
        sqlite::Error::AccessDenied => "Le service n'a pas accès à sa base de données.",
        sqlite::Error::InvalidConnection => "La connexion à la base de données n'est plus valide.",
        sqlite::Error::DatabaseFull => "La base de données est pleine.",
        sqlite::Error::Io(_) => "La base de données n'a pas pu être interrogée.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(error: Error) -> (u16, serde_json::Value, Vec<(String, String)>) {
        let response = error.into_response();
        let body = serde_json::from_slice(response.body()).expect("valid JSON");
        let headers = response
            .headers()
            .map(|(name, value)| {
                (
                    name.to_owned(),
                    value.as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        (*response.status(), body, headers)
    }

    fn header(headers: &[(String, String)], name: &str) -> Option<String> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn problem_body_is_a_detail_object() {
        let (status, body, headers) = parts(Error::BadRequest("say \"hi\"".into()));
        assert_eq!(status, 400);
        assert_eq!(body, serde_json::json!({ "detail": "say \"hi\"" }));
        assert_eq!(
            header(&headers, "content-type").as_deref(),
            Some(PROBLEM_JSON)
        );
    }

    #[test]
    fn validation_errors_list_each_field_beside_the_detail() {
        let (status, body, _) = parts(Error::field("password", "Trop court."));
        assert_eq!(status, 400);
        assert_eq!(
            body,
            serde_json::json!({ "detail": "Données invalides.", "password": ["Trop court."] })
        );
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token() {
        let (status, _, headers) = parts(Error::Unauthorized("non".into()));
        assert_eq!(status, 401);
        let challenge = header(&headers, "www-authenticate").expect("a challenge");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let (status, body, headers) = parts(Error::TooManyRequests {
            detail: "Patientez.".into(),
            retry_after_secs: 42,
        });
        assert_eq!(status, 429);
        assert_eq!(body["detail"], "Patientez.");
        assert_eq!(header(&headers, "retry-after").as_deref(), Some("42"));
    }

    #[test]
    fn each_variant_maps_to_its_status() {
        let cases = [
            (Error::BadRequest("x".into()), 400),
            (Error::field("x", "y"), 400),
            (Error::Unauthorized("x".into()), 401),
            (Error::Forbidden("x".into()), 403),
            (Error::NotFound, 404),
            (Error::Conflict("x".into()), 409),
            (Error::UnsupportedMediaType, 415),
            (
                Error::TooManyRequests {
                    detail: "x".into(),
                    retry_after_secs: 1,
                },
                429,
            ),
            (
                Error::MethodNotAllowed {
                    method: "POST".into(),
                    allow: "GET, HEAD".into(),
                },
                405,
            ),
            (Error::Internal("boom".into()), 500),
            (Error::Database(sqlite::Error::AccessDenied), 503),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error:?}");
        }
    }

    #[test]
    fn database_detail_never_carries_the_driver_message() {
        let error = Error::Database(sqlite::Error::Io(
            "near \"SELEC\": syntax error in SELEC * FROM users".into(),
        ));
        let detail = error.to_string();
        assert!(!detail.contains("SELEC"), "{detail}");
    }

    #[test]
    fn method_not_allowed_reads_like_drf() {
        let error = Error::MethodNotAllowed {
            method: "DELETE".into(),
            allow: "GET, HEAD".into(),
        };
        assert_eq!(error.to_string(), "Méthode « DELETE » non autorisée.");
    }
}
