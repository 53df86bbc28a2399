//! Calls from one component to a peer's internal routes
//! (`/api/<service>/internal/...`). The peer's `host:port` is a Spin
//! variable (`stock_url`...: Spin's service chaining by default, the
//! peer's own host in the split stack), and each call carries the service
//! secret the internal routes ask for.

use spin_sdk::http::{Method, Request, Response};

use crate::auth::INTERNAL_SECRET_HEADER;

/// `method path` on the peer whose address the variable `address` holds,
/// with `headers` and a JSON `body`; `Err` says why no answer came back
/// (a missing variable, a refused connection), never an HTTP status.
pub async fn call(
    address: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<Response, String> {
    let variable =
        |name: &str| spin_sdk::variables::get(name).map_err(|e| format!("variable {name}: {e}"));
    let mut request = Request::builder();
    request
        .method(method)
        .uri(format!("http://{}{path}", variable(address)?))
        .header(INTERNAL_SECRET_HEADER, variable("internal_secret")?);
    for (name, value) in headers {
        request.header(*name, *value);
    }
    if let Some(body) = body {
        request
            .header("content-type", "application/json")
            .body(body);
    }
    spin_sdk::http::send(request.build())
        .await
        .map_err(|e| e.to_string())
}

/// Seconds before the next attempt at a delivery that failed `attempts`
/// times: 1, 2, 4... capped at 64, so an outage of any length is caught
/// up about a minute after it ends.
pub fn backoff_secs(attempts: i64) -> i64 {
    1_i64 << attempts.clamp(0, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_at_a_minute() {
        let delays: Vec<i64> = (0..10).map(backoff_secs).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 64, 64, 64]);
    }
}
