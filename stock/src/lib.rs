//! The `stock` service: stock levels per location, the append-only
//! movement ledger, locations and stocktakes.
//!
//! Spin routes `/api/stock/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `stock` and no other. Piece data comes from the
//! pieces service ([`pieces`]); threshold alerts leave through the outbox
//! ([`outbox`]) towards notifications.

mod counts;
mod error;
mod forwarding;
mod ledger;
mod levels;
mod locations;
mod movement;
mod order;
mod outbox;
mod pieces;
mod receipts;
mod reports;
mod schema;
mod statements;

use kit::auth::Role;
use kit::route::{Access, Call, Route, ready};
use kit::{Error, Service, route};
use serde_json::Value as Json;
use spin_sdk::http::{Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use spin_sdk::sqlite::{Connection, Value};

use crate::error::StockError;
use crate::movement::Author;
use crate::order::{Input, Kind, Order};
use kit::page::Query;

const SERVICE: Service = Service {
    name: "stock",
    version: env!("CARGO_PKG_VERSION"),
    database: "stock",
    migrations: schema::MIGRATIONS,
    // Written by hand; `openapi.rs` checks it against [`ROUTES`].
    openapi: include_str!("openapi.json"),
};

#[cfg(test)]
mod openapi;

const VIEWER: Access = Access::Token(Role::Viewer);
const OPERATOR: Access = Access::Token(Role::Operator);
const MANAGER: Access = Access::Token(Role::Manager);

/// Everything stock serves, besides health and its document.
static ROUTES: &[Route] = &[
    Route::get("/api/stock/", VIEWER, |call| ready(list_levels(call))),
    Route::post("/api/stock/movement/", OPERATOR, |call| {
        Box::pin(record(call))
    }),
    Route::get("/api/stock/movements/", VIEWER, |call| {
        ready(list_movements(call))
    }),
    Route::get("/api/stock/movements/export.csv", VIEWER, |call| {
        ready(export_movements(call))
    }),
    Route::post("/api/stock/movements/{id}/reverse/", MANAGER, |call| {
        Box::pin(reverse(call))
    }),
    Route::get("/api/stock/locations/", VIEWER, |call| {
        ready(list_locations(call))
    }),
    Route::post("/api/stock/locations/", MANAGER, |call| {
        ready(create_location(call))
    }),
    Route::get("/api/stock/locations/labels.svg", VIEWER, |call| {
        ready(location_labels(call))
    }),
    Route::get("/api/stock/locations/{id}/", VIEWER, |call| {
        ready(location(call))
    }),
    Route::patch("/api/stock/locations/{id}/", MANAGER, |call| {
        ready(update_location(call))
    }),
    Route::delete("/api/stock/locations/{id}/", MANAGER, |call| {
        ready(delete_location(call))
    }),
    Route::get("/api/stock/counts/", VIEWER, |call| {
        ready(list_counts(call))
    }),
    Route::post("/api/stock/counts/", OPERATOR, |call| {
        ready(open_count(call))
    }),
    Route::get("/api/stock/counts/{id}/", VIEWER, |call| ready(count(call))),
    Route::put("/api/stock/counts/{id}/lines/", OPERATOR, |call| {
        Box::pin(record_lines(call))
    }),
    Route::post("/api/stock/counts/{id}/import/", OPERATOR, |call| {
        Box::pin(import_lines(call))
    }),
    Route::get("/api/stock/counts/{id}/export.csv", VIEWER, |call| {
        ready(export_count(call))
    }),
    Route::post("/api/stock/counts/{id}/validate/", MANAGER, |call| {
        ready(close_count(call, "validated"))
    }),
    Route::post("/api/stock/counts/{id}/cancel/", MANAGER, |call| {
        ready(close_count(call, "cancelled"))
    }),
    Route::get("/api/stock/reports/consumption/", VIEWER, |call| {
        ready(report(call, reports::consumption))
    }),
    Route::get("/api/stock/reports/value/", VIEWER, |call| {
        ready(report(call, reports::value))
    }),
    Route::get("/api/stock/reports/movers/", VIEWER, |call| {
        ready(report(call, reports::movers))
    }),
    Route::get("/api/stock/reports/dormant/", VIEWER, |call| {
        ready(report(call, reports::dormant))
    }),
    Route::get("/api/stock/reports/out-of-stock/", VIEWER, |call| {
        ready(report(call, reports::out_of_stock))
    }),
    Route::get(
        "/api/stock/internal/usage/{id}/",
        Access::Internal,
        |call| ready(usage(call)),
    ),
    Route::get("/api/stock/internal/reorder/", Access::Internal, |call| {
        ready(below_minimum(call))
    }),
    Route::post("/api/stock/internal/receipts/", Access::Internal, |call| {
        Box::pin(record_receipts(call))
    }),
    Route::post("/api/stock/internal/catalogue/", Access::Internal, |call| {
        ready(catalogue(call))
    }),
    Route::put(
        "/api/stock/internal/forwarding/",
        Access::Internal,
        |call| ready(set_forwarding(call)),
    ),
    Route::post(
        "/api/stock/internal/outbox/flush/",
        Access::Internal,
        |call| Box::pin(flush_outbox(call)),
    ),
    Route::get("/api/stock/{piece}/", VIEWER, |call| Box::pin(level(call))),
];

/// The routes after whose success this invocation delivers the outbox.
const RECORDING: [&str; 5] = [
    "/api/stock/movement/",
    "/api/stock/internal/receipts/",
    "/api/stock/internal/catalogue/",
    "/api/stock/movements/{id}/reverse/",
    "/api/stock/counts/{id}/validate/",
];

/// Delivers the events a movement, a receipt or a catalogue change wrote
/// (alerts; movements and changes for webhooks) once the caller has its
/// answer.
#[http_component]
async fn handle(request: Request, response_out: ResponseOutparam) {
    kit::route::answer_then_deliver(
        &SERVICE,
        ROUTES,
        request,
        response_out,
        ("outbox delivery after a write", |request| {
            kit::route::posts_to(request, &RECORDING)
        }),
        |db| async move { outbox::deliver_due(&db).await },
    )
    .await
}

fn list_levels(call: &Call) -> Result<Response, Error> {
    let levels = levels::list(&call.database()?, call.request, &query(call.request))?;
    json(200, &levels)
}

fn list_movements(call: &Call) -> Result<Response, Error> {
    let movements = ledger::list(&call.database()?, call.request, &query(call.request))?;
    json(200, &movements)
}

fn export_movements(call: &Call) -> Result<Response, Error> {
    let csv = ledger::export(&call.database()?, &query(call.request))?;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/csv; charset=utf-8")
        .header(
            "content-disposition",
            "attachment; filename=\"mouvements.csv\"",
        )
        .body(csv)
        .build())
}

