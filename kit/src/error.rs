//! The one error type of the components and its single mapping to HTTP.
//!
//! Bodies follow RFC 9457 (`application/problem+json`) with the `detail`
//! member Django REST Framework clients of the seed already read. The
//! `Display` text of an [`Error`] *is* that detail, so it must never carry
//! internals: variants that wrap a lower-level error describe it generically
//! and the cause goes to stderr (the Spin host's log), never to the client.

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
    /// 404 Not Found.
    #[error("Not found.")]
    NotFound,
    /// 405 Method Not Allowed, with an `Allow` header listing `allow`.
    #[error("Method \"{method}\" not allowed.")]
    MethodNotAllowed { method: String, allow: String },
    /// 503 Service Unavailable: the service's database cannot be used.
    #[error("{}", describe_database_error(.0))]
    Database(#[from] sqlite::Error),
    /// 500 Internal Server Error: a failure that is ours, not the client's.
    #[error("Internal server error.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::NotFound => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::Internal(_) => 500,
            Error::Database(_) => 503,
        }
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
            .body(problem_body(&self.to_string()));
        if let Error::MethodNotAllowed { allow, .. } = &self {
            builder.header("allow", allow.as_str());
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

/// Serialises `{"detail": ...}`.
fn problem_body(detail: &str) -> String {
    serde_json::json!({ "detail": detail }).to_string()
}

/// A client-safe description of a SQLite failure. The `io` message is left
/// out on purpose: it is SQLite's own text and may quote the statement.
fn describe_database_error(error: &sqlite::Error) -> &'static str {
    match error {
        sqlite::Error::NoSuchDatabase => "The database is not configured.",
        sqlite::Error::AccessDenied => "The service may not open its database.",
        sqlite::Error::InvalidConnection => "The database connection is invalid.",
        sqlite::Error::DatabaseFull => "The database is full.",
        sqlite::Error::Io(_) => "The database could not be queried.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_body_is_a_detail_object() {
        let body: serde_json::Value =
            serde_json::from_str(&problem_body("say \"hi\"")).expect("valid JSON");
        assert_eq!(body, serde_json::json!({ "detail": "say \"hi\"" }));
    }

    #[test]
    fn each_variant_maps_to_its_status() {
        let cases = [
            (Error::BadRequest("x".into()), 400),
            (Error::NotFound, 404),
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
        assert_eq!(error.to_string(), "Method \"DELETE\" not allowed.");
    }
}
