//! The `ui` component: serves the French browser UI as static files.
//!
//! `spin.toml` mounts `ui/static` at `/` in the component's filesystem and
//! routes every path no API component claims (`/...`) here; `files` maps the
//! request path to a file of that mount. One file is not on disk:
//! `/config.js`, the edge address the scripts call, from the `api_base`
//! variable (empty: the page's own origin, where one listener serves the UI
//! and the API, as `spin up` does), so the same files work behind any host
//! name.

mod files;

use kit::{Error, route};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

/// Scripts and styles come from this origin only and the page talks to the
/// edge only: an injected `<script>` or a stray URL can neither run nor
/// send the session anywhere else.
fn content_security_policy(api_base: &str) -> String {
    let api_base = if api_base.is_empty() {
        "'self'"
    } else {
        api_base
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {api_base}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[http_component]
fn handle(request: Request) -> Response {
    serve(&request).unwrap_or_else(Error::into_response)
}

fn serve(request: &Request) -> Result<Response, Error> {
    route::allow(request.method(), &[Method::Get])?;
    let api_base = api_base()?;
    if request.path() == "/config.js" {
        return Ok(config_script(&api_base));
    }
    let path = files::resolve(request.path())?;
    let body = std::fs::read(&path).map_err(|error| match error.kind() {
        // A directory without an index reads as missing, as on any static server.
        std::io::ErrorKind::NotFound
        | std::io::ErrorKind::IsADirectory
        | std::io::ErrorKind::NotADirectory => Error::NotFound,
        _ => Error::Internal(error.into()),
    })?;
    let mut response = Response::builder();
    response
        .status(200)
        .header("content-type", files::content_type(&path))
        .header("x-content-type-options", "nosniff");
    if files::is_html(&path) {
        // Pages name the current script and style files; revalidate them so a
        // redeploy is seen at once. Other files may be cached by heuristics.
        response
            .header("cache-control", "no-cache")
            .header(
                "content-security-policy",
                content_security_policy(&api_base),
            )
            .header("referrer-policy", "no-referrer");
    }
    Ok(response.body(body).build())
}

/// The edge address, checked to be empty (the page's origin) or a bare
/// `http(s)://host[:port]` origin: it ends up in a script and in the page's
/// CSP.
fn api_base() -> Result<String, Error> {
    let value = spin_sdk::variables::get("api_base")
        .map_err(|error| Error::Internal(format!("variable api_base: {error}").into()))?;
    let value = value.trim_end_matches('/');
    if value.is_empty() {
        return Ok(String::new());
    }
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"));
    let is_origin = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    if !is_origin {
        return Err(Error::Internal(
            format!("api_base = {value:?}: not an http(s) origin").into(),
        ));
    }
    Ok(value.to_owned())
}

fn config_script(api_base: &str) -> Response {
    let value = if api_base.is_empty() {
        "self.location.origin".to_owned()
    } else {
        format!("\"{api_base}\"")
    };
    Response::builder()
        .status(200)
        .header("content-type", "text/javascript; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(format!(
            "// Adresse de l'API (variable Spin `api_base` ; vide : l'origine de la page).\nexport const API_BASE = {value};\n"
        ))
        .build()
}
