//! Path and method helpers for components that route with a plain `match`.
//!
//! Spin routes a whole prefix (`/api/auth/...`) to a component and hands it
//! the original path; the component dispatches within it. The seed writes
//! paths with a trailing slash (Django REST Framework style) and our clients
//! may omit it, so both spellings must name the same resource.

use spin_sdk::http::{Method, Response};

use crate::Error;

/// Strips one trailing slash so `/api/auth/health/` and `/api/auth/health`
/// match the same `match` arm; the root path stays `/`.
pub fn normalize(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => path,
    }
}

/// The path below `prefix` as segments: `/api/stock/movements/3/reverse/`
/// under `/api/stock` is `["movements", "3", "reverse"]`, ready for a
/// `match` on slice patterns.
///
/// An empty segment inside the path stays, so that it matches no arm:
/// `/api/stock//internal/...` must not reach `internal`, which only the
/// longer `/api/stock/internal/...` route keeps from outside callers.
pub fn segments<'a>(path: &'a str, prefix: &str) -> Vec<&'a str> {
    let path = normalize(path);
    let rest = path.strip_prefix(prefix).unwrap_or(path);
    match rest.strip_prefix('/') {
        Some(below) => below.split('/').collect(),
        None if rest.is_empty() => Vec::new(),
        None => vec![rest],
    }
}

/// A JSON answer.
pub fn json(status: u16, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

/// Accepts `method` when it is one of `allowed`, else a 405 whose `Allow`
/// header lists them.
///
/// `HEAD` is accepted wherever `GET` is (RFC 9110 §9.3.2): the handler runs as
/// for `GET` and the HTTP server drops the body, as hyper does in Spin.
pub fn allow(method: &Method, allowed: &[Method]) -> Result<(), Error> {
    let head_via_get = *method == Method::Head && allowed.contains(&Method::Get);
    if allowed.contains(method) || head_via_get {
        return Ok(());
    }
    Err(Error::MethodNotAllowed {
        method: method.to_string(),
        allow: allow_header(allowed),
    })
}

/// The `Allow` header value for `allowed`, adding `HEAD` after `GET`.
fn allow_header(allowed: &[Method]) -> String {
    let mut names = Vec::with_capacity(allowed.len() + 1);
    for method in allowed {
        names.push(method.to_string());
        if *method == Method::Get && !allowed.contains(&Method::Head) {
            names.push(Method::Head.to_string());
        }
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_is_optional() {
        assert_eq!(normalize("/api/auth/health/"), "/api/auth/health");
        assert_eq!(normalize("/api/auth/health"), "/api/auth/health");
    }

    #[test]
    fn only_one_trailing_slash_is_stripped() {
        assert_eq!(normalize("/api/auth//"), "/api/auth/");
    }

    #[test]
    fn segments_are_taken_below_the_prefix() {
        assert_eq!(
            segments("/api/stock/movements/3/reverse/", "/api/stock"),
            ["movements", "3", "reverse"]
        );
        assert!(segments("/api/stock/", "/api/stock").is_empty());
        assert!(segments("/api/stock", "/api/stock").is_empty());
    }

    #[test]
    fn an_empty_segment_is_kept_so_that_it_matches_nothing() {
        assert_eq!(
            segments("/api/stock//internal/usage/1/", "/api/stock"),
            ["", "internal", "usage", "1"]
        );
        assert_eq!(segments("/api/stock/a//b", "/api/stock"), ["a", "", "b"]);
        assert_eq!(segments("/api/stock//", "/api/stock"), [""]);
    }

    #[test]
    fn root_stays_root() {
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn listed_method_is_allowed() {
        assert!(allow(&Method::Post, &[Method::Get, Method::Post]).is_ok());
    }

    #[test]
    fn head_is_allowed_where_get_is() {
        assert!(allow(&Method::Head, &[Method::Get]).is_ok());
        assert!(allow(&Method::Head, &[Method::Post]).is_err());
    }

    #[test]
    fn other_method_is_405_listing_allowed_ones() {
        match allow(&Method::Delete, &[Method::Get, Method::Post]) {
            Err(Error::MethodNotAllowed { method, allow }) => {
                assert_eq!(method, "DELETE");
                assert_eq!(allow, "GET, HEAD, POST");
            }
            other => panic!("expected 405, got {other:?}"),
        }
    }

    #[test]
    fn explicit_head_is_not_listed_twice() {
        assert_eq!(allow_header(&[Method::Get, Method::Head]), "GET, HEAD");
    }
}