fn set_forwarding(call: &Call) -> Result<Response, Error> {
    let wanted = kit::body::json(call.request)?;
    json(200, &forwarding::set(&call.database()?, wanted)?)
}

/// A report, as JSON or (`?format=csv`) CSV.
fn report(
    call: &Call,
    build: fn(&Connection, &Query) -> Result<reports::Report, Error>,
) -> Result<Response, Error> {
    let query = query(call.request);
    build(&call.database()?, &query)?.respond(&query)
}

async fn flush_outbox(call: &Call<'_>) -> Result<Response, Error> {
    let (delivered, pending) = outbox::flush(&call.database()?).await?;
    json(200, &outbox::report(delivered, pending))
}

/// `POST /api/stock/movement/`: operator and up for IN/OUT, manager and up
/// for ADJUST; `Idempotency-Key` replays the first answer.
async fn record(call: &Call<'_>) -> Result<Response, Error> {
    let (request, caller) = (call.request, call.caller()?);
    let order = kit::body::json::<Input>(request)?.validate()?;
    if order.kind == Kind::Adjust {
        caller.require(Role::Manager)?;
    }
    // Keys are the caller's own: two users cannot collide on one.
    let key = kit::route::idempotency_key(request)?.map(|key| format!("{}:{key}", caller.user_id));
    let fingerprint = order.fingerprint();
    let db = call.database()?;
    if let Some(key) = &key
        && let Some(replay) = replay(&db, key, &fingerprint)?
    {
        return Ok(replay);
    }
    movable(&db, &order).await?;
    let author = author(caller);
    let idempotency = key.as_deref().map(|k| (k, fingerprint.as_str()));
    match movement::record(&db, &order, &author, idempotency, None) {
        Ok(Some(id)) => created(&db, id),
        Ok(None) => Err(refusal(&db, &order)?),
        // Another request with the same key won the race: answer as it did.
        Err(e) if kit::constraint::is_unique_violation(&e, "ledger.idempotency_key") => {
            let key = key.as_deref().unwrap_or_default();
            replay(&db, key, &fingerprint)?
                .ok_or_else(|| Error::Conflict("Requête concurrente ; réessayez.".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/stock/movements/{id}/reverse/`: the opposite movement, linked
/// to the original, at most once.
async fn reverse(call: &Call<'_>) -> Result<Response, Error> {
    let (id, caller) = (call.param("id")?, call.caller()?);
    let db = call.database()?;
    let original = movement::find(&db, id)?.ok_or(Error::NotFound)?;
    let order = movement::reversal_of(&original)?;
    movable(&db, &order).await?;
    match movement::record(&db, &order, &author(caller), None, Some(id)) {
        Ok(Some(id)) => created(&db, id),
        Ok(None) => Err(refusal(&db, &order)?),
        Err(e) if kit::constraint::is_unique_violation(&e, "ledger.reverses") => {
            Err(StockError::AlreadyReversed.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Movements only go to known pieces that are not archived (refreshed from
/// pieces); the movement's statement checks its locations itself, and
/// [`refusal`] says which one it found wanting.
async fn movable(db: &Connection, order: &Order) -> Result<(), Error> {
    let piece = pieces::refresh(db, order.piece_id).await?;
    if piece.archived {
        return Err(StockError::ArchivedPiece {
            reference: piece.reference,
        }
        .into());
    }
    Ok(())
}

fn placeable(db: &Connection, order: &Order) -> Result<(), Error> {
    let source = match order.kind {
        Kind::Transfer => "from_location_id",
        _ => "location_id",
    };
    locations::usable(db, order.location(), source)?;
    if let Some(destination) = order.destination {
        locations::usable(db, destination, "to_location_id")?;
    }
    Ok(())
}

fn author(caller: &kit::auth::Caller) -> Author<'_> {
    Author {
        user_id: caller.user_id,
        username: &caller.username,
    }
}

/// `GET /api/stock/{piece_id}/`: a piece stock has not seen yet is looked up
/// in pieces and shown at level 0, without being stored: a read does not
/// add it to the list (404 if pieces does not know it either, 503 if pieces
/// cannot say).
async fn level(call: &Call<'_>) -> Result<Response, Error> {
    let piece_id = call.param("piece")?;
    let db = call.database()?;
    match levels::one(&db, piece_id) {
        Err(Error::NotFound) => {
            let piece = pieces::lookup(piece_id).await.map_err(|e| match e {
                StockError::UnknownPiece => Error::NotFound,
                other => other.into(),
            })?;
            json(200, &levels::unseen(&db, &piece)?)
        }
        other => json(200, &other?),
    }
}

/// Changes pieces committed, oldest first (its outbox): each is recorded
/// unless stock holds a newer version of the piece, so a repeated or late
/// batch changes nothing. All or nothing is checked first: a batch with a
/// malformed change is refused whole (400), never half applied.
fn catalogue(call: &Call) -> Result<Response, Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        changes: Vec<pieces::Change>,
    }
    let batch: Batch = kit::body::json(call.request)?;
    if let Some(bad) = batch
        .changes
        .iter()
        .find(|c| c.piece.id < 1 || c.piece.version < 1 || c.piece.min_stock < 0)
    {
        return Err(Error::field(
            "changes",
            format!(
                "Changement invalide pour la pièce {} (identifiant, version et minimum positifs).",
                bad.piece.id
            ),
        ));
    }
    let applied = pieces::apply(&call.database()?, &batch.changes)?;
    json(
        200,
        &serde_json::json!({ "received": batch.changes.len(), "applied": applied }),
    )
}

/// For purchasing's reorder list.
fn below_minimum(call: &Call) -> Result<Response, Error> {
    json(200, &levels::below_minimum(&call.database()?)?)
}

/// Goods purchasing received: each an IN movement, once per key.
async fn record_receipts(call: &Call<'_>) -> Result<Response, Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        receipts: Vec<receipts::Receipt>,
    }
    let batch: Batch = kit::body::json(call.request)?;
    receipts::Receipt::check(&batch.receipts)?;
    json(
        200,
        &receipts::record(&call.database()?, &batch.receipts).await?,
    )
}

fn created(db: &Connection, id: i64) -> Result<Response, Error> {
    let movement = movement::find(db, id)?.ok_or(Error::NotFound)?;
    json(201, &movement)
}

/// Why a movement found no row to write: a location unknown or archived,
/// or not enough where it takes from.
fn refusal(db: &Connection, order: &Order) -> Result<Error, Error> {
    if let Err(error) = placeable(db, order) {
        return Ok(error);
    }
    let available = movement::held(db, order.piece_id, order.location())?;
    Ok(StockError::Insufficient { available }.into())
}

/// The first answer to this key, if any; 422 if the key came with another
/// request.
fn replay(db: &Connection, key: &str, fingerprint: &str) -> Result<Option<Response>, Error> {
    match movement::by_idempotency_key(db, key)? {
        None => Ok(None),
        Some((_, earlier)) if earlier != fingerprint => Err(StockError::IdempotencyMismatch.into()),
        Some((id, _)) => {
            let mut response = created(db, id)?;
            response.set_header("idempotent-replayed", "true");
            Ok(Some(response))
        }
    }
}

/// For pieces' DELETE: may the piece be removed, or must it be archived?
fn usage(call: &Call) -> Result<Response, Error> {
    let piece_id = call.param("id")?;
    let row = call.database()?.execute(
        "SELECT COALESCE((SELECT quantity FROM levels WHERE piece_id = ?1), 0) AS quantity, \
                EXISTS (SELECT 1 FROM ledger WHERE piece_id = ?1) AS moved",
        &[Value::Integer(piece_id)],
    )?;
    let row = row.rows().next();
    let quantity = row
        .as_ref()
        .and_then(|r| r.get::<i64>("quantity"))
        .unwrap_or(0);
    let moved = row
        .as_ref()
        .and_then(|r| r.get::<i64>("moved"))
        .unwrap_or(0)
        != 0;
    json(
        200,
        &serde_json::json!({ "piece_id": piece_id, "has_stock": quantity > 0, "has_movements": moved }),
    )
}

fn list_locations(call: &Call) -> Result<Response, Error> {
    let query = query(call.request);
    json(
        200,
        &locations::list(&call.database()?, query.get("archived"))?,
    )
}

fn create_location(call: &Call) -> Result<Response, Error> {
    let change = kit::body::json::<locations::Input>(call.request)?.validate(true)?;
    let db = call.database()?;
    let id = locations::create(&db, &change)?;
    json(201, &locations::one(&db, id)?)
}

/// A sheet of location labels, in the order asked for; each QR code reads
/// `EMPL:<code>`, which the scan page takes as "here".
fn location_labels(call: &Call) -> Result<Response, Error> {
    let order = kit::labels::Order::from_query(&query(call.request))?;
    let db = call.database()?;
    let labels = order
        .ids
        .iter()
        .map(|id| locations::one(&db, *id).map(|location| locations::label(&location)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            Error::NotFound => Error::field("ids", "Emplacement inconnu."),
            other => other,
        })?;
    kit::labels::response(&order, &labels)
}

fn location(call: &Call) -> Result<Response, Error> {
    json(200, &locations::one(&call.database()?, call.param("id")?)?)
}

fn update_location(call: &Call) -> Result<Response, Error> {
    let id = call.param("id")?;
    let change = kit::body::json::<locations::Input>(call.request)?.validate(false)?;
    let db = call.database()?;
    locations::one(&db, id)?;
    locations::update(&db, id, &change)?;
    json(200, &locations::one(&db, id)?)
}

fn delete_location(call: &Call) -> Result<Response, Error> {
    locations::delete(&call.database()?, call.param("id")?)?;
    Ok(Response::new(204, ()))
}

fn list_counts(call: &Call) -> Result<Response, Error> {
    let listed = counts::list(&call.database()?, call.request, &query(call.request))?;
    json(200, &listed)
}

fn open_count(call: &Call) -> Result<Response, Error> {
    let caller = call.caller()?;
    let (location, note) = kit::body::json::<counts::Opening>(call.request)?.validate()?;
    let db = call.database()?;
    let id = counts::open(&db, location, &note, &author(caller))?;
    json(201, &counts::one(&db, id)?)
}

fn count(call: &Call) -> Result<Response, Error> {
    json(200, &counts::one(&call.database()?, call.param("id")?)?)
}

async fn record_lines(call: &Call<'_>) -> Result<Response, Error> {
    let lines = kit::body::json::<counts::Lines>(call.request)?.validate()?;
    save_lines(call, &lines).await
}

async fn import_lines(call: &Call<'_>) -> Result<Response, Error> {
    let db = call.database()?;
    let lines = counts::from_csv(&db, call.request)?;
    save_lines(call, &lines).await
}

/// Pieces that stock has not heard of yet (created a moment ago, their
/// change still on its way) are asked of pieces, a few at most.
const LOOKUPS_PER_COUNT_REQUEST: usize = 20;

async fn save_lines(call: &Call<'_>, lines: &[counts::Counted]) -> Result<Response, Error> {
    let (id, caller) = (call.param("id")?, call.caller()?);
    let db = call.database()?;
    let unknown = counts::unknown_pieces(&db, lines)?;
    if unknown.len() <= LOOKUPS_PER_COUNT_REQUEST {
        for piece in unknown {
            match pieces::refresh(&db, piece).await {
                Ok(_) | Err(StockError::UnknownPiece) => {}
                Err(other) => return Err(other.into()),
            }
        }
    }
    let recorded = counts::record(&db, id, lines, &author(caller))?;
    json(200, &serde_json::json!({ "recorded": recorded }))
}

fn export_count(call: &Call) -> Result<Response, Error> {
    let id = call.param("id")?;
    let csv = counts::export(&call.database()?, id)?;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/csv; charset=utf-8")
        .header(
            "content-disposition",
            format!("attachment; filename=\"inventaire-{id}.csv\""),
        )
        .body(csv)
        .build())
}

/// Validates or cancels an open count; validating one already validated
/// answers it again and adjusts nothing.
fn close_count(call: &Call, status: &str) -> Result<Response, Error> {
    let (id, caller) = (call.param("id")?, call.caller()?);
    let db = call.database()?;
    counts::close(&db, id, status, &author(caller))?;
    json(200, &counts::one(&db, id)?)
}

fn query(request: &Request) -> Query {
    Query::parse(request.query())
}

fn json(status: u16, body: &Json) -> Result<Response, Error> {
    Ok(route::json(status, body))
}
