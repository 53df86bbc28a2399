//! The `pieces` service: the parts catalogue.
//!
//! Spin routes `/api/pieces/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `pieces` and no other.

mod schema;

use kit::{Error, Service, routing};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const SERVICE: Service = Service {
    name: "pieces",
    version: env!("CARGO_PKG_VERSION"),
    database: "pieces",
    migrations: schema::MIGRATIONS,
};

#[http_component]
fn handle(request: Request) -> Response {
    route(&request).unwrap_or_else(Error::into_response)
}

fn route(request: &Request) -> Result<Response, Error> {
    match routing::normalize(request.path()) {
        "/api/pieces/health" => {
            routing::allow(request.method(), &[Method::Get])?;
            Ok(kit::health::check(&SERVICE))
        }
        _ => Err(Error::NotFound),
    }
}
