//! The `pieces` service: the parts catalogue.
//!
//! Spin routes `/api/pieces/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `pieces` and no other. [`ROUTES`] is the route
//! table. Domain rules live in `model.rs`, SQL in `store.rs`, list
//! parameters in `listing.rs`, the CSV format in `csv.rs` and the import in
//! `import.rs`, write preconditions in `precondition.rs`, the calls to stock
//! in `stock.rs`.

mod audit;
mod import;
mod listing;
mod model;
#[cfg(test)]
mod openapi;
mod outbox;
mod precondition;
mod schema;
mod stock;
mod store;
mod text;

use kit::auth::Role;
use kit::page::{self, Page};
use kit::route::{Access, Call, Route, ready};
use kit::{Error, Service, route};
use serde_json::{Map, Value, json};
use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

use crate::model::{CSV_COLUMNS, Piece};
use crate::precondition::{IfMatch, if_match, stale_version};
use crate::store::refuse_conflicts;

const SERVICE: Service = Service {
    name: "pieces",
    version: env!("CARGO_PKG_VERSION"),
    database: "pieces",
    migrations: schema::MIGRATIONS,
    // Written by hand; `openapi.rs` checks it against [`ROUTES`].
    openapi: include_str!("openapi.json"),
};

const COLLECTION: &str = "/api/pieces/";
const VIEWER: Access = Access::Token(Role::Viewer);
const MANAGER: Access = Access::Token(Role::Manager);

/// Everything pieces serves, besides health and its document.
static ROUTES: &[Route] = &[
    Route::get("/api/pieces/", VIEWER, |call| ready(list(call))),
    Route::post("/api/pieces/", MANAGER, |call| ready(create(call))),
    Route::get("/api/pieces/categories/", VIEWER, |call| {
        ready(categories(call))
    }),
    Route::get("/api/pieces/export.csv", VIEWER, |call| ready(export(call))),
    Route::get("/api/pieces/labels.svg", VIEWER, |call| ready(labels(call))),
    Route::get("/api/pieces/audit/", VIEWER, |call| {
        ready(audit_trail(call))
    }),
    Route::post("/api/pieces/import/", MANAGER, |call| {
        ready(import::import(call))
    }),
    Route::get(
        "/api/pieces/internal/pieces/{id}/",
        Access::Internal,
        |call| ready(internal_read(call)),
    ),
    Route::post(
        "/api/pieces/internal/outbox/flush/",
        Access::Internal,
        |call| Box::pin(flush_outbox(call)),
    ),
    Route::get("/api/pieces/{id}/", VIEWER, |call| ready(read(call))),
    Route::put("/api/pieces/{id}/", MANAGER, |call| {
        Box::pin(update(call, false))
    }),
    Route::patch("/api/pieces/{id}/", MANAGER, |call| {
        Box::pin(update(call, true))
    }),
    Route::delete("/api/pieces/{id}/", MANAGER, |call| Box::pin(delete(call))),
];

#[http_component]
async fn handle(request: Request, response_out: ResponseOutparam) {
    // Stock learns of each change once the caller has its answer.
    kit::route::answer_then_deliver(
        &SERVICE,
        ROUTES,
        request,
        response_out,
        ("catalogue changes after a write", changes_catalogue),
        |db| async move { outbox::deliver(&db).await },
    )
    .await
}

/// A write to the catalogue from outside (the outbox's own flush delivers
/// already).
fn changes_catalogue(request: &Request) -> bool {
    !matches!(request.method(), Method::Get | Method::Head)
        && !request.path().starts_with("/api/pieces/internal/")
}

async fn flush_outbox(call: &Call<'_>) -> Result<Response, Error> {
    let (delivered, pending) = outbox::deliver(&call.database()?).await?;
    Ok(route::json(200, &outbox::report(delivered, pending)))
}

/// What stock reads of a piece (its own copy, refreshed on movements).
fn internal_read(call: &Call) -> Result<Response, Error> {
    let piece = store::get(&call.database()?, call.param("id")?)?.ok_or(Error::NotFound)?;
    Ok(route::json(200, &piece.to_internal_json()))
}

fn list(call: &Call) -> Result<Response, Error> {
    let request = call.request;
    let raw = page::Query::parse(request.query());
    let page = Page::from_query(&raw)?;
    let query = listing::Query::parse(&raw).map_err(Error::Validation)?;
    let (count, pieces) = store::list(&call.database()?, &query, &page)?;
    let results = pieces.iter().map(Piece::to_json).collect();
    Ok(route::json(200, &page.document(request, count, results)?))
}

fn categories(call: &Call) -> Result<Response, Error> {
    let query = listing::Query::parse(&page::Query::parse(call.request.query()))
        .map_err(Error::Validation)?;
    let categories: Vec<Value> = store::categories(&call.database()?, &query.filter)?
        .into_iter()
        .map(|(category, count)| json!({"category": category, "count": count}))
        .collect();
    Ok(route::json(200, &Value::Array(categories)))
}

/// The catalogue's audit trail, newest first.
fn audit_trail(call: &Call) -> Result<Response, Error> {
    let query = page::Query::parse(call.request.query());
    let trail = audit::list(&call.database()?, call.request, &query)?;
    Ok(route::json(200, &trail))
}

