//! `POST /api/stock/movement/` as `stock/src` records it: token check and
//! role, the JSON body read and validated, the schema check, the piece read
//! from pieces over HTTP (internal route) and remembered, the two
//! statements of `movement::record`, then the movement read back as the
//! API shows it (201). The statements are stock's own: this crate compiles
//! `stock/src/statements.rs`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kit::auth::{Caller, Role};
use rusqlite::types::Value as Sql;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::App;
use crate::auth;
use crate::database::Connection;
use crate::error::Error;
use crate::order::{Input, Kind, Order};
use crate::statements;

/// What stock keeps of a piece (`pieces.rs` of stock).
#[derive(PartialEq, Eq, Deserialize)]
struct Piece {
    id: i64,
    reference: String,
    name: String,
    #[serde(default)]
    category: String,
    min_stock: i64,
    #[serde(default)]
    price_cents: Option<i64>,
    archived: bool,
    version: i64,
}

/// `record` in stock's `lib.rs`, without an `Idempotency-Key` (the
/// benchmark sends none).
pub async fn record(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let caller = auth::authenticate(authorization, &app.jwt_public_keys)?;
    auth::require(&caller, Role::Operator)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let order = kit::body::json_of::<Input>(content_type, &body)?.validate()?;
    if order.kind == Kind::Adjust {
        auth::require(&caller, Role::Manager)?;
    }
    let _fingerprint = order.fingerprint();
    let db = tokio::task::block_in_place(|| app.stock.open())?;
    // `movable`: the piece fresh from pieces, remembered if it changed, not
    // archived.
    let piece = fetch(&app, order.piece_id).await?;
    tokio::task::block_in_place(|| -> Result<(), Error> {
        if cached(&db, order.piece_id)?.as_ref() != Some(&piece) {
            db.write(|db| remember(db, &piece))?;
        }
        Ok(())
    })?;
    if piece.archived {
        return Err(Error::Conflict(format!(
            "La pièce {} est archivée : aucun mouvement possible.",
            piece.reference
        )));
    }
    let movement = tokio::task::block_in_place(|| -> Result<Option<Json>, Error> {
        match insert(&db, &order, &caller)? {
            Some(id) => find(&db, id),
            None => Ok(None),
        }
    })?;
    match movement {
        Some(movement) => Ok((
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            movement.to_string(),
        )
            .into_response()),
        None => Err(Error::Conflict("Stock insuffisant.".into())),
    }
}

/// `pieces::fetch` of stock: the internal route of pieces.
async fn fetch(app: &App, piece_id: i64) -> Result<Piece, Error> {
    let path = format!("/api/pieces/internal/pieces/{piece_id}/");
    let (status, body) = app
        .client
        .get(
            &app.pieces_url,
            &path,
            &[("x-internal-secret", app.internal_secret.as_str())],
        )
        .await
        .map_err(|why| Error::Unavailable(format!("pieces: {why}")))?;
    match status {
        200 => serde_json::from_slice(&body)
            .map_err(|e| Error::Unavailable(format!("unexpected answer: {e}"))),
        404 => Err(Error::BadRequest("Pièce inconnue.".into())),
        other => Err(Error::Unavailable(format!("pieces: status {other}"))),
    }
}

/// `pieces::cached` of stock.
fn cached(db: &rusqlite::Connection, piece_id: i64) -> Result<Option<Piece>, Error> {
    let mut statement = db.prepare_cached(statements::CACHED_PIECE)?;
    let mut rows = statement.query([piece_id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(Piece {
        id: row.get("piece_id")?,
        reference: row.get("reference")?,
        name: row.get("name")?,
        category: row.get("category")?,
        min_stock: row.get("min_stock")?,
        price_cents: row.get("price_cents")?,
        archived: row.get::<_, i64>("archived")? != 0,
        version: row.get("version")?,
    }))
}

/// `pieces::remember` of stock: the catalogue row (its triggers write the
/// copy), then the folded text search reads.
fn remember(db: &rusqlite::Connection, piece: &Piece) -> Result<(), Error> {
    let change = serde_json::json!([{
        "id": piece.id,
        "version": piece.version,
        "reference": piece.reference,
        "name": piece.name,
        "category": piece.category,
        "min_stock": piece.min_stock,
        "archived": piece.archived,
    }]);
    db.prepare_cached(statements::RECORD_CATALOGUE)?
        .query([change.to_string()])?
        .next()?;
    let folded = serde_json::json!([{
        "id": piece.id,
        "reference": piece.reference,
        "name": piece.name,
        "reference_folded": kit::text::fold(&piece.reference),
        "name_folded": kit::text::fold(&piece.name),
    }]);
    db.prepare_cached(statements::WRITE_FOLDED)?
        .execute([folded.to_string()])?;
    Ok(())
}

/// `movement::record`: the one `INSERT ... SELECT`, and only when it finds
/// no row, the level row and the statement again.
fn insert(db: &Connection<'_>, order: &Order, caller: &Caller) -> Result<Option<i64>, Error> {
    if let Some(id) = db.write(|db| insert_movement(db, order, caller))? {
        return Ok(Some(id));
    }
    db.write(|db| {
        db.prepare_cached(statements::ENSURE_LEVEL)?
            .execute([order.piece_id])
    })?;
    db.write(|db| insert_movement(db, order, caller))
}

fn insert_movement(
    db: &rusqlite::Connection,
    order: &Order,
    caller: &Caller,
) -> Result<Option<i64>, Error> {
    let params = [
        Sql::Integer(order.piece_id),
        Sql::Text(order.kind.as_str().to_owned()),
        Sql::Integer(order.quantity),
        order.reason.clone().map_or(Sql::Null, Sql::Text),
        Sql::Text(order.note.clone()),
        Sql::Integer(caller.user_id),
        Sql::Text(caller.username.clone()),
        Sql::Null,
        Sql::Null,
        Sql::Null,
        Sql::Integer(order.location()),
        order.destination.map_or(Sql::Null, Sql::Integer),
    ];
    let mut statement = db.prepare_cached(statements::RECORD_MOVEMENT)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    Ok(match rows.next()? {
        Some(row) => Some(row.get("id")?),
        None => None,
    })
}

/// `movement::find` and `movement::to_json`.
fn find(db: &rusqlite::Connection, id: i64) -> Result<Option<Json>, Error> {
    let mut statement = db.prepare_cached(statements::FIND_MOVEMENT)?;
    let mut rows = statement.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "id": row.get::<_, Option<i64>>("id")?,
        "piece_id": row.get::<_, Option<i64>>("piece_id")?,
        "reference": row.get::<_, Option<String>>("reference")?,
        "name": row.get::<_, Option<String>>("name")?,
        "type": row.get::<_, Option<String>>("type")?,
        "quantity": row.get::<_, Option<i64>>("quantity")?,
        "delta": row.get::<_, Option<i64>>("delta")?,
        "level_after": row.get::<_, Option<i64>>("level_after")?,
        "location_id": row.get::<_, Option<i64>>("location_id")?,
        "location_code": row.get::<_, Option<String>>("location_code")?,
        "to_location_id": row.get::<_, Option<i64>>("to_location_id")?,
        "to_location_code": row.get::<_, Option<String>>("to_location_code")?,
        "reason": row.get::<_, Option<String>>("reason")?,
        "note": row.get::<_, Option<String>>("note")?,
        "user_id": row.get::<_, Option<i64>>("user_id")?,
        "user": row.get::<_, Option<String>>("username")?,
        "created_at": row.get::<_, Option<String>>("created_at")?,
        "reverses": row.get::<_, Option<i64>>("reverses")?,
    })))
}
