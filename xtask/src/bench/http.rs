//! Single requests: seeding data and checking answers before the load.

use std::time::Duration;

use anyhow::{Context, Result};

/// `method url` with a bearer token and an optional body of `content_type`:
/// (status, body).
pub fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some((content_type, body)) => {
            request = request.header("content-type", content_type);
            body
        }
        None => String::new(),
    };
    let mut response = agent
        .run(request.body(body)?)
        .with_context(|| format!("{method} {url}"))?;
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .with_context(|| format!("{method} {url}: the body"))?;
    Ok((response.status().as_u16(), text))
}

/// `send` that must answer `expected`; the body as JSON.
pub fn expect(
    expected: u16,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> Result<serde_json::Value> {
    let (status, text) = send(method, url, token, body)?;
    if status != expected {
        anyhow::bail!("{method} {url}: {status} instead of {expected}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {url}: not JSON: {text}"))
}
