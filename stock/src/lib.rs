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
mod outbox;
mod pieces;
mod schema;

use kit::auth::{Caller, Role};
use kit::{Error, Service, routing};
use serde_json::Value as Json;
use spin_sdk::http::{Method, OutgoingResponse, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use spin_sdk::sqlite::{Connection, Value};

use crate::error::StockError;
use crate::movement::{Author, Order};
use kit::page::Query;

const SERVICE: Service = Service {
    name: "stock",
    version: env!("CARGO_PKG_VERSION"),
    database: "stock",
    migrations: schema::MIGRATIONS,
};

const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The OpenAPI 3 document, written by hand; the tests in `openapi.rs` check
/// that it documents every arm of `route`'s `match`, and nothing else.
const OPENAPI: &str = include_str!("openapi.json");
#[cfg(test)]
mod openapi;

#[http_component]
async fn handle(request: Request, response_out: ResponseOutparam) {
    let response = route(&request).await.unwrap_or_else(Error::into_response);
    let recorded = *response.status() == 201 && records_a_movement(&request);
    send(response_out, response).await;
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

fn records_a_movement(request: &Request) -> bool {
    matches!(
        routing::segments(request.path(), "/api/stock").as_slice(),
        ["movement"] | ["movements", _, "reverse"]
    )
}

/// Sends `response` whole, as `#[http_component]` does for a handler that
/// returns one.
async fn send(response_out: ResponseOutparam, mut response: Response) {
    let body = std::mem::take(response.body_mut());
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = response_out.set_with_body(outgoing, body).await {
                eprintln!("cannot send the response: {e}");
            }
        }
        Err(e) => eprintln!("cannot convert the response: {e}"),
    }
}

async fn route(request: &Request) -> Result<Response, Error> {
    let segments = routing::segments(request.path(), "/api/stock");
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
            routing::allow(method, &[Method::Get])?;
            viewer(request)?;
            json(
                200,
                &levels::list(&SERVICE.database()?, request, &query(request))?,
            )
        }
        ["movement"] => {
            routing::allow(method, &[Method::Post])?;
            record(request).await
        }
        ["movements"] => {
            routing::allow(method, &[Method::Get])?;
            viewer(request)?;
            json(
                200,
                &ledger::list(&SERVICE.database()?, request, &query(request))?,
            )
        }
        ["movements", "export.csv"] => {
            routing::allow(method, &[Method::Get])?;
            viewer(request)?;
            let csv = ledger::export(&SERVICE.database()?, &query(request))?;
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
        ["movements", id, "reverse"] => {
            routing::allow(method, &[Method::Post])?;
            reverse(request, id_from(id)?).await
        }
        ["internal", "usage", id] => {
            routing::allow(method, &[Method::Get])?;
            kit::auth::internal(request)?;
            json(200, &usage(&SERVICE.database()?, id_from(id)?)?)
        }
        ["internal", "pieces", id] => {
            let piece_id = id_from(id)?;
            routing::allow(method, &[Method::Put, Method::Delete])?;
            kit::auth::internal(request)?;
            piece_changed(request, piece_id)
        }
        ["internal", "outbox", "flush"] => {
            routing::allow(method, &[Method::Post])?;
            kit::auth::internal(request)?;
            let (delivered, pending) = outbox::flush(&SERVICE.database()?).await?;
            json(200, &outbox::report(delivered, pending))
        }
        [id] => {
            // An unknown path is a 404 before it is a 401.
            let piece_id = id_from(id)?;
            routing::allow(method, &[Method::Get])?;
            viewer(request)?;
            level(piece_id).await
        }
        _ => Err(Error::NotFound),
    }
}

fn viewer(request: &Request) -> Result<Caller, Error> {
    let caller = kit::auth::authenticate(request)?;
    caller.require(Role::Viewer)?;
    Ok(caller)
}

/// `POST /api/stock/movement/`: operator and up for IN/OUT, manager and up
/// for ADJUST; `Idempotency-Key` replays the first answer.
async fn record(request: &Request) -> Result<Response, Error> {
    let caller = kit::auth::authenticate(request)?;
    caller.require(Role::Operator)?;
    let order = kit::body::json::<movement::Input>(request)?.validate()?;
    if order.kind == movement::Kind::Adjust {
        caller.require(Role::Manager)?;
    }
    // Keys are the caller's own: two users cannot collide on one.
    let key = idempotency_key(request)?.map(|key| format!("{}:{key}", caller.user_id));
    let fingerprint = order.fingerprint();
    let db = SERVICE.database()?;
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
        Err(spin_sdk::sqlite::Error::Io(message))
            if message.contains("movements.idempotency_key") =>
        {
            let key = key.as_deref().unwrap_or_default();
            replay(&db, key, &fingerprint)?
                .ok_or_else(|| Error::Conflict("Requête concurrente ; réessayez.".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/stock/movements/{id}/reverse/`: the opposite movement, linked
/// to the original, at most once.
async fn reverse(request: &Request, id: i64) -> Result<Response, Error> {
    let caller = kit::auth::authenticate(request)?;
    caller.require(Role::Manager)?;
    let db = SERVICE.database()?;
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
        Err(spin_sdk::sqlite::Error::Io(message)) if message.contains("movements.reverses") => {
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
async fn level(piece_id: i64) -> Result<Response, Error> {
    let db = SERVICE.database()?;
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

/// `PUT` / `DELETE /api/stock/internal/pieces/{id}/`: pieces says what became
/// of a piece once its change is committed (the piece as it now is, or that
/// it was deleted), so that the list follows without waiting for a
/// movement. `204` whether stock knew the piece or not.
fn piece_changed(request: &Request, piece_id: i64) -> Result<Response, Error> {
    if *request.method() == Method::Delete {
        pieces::forget(&SERVICE.database()?, piece_id)?;
    } else {
        let piece = kit::body::json::<pieces::Piece>(request)?;
        if piece.id != piece_id {
            return Err(Error::field(
                "id",
                "L'identifiant du corps n'est pas celui du chemin.",
            ));
        }
        if piece.min_stock < 0 {
            return Err(Error::field("min_stock", "Minimum négatif."));
        }
        pieces::update_known(&SERVICE.database()?, &piece)?;
    }
    Ok(Response::builder().status(204).build())
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
fn usage(db: &Connection, piece_id: i64) -> Result<Json, Error> {
    let row = db.execute(
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
    Ok(
        serde_json::json!({ "piece_id": piece_id, "has_stock": quantity > 0, "has_movements": moved }),
    )
}

fn id_from(segment: &str) -> Result<i64, Error> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound)
}

fn query(request: &Request) -> Query {
    Query::parse(request.query())
}

fn json(status: u16, body: &Json) -> Result<Response, Error> {
    Ok(routing::json(status, body))
}
