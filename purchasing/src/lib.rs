//! The `purchasing` service: suppliers, what they offer each piece for, the
//! list of what to order, and purchase orders whose receipts become IN
//! movements in stock.
//!
//! Spin routes `/api/purchasing/...` here (see `spin.toml`); the service
//! owns the SQLite database labelled `purchasing` and no other. It reads
//! pieces from the catalogue and levels from stock on their internal
//! routes ([`peers`]), and hands receipts to stock through an outbox
//! ([`receiving`]), exactly once per reception.

mod error;
mod form;
mod offers;
mod orders;
mod peers;
mod receiving;
mod reorder;
mod schema;
mod suppliers;

use kit::auth::Role;
use kit::page::Query;
use kit::route::{Access, Call, Route, ready};
use kit::{Error, Service, route};
use serde_json::Value as Json;
use spin_sdk::http::{Request, Response, ResponseOutparam};
use spin_sdk::http_component;

const SERVICE: Service = Service {
    name: "purchasing",
    version: env!("CARGO_PKG_VERSION"),
    database: "purchasing",
    migrations: schema::MIGRATIONS,
    // Written by hand; `openapi.rs` checks it against [`ROUTES`].
    openapi: include_str!("openapi.json"),
};

#[cfg(test)]
mod openapi;

const VIEWER: Access = Access::Token(Role::Viewer);
const OPERATOR: Access = Access::Token(Role::Operator);
const MANAGER: Access = Access::Token(Role::Manager);

/// Everything purchasing serves, besides health and its document.
static ROUTES: &[Route] = &[
    Route::get("/api/purchasing/suppliers/", VIEWER, |call| {
        ready(list_suppliers(call))
    }),
    Route::post("/api/purchasing/suppliers/", MANAGER, |call| {
        ready(create_supplier(call))
    }),
    Route::get("/api/purchasing/suppliers/{id}/", VIEWER, |call| {
        ready(supplier(call))
    }),
    Route::patch("/api/purchasing/suppliers/{id}/", MANAGER, |call| {
        ready(update_supplier(call))
    }),
    Route::delete("/api/purchasing/suppliers/{id}/", MANAGER, |call| {
        ready(delete_supplier(call))
    }),
    Route::get("/api/purchasing/offers/", VIEWER, |call| {
        ready(list_offers(call))
    }),
    Route::post("/api/purchasing/offers/", MANAGER, |call| {
        Box::pin(create_offer(call))
    }),
    Route::get("/api/purchasing/offers/{id}/", VIEWER, |call| {
        ready(offer(call))
    }),
    Route::patch("/api/purchasing/offers/{id}/", MANAGER, |call| {
        ready(update_offer(call))
    }),
    Route::delete("/api/purchasing/offers/{id}/", MANAGER, |call| {
        ready(delete_offer(call))
    }),
    Route::get("/api/purchasing/pieces/{piece}/", VIEWER, |call| {
        ready(piece(call))
    }),
    Route::put("/api/purchasing/pieces/{piece}/", MANAGER, |call| {
        ready(set_target(call))
    }),
    Route::get("/api/purchasing/reorder/", VIEWER, |call| {
        Box::pin(reorder_list(call))
    }),
    Route::post("/api/purchasing/reorder/orders/", MANAGER, |call| {
        Box::pin(create_reorder_orders(call))
    }),
    Route::get("/api/purchasing/orders/", VIEWER, |call| {
        ready(list_orders(call))
    }),
    Route::post("/api/purchasing/orders/", MANAGER, |call| {
        Box::pin(create_order(call))
    }),
    Route::get("/api/purchasing/orders/{id}/", VIEWER, |call| {
        ready(order(call))
    }),
    Route::patch("/api/purchasing/orders/{id}/", MANAGER, |call| {
        Box::pin(update_order(call))
    }),
    Route::delete("/api/purchasing/orders/{id}/", MANAGER, |call| {
        ready(delete_order(call))
    }),
    Route::post("/api/purchasing/orders/{id}/send/", MANAGER, |call| {
        ready(change_order(call, orders::send))
    }),
    Route::post("/api/purchasing/orders/{id}/cancel/", MANAGER, |call| {
        ready(change_order(call, orders::cancel))
    }),
    Route::post("/api/purchasing/orders/{id}/receive/", OPERATOR, |call| {
        Box::pin(receive(call))
    }),
    Route::post(
        "/api/purchasing/internal/outbox/flush/",
        Access::Internal,
        |call| Box::pin(flush_outbox(call)),
    ),
];

#[http_component]
async fn handle(request: Request, response_out: ResponseOutparam) {
    // What earlier receipts left pending goes once the caller has its answer.
    route::answer_then_deliver(
        &SERVICE,
        ROUTES,
        request,
        response_out,
        ("delivery of receptions after a receipt", |request| {
            route::posts_to(request, &["/api/purchasing/orders/{id}/receive/"])
        }),
        |db| async move { receiving::deliver(&db, None).await },
    )
    .await
}

fn list_suppliers(call: &Call) -> Result<Response, Error> {
    let listed = suppliers::list(&call.database()?, call.request, &query(call.request))?;
    json(200, &listed)
}

fn create_supplier(call: &Call) -> Result<Response, Error> {
    let change = suppliers::Change::read(kit::body::json(call.request)?, true)?;
    let db = call.database()?;
    let id = suppliers::create(&db, &change)?;
    json(201, &suppliers::one(&db, id)?)
}

fn supplier(call: &Call) -> Result<Response, Error> {
    json(200, &suppliers::one(&call.database()?, call.param("id")?)?)
}

