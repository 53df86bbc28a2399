//! The `ui` component: serves the French browser UI as static files.
//!
//! `spin.toml` mounts `ui/static` at `/` in the component's filesystem and
//! routes every path no API component claims (`/...`) here; `files` maps the
//! request path to a file of that mount.

mod files;

use kit::{Error, routing};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(request: Request) -> Response {
    serve(&request).unwrap_or_else(Error::into_response)
}

fn serve(request: &Request) -> Result<Response, Error> {
    routing::allow(request.method(), &[Method::Get])?;
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
        .header("content-type", files::content_type(&path));
    if files::is_html(&path) {
        // Pages name the current script and style files; revalidate them so a
        // redeploy is seen at once. Other files may be cached by heuristics.
        response.header("cache-control", "no-cache");
    }
    Ok(response.body(body).build())
}
