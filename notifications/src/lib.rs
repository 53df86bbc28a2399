//! The `notifications` service: low-stock, out-of-stock and back-in-stock alerts.
//!
//! Spin routes `/api/notifications/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `notifications` and no other.

mod schema;

use kit::{Error, Service, routing};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const SERVICE: Service = Service {
    name: "notifications",
    version: env!("CARGO_PKG_VERSION"),
    database: "notifications",
    migrations: schema::MIGRATIONS,
};

#[http_component]
fn handle(request: Request) -> Response {
    route(&request).unwrap_or_else(Error::into_response)
}

fn route(request: &Request) -> Result<Response, Error> {
    match routing::normalize(request.path()) {
        "/api/notifications/health" => {
            routing::allow(request.method(), &[Method::Get])?;
            Ok(kit::health::check(&SERVICE))
        }
        _ => Err(Error::NotFound),
    }
}
