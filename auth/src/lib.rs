//! The `auth` service: users, roles and JWT sessions.
//!
//! Spin routes `/api/auth/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `auth` and no other.

mod schema;

use kit::{Error, Service, routing};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const SERVICE: Service = Service {
    name: "auth",
    version: env!("CARGO_PKG_VERSION"),
    database: "auth",
    migrations: schema::MIGRATIONS,
};

#[http_component]
fn handle(request: Request) -> Response {
    route(&request).unwrap_or_else(Error::into_response)
}

fn route(request: &Request) -> Result<Response, Error> {
    match routing::normalize(request.path()) {
        "/api/auth/health" => {
            routing::allow(request.method(), &[Method::Get])?;
            Ok(kit::health::check(&SERVICE))
        }
        _ => Err(Error::NotFound),
    }
}
