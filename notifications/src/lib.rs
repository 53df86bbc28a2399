//! The `notifications` service: low-stock, out-of-stock and back-in-stock
//! alerts, and messages from managers, each with per-user read state.
//!
//! Spin routes `/api/notifications/...` here (see `spin.toml`); the service
//! owns the SQLite database labelled `notifications` and no other. Stock
//! alerts arrive from the stock service's outbox on an internal route,
//! keyed by event id, so a redelivery never makes a second notification.
//! Who sees what lives in `inbox.rs`, stock alerts in `alert.rs`, messages
//! sent by hand in `message.rs`, each user's choices in `preferences.rs`,
//! who receives each kind of alert in `audience.rs`.

mod alert;
mod audience;
mod inbox;
mod message;
mod preferences;
mod schema;

use kit::auth::Role;
use kit::page::Query;
use kit::route::{Access, Call, Route, dispatch, ready};
use kit::{Error, Service, route};
use serde_json::Value as Json;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

const SERVICE: Service = Service {
    name: "notifications",
    version: env!("CARGO_PKG_VERSION"),
    database: "notifications",
    migrations: schema::MIGRATIONS,
    // Written by hand; `openapi.rs` checks it against [`ROUTES`].
    openapi: include_str!("openapi.json"),
};

#[cfg(test)]
mod openapi;

const ANYONE: Access = Access::Token(Role::Viewer);
const ADMIN: Access = Access::Token(Role::Admin);

/// Everything notifications serves, besides health and its document.
static ROUTES: &[Route] = &[
    Route::get("/api/notifications/", ANYONE, |call| ready(list(call))),
    Route::post(
        "/api/notifications/",
        Access::Token(Role::Manager),
        |call| ready(send(call)),
    ),
    Route::post("/api/notifications/mark-read/", ANYONE, |call| {
        ready(mark_read(call))
    }),
    Route::get("/api/notifications/unread-count/", ANYONE, |call| {
        ready(unread_count(call))
    }),
    Route::get("/api/notifications/preferences/", ANYONE, |call| {
        ready(preferences(call))
    }),
    Route::put("/api/notifications/preferences/", ANYONE, |call| {
        ready(set_preferences(call))
    }),
    Route::put("/api/notifications/follows/pieces/{id}/", ANYONE, |call| {
        ready(follow(call))
    }),
    Route::delete("/api/notifications/follows/pieces/{id}/", ANYONE, |call| {
        ready(unfollow(call))
    }),
    Route::get("/api/notifications/audiences/", ADMIN, |call| {
        ready(audiences(call))
    }),
    Route::put("/api/notifications/audiences/", ADMIN, |call| {
        ready(set_audiences(call))
    }),
    Route::post(
        "/api/notifications/internal/events/",
        Access::Internal,
        |call| ready(receive_event(call)),
    ),
    Route::post(
        "/api/notifications/internal/purge/",
        Access::Internal,
        |call| ready(purge(call)),
    ),
];

#[http_component]
async fn handle(request: Request) -> Response {
    dispatch(&SERVICE, ROUTES, &request).await
}

fn list(call: &Call) -> Result<Response, Error> {
    let query = Query::parse(call.request.query());
    let page = inbox::list(&call.database()?, call.request, call.caller()?, &query)?;
    json(200, &page)
}

fn send(call: &Call) -> Result<Response, Error> {
    let input = kit::body::json(call.request)?;
    json(
        201,
        &message::send(&call.database()?, call.caller()?, input)?,
    )
}

fn mark_read(call: &Call) -> Result<Response, Error> {
    let input = kit::body::json(call.request)?;
    json(
        200,
        &inbox::mark_read(&call.database()?, call.caller()?, input)?,
    )
}

fn unread_count(call: &Call) -> Result<Response, Error> {
    json(
        200,
        &inbox::unread_count(&call.database()?, call.caller()?)?,
    )
}

fn preferences(call: &Call) -> Result<Response, Error> {
    json(200, &preferences::read(&call.database()?, call.caller()?)?)
}

fn set_preferences(call: &Call) -> Result<Response, Error> {
    let input = kit::body::json(call.request)?;
    json(
        200,
        &preferences::write(&call.database()?, call.caller()?, input)?,
    )
}

fn follow(call: &Call) -> Result<Response, Error> {
    let (db, caller) = (call.database()?, call.caller()?);
    json(200, &preferences::follow(&db, caller, call.param("id")?)?)
}

fn unfollow(call: &Call) -> Result<Response, Error> {
    let (db, caller) = (call.database()?, call.caller()?);
    json(200, &preferences::unfollow(&db, caller, call.param("id")?)?)
}

fn audiences(call: &Call) -> Result<Response, Error> {
    json(200, &audience::read(&call.database()?)?)
}

fn set_audiences(call: &Call) -> Result<Response, Error> {
    let input = kit::body::json(call.request)?;
    json(200, &audience::write(&call.database()?, input)?)
}

fn receive_event(call: &Call) -> Result<Response, Error> {
    let event = kit::body::json(call.request)?;
    let (created, notification) = alert::receive(&call.database()?, event)?;
    json(if created { 201 } else { 200 }, &notification)
}

fn purge(call: &Call) -> Result<Response, Error> {
    json(200, &inbox::purge(&call.database()?, retention_days())?)
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
    Ok(route::json(status, body))
}