fn update_supplier(call: &Call) -> Result<Response, Error> {
    let id = call.param("id")?;
    let change = suppliers::Change::read(kit::body::json(call.request)?, false)?;
    let db = call.database()?;
    suppliers::update(&db, id, &change)?;
    json(200, &suppliers::one(&db, id)?)
}

fn delete_supplier(call: &Call) -> Result<Response, Error> {
    suppliers::delete(&call.database()?, call.param("id")?)?;
    Ok(Response::new(204, ()))
}

fn list_offers(call: &Call) -> Result<Response, Error> {
    json(200, &offers::list(&call.database()?, &query(call.request))?)
}

async fn create_offer(call: &Call<'_>) -> Result<Response, Error> {
    let change = offers::Change::read(kit::body::json(call.request)?, true)?;
    let db = call.database()?;
    let id = offers::create(&db, &change).await?;
    json(201, &offers::one(&db, id)?)
}

fn offer(call: &Call) -> Result<Response, Error> {
    json(200, &offers::one(&call.database()?, call.param("id")?)?)
}

fn update_offer(call: &Call) -> Result<Response, Error> {
    let id = call.param("id")?;
    let change = offers::Change::read(kit::body::json(call.request)?, false)?;
    let db = call.database()?;
    offers::update(&db, id, &change)?;
    json(200, &offers::one(&db, id)?)
}

fn delete_offer(call: &Call) -> Result<Response, Error> {
    offers::delete(&call.database()?, call.param("id")?)?;
    Ok(Response::new(204, ()))
}

fn piece(call: &Call) -> Result<Response, Error> {
    json(
        200,
        &offers::piece(&call.database()?, call.param("piece")?)?,
    )
}

fn set_target(call: &Call) -> Result<Response, Error> {
    let piece_id = call.param("piece")?;
    let db = call.database()?;
    offers::set_target(&db, piece_id, kit::body::json(call.request)?)?;
    json(200, &offers::piece(&db, piece_id)?)
}

async fn reorder_list(call: &Call<'_>) -> Result<Response, Error> {
    json(200, &reorder::list(&call.database()?).await?)
}

/// "Créer les commandes": 201 with the drafts made, 200 with none when
/// everything on the list is already on order.
async fn create_reorder_orders(call: &Call<'_>) -> Result<Response, Error> {
    let caller = call.caller()?;
    let db = call.database()?;
    let created = reorder::create_orders(&db, &caller.username).await?;
    let orders = created
        .iter()
        .map(|id| orders::one(&db, *id))
        .collect::<Result<Vec<_>, _>>()?;
    let status = if orders.is_empty() { 200 } else { 201 };
    json(status, &serde_json::json!({ "created": orders }))
}

fn list_orders(call: &Call) -> Result<Response, Error> {
    let listed = orders::list(&call.database()?, call.request, &query(call.request))?;
    json(200, &listed)
}

async fn create_order(call: &Call<'_>) -> Result<Response, Error> {
    let caller = call.caller()?;
    let change = orders::Change::read(kit::body::json_list(call.request)?, true)?;
    let db = call.database()?;
    let id = orders::create(&db, &change, &caller.username).await?;
    json(201, &orders::one(&db, id)?)
}

fn order(call: &Call) -> Result<Response, Error> {
    json(200, &orders::one(&call.database()?, call.param("id")?)?)
}

async fn update_order(call: &Call<'_>) -> Result<Response, Error> {
    let id = call.param("id")?;
    let change = orders::Change::read(kit::body::json_list(call.request)?, false)?;
    let db = call.database()?;
    orders::update(&db, id, &change).await?;
    json(200, &orders::one(&db, id)?)
}

fn delete_order(call: &Call) -> Result<Response, Error> {
    orders::delete(&call.database()?, call.param("id")?)?;
    Ok(Response::new(204, ()))
}

fn change_order(
    call: &Call,
    change: fn(&spin_sdk::sqlite::Connection, i64) -> Result<(), Error>,
) -> Result<Response, Error> {
    let id = call.param("id")?;
    let db = call.database()?;
    change(&db, id)?;
    json(200, &orders::one(&db, id)?)
}

/// Goods in: 201 when stock recorded them, 202 when stock could not be
/// reached (they wait and go later), 200 for a replayed key.
async fn receive(call: &Call<'_>) -> Result<Response, Error> {
    let (id, caller) = (call.param("id")?, call.caller()?);
    let db = call.database()?;
    orders::header(&db, id)?;
    let goods = receiving::Goods::read(&db, id, kit::body::json_list(call.request)?)?;
    // Keys are the caller's own: two users cannot collide on one.
    let receipt = match kit::route::idempotency_key(call.request)? {
        Some(key) => format!("{}:{key}", caller.user_id),
        None => receiving::fresh_receipt()?,
    };
    let receiver = receiving::Receiver {
        user_id: caller.user_id,
        username: &caller.username,
    };
    let (recorded, answer) = receiving::receive(&db, id, &goods, &receipt, &receiver).await?;
    let pending = answer["receptions"]
        .as_array()
        .is_some_and(|all| all.iter().any(|r| r["state"] == "pending"));
    let status = match (recorded, pending) {
        (false, _) => 200,
        (true, true) => 202,
        (true, false) => 201,
    };
    let mut response = route::json(status, &answer);
    if !recorded {
        response.set_header("idempotent-replayed", "true");
    }
    Ok(response)
}

async fn flush_outbox(call: &Call<'_>) -> Result<Response, Error> {
    let (delivered, pending) = receiving::flush(&call.database()?).await?;
    json(
        200,
        &serde_json::json!({ "delivered": delivered, "pending": pending }),
    )
}

fn query(request: &Request) -> Query {
    Query::parse(request.query())
}

fn json(status: u16, body: &Json) -> Result<Response, Error> {
    Ok(route::json(status, body))
}