/// A sheet of labels, one per piece asked for, in that order: the QR code
/// is the piece's barcode if it has one, else its reference (what the scan
/// page looks up).
fn labels(call: &Call) -> Result<Response, Error> {
    let order = kit::labels::Order::from_query(&page::Query::parse(call.request.query()))?;
    let db = call.database()?;
    let mut labels = Vec::with_capacity(order.ids.len());
    let mut unknown = Vec::new();
    for id in &order.ids {
        match store::get(&db, *id)? {
            Some(piece) => labels.push(piece.label()),
            None => unknown.push(id.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::field(
            "ids",
            format!("Pièces inconnues : {}.", unknown.join(", ")),
        ));
    }
    kit::labels::response(&order, &labels)
}

fn read(call: &Call) -> Result<Response, Error> {
    let piece = store::get(&call.database()?, call.param("id")?)?.ok_or(Error::NotFound)?;
    Ok(piece_response(200, &piece))
}

fn create(call: &Call) -> Result<Response, Error> {
    let caller = call.caller()?;
    let body: Map<String, Value> = kit::body::json(call.request)?;
    let write = model::from_json(&body, None).map_err(Error::Validation)?;
    let db = call.database()?;
    refuse_conflicts(store::conflicts(&db, &write.draft, None)?)?;
    let piece = store::insert(&db, &write.draft, &caller.username)?;
    let mut response = piece_response(201, &piece);
    response.set_header("location", format!("{COLLECTION}{}/", piece.id));
    Ok(response)
}

/// `PUT` (whole piece) or `PATCH` (named fields). The write applies only to
/// the version the client saw: `If-Match` (412 when stale) or the body's
/// `version` (409 when stale); without either, to the version read here.
/// A malformed `If-Match` is refused (400) right after the token and role
/// checks, before the body and the database; an invalid body is refused
/// before the precondition is judged, so that a 412, or a 409 for a stale
/// `version`, only ever answers a request that is valid otherwise.
/// Once the write is committed, stock learns of it (`outbox.rs`).
async fn update(call: &Call<'_>, patch: bool) -> Result<Response, Error> {
    let id = call.param("id")?;
    let if_match = if_match(call.request)?;
    let body: Map<String, Value> = kit::body::json(call.request)?;
    let db = call.database()?;
    let current = store::get(&db, id)?.ok_or(Error::NotFound)?;
    let write =
        model::from_json(&body, patch.then_some(&current.draft)).map_err(Error::Validation)?;
    if let Some(tags) = &if_match {
        tags.check(current.version)?;
    }
    if if_match.is_none()
        && let Some(version) = write.version.filter(|v| *v != current.version)
    {
        return Err(stale_version(version, current.version));
    }
    refuse_conflicts(store::conflicts(&db, &write.draft, Some(id))?)?;
    let user = &call.caller()?.username;
    match store::update(&db, id, current.version, &write.draft, user)? {
        Some(piece) => Ok(piece_response(200, &piece)),
        // Changed or deleted between the read above and the write.
        None => match store::get(&db, id)? {
            None => Err(Error::NotFound),
            Some(now) if if_match.is_some() => Err(IfMatch::stale(now.version)),
            Some(now) => Err(stale_version(current.version, now.version)),
        },
    }
}

/// Deletes a piece stock never saw; archives one it did (its ledger keeps
/// naming it), and says so. Stock is asked first: if it cannot answer,
/// nothing changes (503). Once the change is committed, stock is told of
/// its outcome through the outbox.
async fn delete(call: &Call<'_>) -> Result<Response, Error> {
    let id = call.param("id")?;
    let if_match = if_match(call.request)?;
    let db = call.database()?;
    let current = store::get(&db, id)?.ok_or(Error::NotFound)?;
    if let Some(tags) = if_match {
        tags.check(current.version)?;
    }
    let usage = stock::usage(id).await?;
    if usage.in_use() {
        let user = &call.caller()?.username;
        let piece = store::archive(&db, id, user)?.ok_or(Error::NotFound)?;
        let detail = "La pièce a du stock ou un historique de mouvements : elle a été archivée, \
                      pas supprimée.";
        let mut response = route::json(
            200,
            &json!({"detail": detail, "deleted": false, "archived": true, "piece": piece.to_json()}),
        );
        response.set_header("etag", piece.etag());
        return Ok(response);
    }
    if !store::delete(&db, id, &call.caller()?.username)? {
        return Err(Error::NotFound);
    }
    Ok(Response::builder().status(204).build())
}

fn export(call: &Call) -> Result<Response, Error> {
    let query = listing::Query::parse(&page::Query::parse(call.request.query()))
        .map_err(Error::Validation)?;
    let pieces = store::all(&call.database()?, &query)?;
    let mut out = String::with_capacity(128 * (pieces.len() + 1));
    kit::csv::write_record(&mut out, &CSV_COLUMNS);
    for piece in &pieces {
        kit::csv::write_record(&mut out, &model::to_csv_record(&piece.draft));
    }
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", "attachment; filename=\"pieces.csv\"")
        .body(out)
        .build())
}

fn piece_response(status: u16, piece: &Piece) -> Response {
    let mut response = route::json(status, &piece.to_json());
    response.set_header("etag", piece.etag());
    response
}
