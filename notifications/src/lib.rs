//! The `notifications` service: low-stock, out-of-stock and back-in-stock
//! alerts, and messages from managers, each with per-user read state.
//!
//! Spin routes `/api/notifications/...` here (see `spin.toml`); the service
//! owns the SQLite database labelled `notifications` and no other. Stock
//! alerts arrive from the stock service's outbox on an internal route,
//! keyed by event id, so a redelivery never makes a second notification.

mod inbox;
mod schema;

use kit::auth::Role;
use kit::page::Query;
use kit::{Error, Service, routing};
use serde_json::Value as Json;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

const SERVICE: Service = Service {
    name: "notifications",
    version: env!("CARGO_PKG_VERSION"),
    database: "notifications",
    migrations: schema::MIGRATIONS,
};

/// The OpenAPI 3 document, written by hand; the tests in `openapi.rs` check
/// that it documents every arm of `route`'s `match`, and nothing else.
const OPENAPI: &str = include_str!("openapi.json");
#[cfg(test)]
mod openapi;

#[http_component]
fn handle(request: Request) -> Response {
    route(&request).unwrap_or_else(Error::into_response)
}

fn route(request: &Request) -> Result<Response, Error> {
    let segments = routing::segments(request.path(), "/api/notifications");
    let method = request.method();
    match segments.as_slice() {
        ["health"] => {
            routing::allow(method, &[Method::Get])?;
            Ok(kit::health::check(&SERVICE))
        }
        ["openapi.json"] => {
            routing::allow(method, &[Method::Get])?;
            Ok(Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(OPENAPI)
                .build())
        }
        [] => {
            routing::allow(method, &[Method::Get, Method::Post])?;
            let caller = kit::auth::authenticate(request)?;
            let db = SERVICE.database()?;
            if *method == Method::Post {
                caller.require(Role::Manager)?;
                let input = kit::body::json(request)?;
                return json(201, &inbox::send_manual(&db, &caller, input)?);
            }
            json(
                200,
                &inbox::list(&db, request, &caller, &Query::parse(request.query()))?,
            )
        }
        ["mark-read"] => {
            routing::allow(method, &[Method::Post])?;
            let caller = kit::auth::authenticate(request)?;
            let input = kit::body::json(request)?;
            json(
                200,
                &inbox::mark_read(&SERVICE.database()?, &caller, input)?,
            )
        }
        ["unread-count"] => {
            routing::allow(method, &[Method::Get])?;
            let caller = kit::auth::authenticate(request)?;
            json(200, &inbox::unread_count(&SERVICE.database()?, &caller)?)
        }
        ["preferences"] => {
            routing::allow(method, &[Method::Get, Method::Put])?;
            let caller = kit::auth::authenticate(request)?;
            let db = SERVICE.database()?;
            if *method == Method::Put {
                let input = kit::body::json(request)?;
                return json(200, &inbox::set_preferences(&db, &caller, input)?);
            }
            json(200, &inbox::preferences(&db, &caller)?)
        }
        ["internal", "events"] => {
            routing::allow(method, &[Method::Post])?;
            kit::auth::internal(request)?;
            let event = kit::body::json(request)?;
            let (created, notification) = inbox::receive_event(&SERVICE.database()?, event)?;
            json(if created { 201 } else { 200 }, &notification)
        }
        ["internal", "purge"] => {
            routing::allow(method, &[Method::Post])?;
            kit::auth::internal(request)?;
            json(200, &inbox::purge(&SERVICE.database()?, retention_days())?)
        }
        _ => Err(Error::NotFound),
    }
}

/// `notification_retention_days` (default 90): older notifications go.
fn retention_days() -> i64 {
    spin_sdk::variables::get("notification_retention_days")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|d| *d > 0)
        .unwrap_or(90)
}

fn json(status: u16, body: &Json) -> Result<Response, Error> {
    Ok(routing::json(status, body))
}
