//! The `stock` service: stock levels and the append-only movement ledger.
//!
//! Spin routes `/api/stock/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `stock` and no other. Piece data comes from the
//! pieces service ([`pieces`]); threshold alerts leave through the outbox
//! ([`outbox`]) towards notifications.

mod error;
mod ledger;
mod levels;
mod movement;
mod order;
mod outbox;
mod pieces;
mod schema;
mod statements;

use kit::auth::Role;
use kit::route::{Access, Call, Route, dispatch, ready};
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

const MAX_IDEMPOTENCY_KEY: usize = 255;

#[cfg(test)]
mod openapi;

const VIEWER: Access = Access::Token(Role::Viewer);

/// Everything stock serves, besides health and its document.
static ROUTES: &[Route] = &[
    Route::get("/api/stock/", VIEWER, |call| ready(list_levels(call))),
    Route::post(
        "/api/stock/movement/",
        Access::Token(Role::Operator),
        |call| Box::pin(record(call)),
    ),
    Route::get("/api/stock/movements/", VIEWER, |call| {
        ready(list_movements(call))
    }),
    Route::get("/api/stock/movements/export.csv", VIEWER, |call| {
        ready(export_movements(call))
    }),
    Route::post(
        "/api/stock/movements/{id}/reverse/",
        Access::Token(Role::Manager),
        |call| Box::pin(reverse(call)),
    ),
    Route::get(
        "/api/stock/internal/usage/{id}/",
        Access::Internal,
        |call| ready(usage(call)),
    ),
    Route::post("/api/stock/internal/catalogue/", Access::Internal, |call| {
        ready(catalogue(call))
    }),
    Route::post(
        "/api/stock/internal/outbox/flush/",
        Access::Internal,
        |call| Box::pin(flush_outbox(call)),
    ),
    Route::get("/api/stock/{piece}/", VIEWER, |call| Box::pin(level(call))),
];

/// The routes after whose `201` this invocation delivers the outbox.
const RECORDING: [&str; 2] = ["/api/stock/movement/", "/api/stock/movements/{id}/reverse/"];

#[http_component]
async fn handle(request: Request, response_out: ResponseOutparam) {
    let response = dispatch(&SERVICE, ROUTES, &request).await;
    let recorded = *response.status() == 201
        && RECORDING
            .iter()
            .any(|pattern| kit::route::matches(pattern, request.path()));
    kit::route::send(response_out, response).await;
    // The caller has its answer; this invocation goes on to deliver the
    // alert the movement may have written, so that it reaches
    // notifications with no scheduler running (Spin keeps the instance
    // until the handler returns).
    if recorded {
        let delivered = match SERVICE.database() {
            Ok(db) => outbox::deliver_due(&db).await,
            Err(e) => Err(e),
        };
        if let Err(e) = delivered {
            eprintln!("outbox delivery after a movement: {e}");
        }
    }
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
    let key = idempotency_key(request)?.map(|key| format!("{}:{key}", caller.user_id));
    let fingerprint = order.fingerprint();
    let db = call.database()?;
    if let Some(key) = &key
        && let Some(replay) = replay(&db, key, &fingerprint)?
    {
        return Ok(replay);
    }
    movable(&db, order.piece_id).await?;
    let author = Author {
        user_id: caller.user_id,
        username: &caller.username,
    };
    let idempotency = key.as_deref().map(|k| (k, fingerprint.as_str()));
    match movement::record(&db, &order, &author, idempotency, None) {
        Ok(Some(id)) => created(&db, id),
        Ok(None) => Err(insufficient(&db, &order)?),
        // Another request with the same key won the race: answer as it did.
        Err(e) if kit::constraint::is_unique_violation(&e, "movements.idempotency_key") => {
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
    movable(&db, order.piece_id).await?;
    let author = Author {
        user_id: caller.user_id,
        username: &caller.username,
    };
    match movement::record(&db, &order, &author, None, Some(id)) {
        Ok(Some(id)) => created(&db, id),
        Ok(None) => Err(insufficient(&db, &order)?),
        Err(e) if kit::constraint::is_unique_violation(&e, "movements.reverses") => {
            Err(StockError::AlreadyReversed.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Refreshes the piece from pieces: movements only go to known pieces that
/// are not archived.
async fn movable(db: &Connection, piece_id: i64) -> Result<(), Error> {
    let piece = pieces::refresh(db, piece_id).await?;
    if piece.archived {
        return Err(StockError::ArchivedPiece {
            reference: piece.reference,
        }
        .into());
    }
    Ok(())
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

fn created(db: &Connection, id: i64) -> Result<Response, Error> {
    let movement = movement::find(db, id)?.ok_or(Error::NotFound)?;
    json(201, &movement)
}

fn insufficient(db: &Connection, order: &Order) -> Result<Error, Error> {
    let available = movement::level(db, order.piece_id)?;
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

fn idempotency_key(request: &Request) -> Result<Option<String>, Error> {
    let Some(value) = request.header("idempotency-key") else {
        return Ok(None);
    };
    match value.as_str().map(str::trim) {
        Some(key)
            if !key.is_empty()
                && key.len() <= MAX_IDEMPOTENCY_KEY
                && key.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        _ => Err(Error::BadRequest(format!(
            "En-tête Idempotency-Key invalide : 1 à {MAX_IDEMPOTENCY_KEY} caractères ASCII visibles."
        ))),
    }
}

/// For pieces' DELETE: may the piece be removed, or must it be archived?
fn usage(call: &Call) -> Result<Response, Error> {
    let piece_id = call.param("id")?;
    let row = call.database()?.execute(
        "SELECT COALESCE((SELECT quantity FROM levels WHERE piece_id = ?1), 0) AS quantity, \
                EXISTS (SELECT 1 FROM movements WHERE piece_id = ?1) AS moved",
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

fn query(request: &Request) -> Query {
    Query::parse(request.query())
}

fn json(status: u16, body: &Json) -> Result<Response, Error> {
    Ok(route::json(status, body))
}
