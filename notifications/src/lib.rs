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
mod webhooks;

use kit::auth::Role;
use kit::page::Query;
use kit::route::{Access, Call, Route, ready};
use kit::{Error, Service, route};
use serde_json::Value as Json;
use spin_sdk::http::{Request, Response, ResponseOutparam};
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
    Route::get("/api/notifications/webhooks/", ADMIN, |call| {
        ready(list_webhooks(call))
    }),
    Route::post("/api/notifications/webhooks/", ADMIN, |call| {
        Box::pin(create_webhook(call))
    }),
    Route::patch("/api/notifications/webhooks/{id}/", ADMIN, |call| {
        Box::pin(update_webhook(call))
    }),
    Route::delete("/api/notifications/webhooks/{id}/", ADMIN, |call| {
        Box::pin(delete_webhook(call))
    }),
    Route::get(
        "/api/notifications/webhooks/{id}/deliveries/",
        ADMIN,
        |call| ready(webhook_deliveries(call)),
    ),
    Route::post("/api/notifications/webhooks/{id}/test/", ADMIN, |call| {
        ready(test_webhook(call))
    }),
    Route::post(
        "/api/notifications/internal/events/",
        Access::Internal,
        |call| ready(receive_event(call)),
    ),
    Route::post(
        "/api/notifications/internal/webhooks/flush/",
        Access::Internal,
        |call| Box::pin(flush_webhooks(call)),
    ),
    Route::post(
        "/api/notifications/internal/purge/",
        Access::Internal,
        |call| ready(purge(call)),
    ),
];

/// The requests after whose success this invocation sends the webhook
/// deliveries they made.
const DELIVERING: [&str; 2] = [
    "/api/notifications/internal/events/",
    "/api/notifications/webhooks/{id}/test/",
];

/// Sends the webhook deliveries an event or a test made once the caller has
/// its answer.
#[http_component]
async fn handle(request: Request, response_out: ResponseOutparam) {
    route::answer_then_deliver(
        &SERVICE,
        ROUTES,
        request,
        response_out,
        ("webhook deliveries after an event", |request| {
            route::posts_to(request, &DELIVERING)
        }),
        |db| async move { webhooks::deliver_due(&db).await },
    )
    .await
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

/// An event from stock's outbox: an alert is a notification (`201` the
/// first time, `200` again); a movement or a catalogue change is for the
/// webhooks only (`200`). Either way each subscribed webhook gets it once.
fn receive_event(call: &Call) -> Result<Response, Error> {
    let event: Json = kit::body::json(call.request)?;
    let db = call.database()?;
    let (status, answer) = if webhooks::FORWARDED.contains(&event["type"].as_str().unwrap_or("")) {
        (
            200,
            serde_json::json!({ "event_id": event["event_id"], "type": event["type"] }),
        )
    } else {
        let alert = serde_json::from_value(event.clone())
            .map_err(|e| Error::BadRequest(format!("Événement invalide : {e}")))?;
        let (created, notification) = alert::receive(&db, alert)?;
        (if created { 201 } else { 200 }, notification)
    };
    webhooks::record(&db, &event)?;
    json(status, &answer)
}

fn purge(call: &Call) -> Result<Response, Error> {
    let db = call.database()?;
    let days = retention_days();
    let mut report = inbox::purge(&db, days)?;
    report["purged_deliveries"] = webhooks::purge(&db, days)?.into();
    json(200, &report)
}

fn list_webhooks(call: &Call) -> Result<Response, Error> {
    json(200, &webhooks::list(&call.database()?)?)
}

/// Each change to the webhooks tells stock which events they now want; if
/// stock does not answer, the next flush does.
async fn tell_stock(db: &spin_sdk::sqlite::Connection) {
    if let Err(why) = webhooks::tell_stock(db).await {
        eprintln!("stock not told which events the webhooks want: {why}");
    }
}

async fn create_webhook(call: &Call<'_>) -> Result<Response, Error> {
    let input = kit::body::json(call.request)?;
    let db = call.database()?;
    let created = webhooks::create(&db, call.caller()?, input)?;
    tell_stock(&db).await;
    json(201, &created)
}

async fn update_webhook(call: &Call<'_>) -> Result<Response, Error> {
    let input = kit::body::json(call.request)?;
    let db = call.database()?;
    let updated = webhooks::update(&db, call.param("id")?, input)?;
    tell_stock(&db).await;
    json(200, &updated)
}

async fn delete_webhook(call: &Call<'_>) -> Result<Response, Error> {
    let db = call.database()?;
    webhooks::delete(&db, call.param("id")?)?;
    tell_stock(&db).await;
    Ok(Response::builder().status(204).build())
}

fn webhook_deliveries(call: &Call) -> Result<Response, Error> {
    let query = Query::parse(call.request.query());
    let page = webhooks::deliveries(&call.database()?, call.request, call.param("id")?, &query)?;
    json(200, &page)
}

fn test_webhook(call: &Call) -> Result<Response, Error> {
    let sent = webhooks::test(&call.database()?, call.caller()?, call.param("id")?)?;
    json(202, &sent)
}

/// The sidecar's every second: stock told which events the webhooks want,
/// then the due deliveries sent.
async fn flush_webhooks(call: &Call<'_>) -> Result<Response, Error> {
    let db = call.database()?;
    tell_stock(&db).await;
    let (delivered, pending) = webhooks::deliver_due(&db).await?;
    json(
        200,
        &serde_json::json!({ "delivered": delivered, "pending": pending }),
    )
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
