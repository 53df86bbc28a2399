//! The pieces routes the benchmark drives, as `pieces/src` serves them:
//! `GET /api/pieces/{id}/` (token check, schema check, one `SELECT`, the
//! API document with its ETag) and the internal route stock calls on every
//! movement (service credential, schema check, the same `SELECT`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::Error;
use crate::{App, auth};

/// `store.rs`'s column list and statement, verbatim.
const COLUMNS: &str = "id, reference, name, description, category, unit, price_cents, \
    min_stock, location, barcode, archived, version, created_at, updated_at, created_by";

struct Piece {
    id: i64,
    reference: String,
    name: String,
    description: String,
    category: String,
    unit: String,
    price_cents: i64,
    min_stock: i64,
    location: String,
    barcode: Option<String>,
    archived: bool,
    version: i64,
    created_at: String,
    updated_at: String,
    created_by: String,
}

impl Piece {
    /// `Piece::to_json` of `model.rs`.
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "reference": self.reference,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "unit": self.unit,
            "price": format_price(self.price_cents),
            "min_stock": self.min_stock,
            "location": self.location,
            "barcode": self.barcode,
            "archived": self.archived,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
        })
    }

    /// `Piece::to_internal_json`.
    fn to_internal_json(&self) -> Value {
        json!({
            "id": self.id,
            "reference": self.reference,
            "name": self.name,
            "category": self.category,
            "unit": self.unit,
            "min_stock": self.min_stock,
            "price_cents": self.price_cents,
            "archived": self.archived,
            "version": self.version,
        })
    }
}

fn format_price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `store::get`.
fn get(db: &rusqlite::Connection, id: i64) -> Result<Option<Piece>, Error> {
    let mut statement = db.prepare_cached(&format!("SELECT {COLUMNS} FROM pieces WHERE id = ?"))?;
    let mut rows = statement.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(Piece {
        id: row.get("id")?,
        reference: row.get("reference")?,
        name: row.get("name")?,
        description: row.get("description")?,
        category: row.get("category")?,
        unit: row.get("unit")?,
        price_cents: row.get("price_cents")?,
        min_stock: row.get("min_stock")?,
        location: row.get("location")?,
        barcode: row.get("barcode")?,
        archived: row.get::<_, i64>("archived")? != 0,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: row.get("created_by")?,
    }))
}

/// A path segment as `resolve` reads an id: a positive integer, else 404.
fn id_from(segment: &str) -> Result<i64, Error> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Error::NotFound)
}

/// `GET /api/pieces/{id}/`: `read` in `lib.rs`.
pub async fn read(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let id = id_from(&id)?;
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    auth::authenticate(authorization, &app.jwt_public_keys)?;
    let piece =
        tokio::task::block_in_place(|| get(&*app.pieces.open()?, id))?.ok_or(Error::NotFound)?;
    let etag = format!("\"{}\"", piece.version);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::ETAG, etag),
        ],
        piece.to_json().to_string(),
    )
        .into_response())
}

/// `GET /api/pieces/internal/pieces/{id}/`: stock's read of a piece.
pub async fn internal(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let id = id_from(&id)?;
    let presented = headers.get("x-internal-secret").map(|v| v.as_bytes());
    auth::internal(presented, &app.internal_secret)?;
    let piece =
        tokio::task::block_in_place(|| get(&*app.pieces.open()?, id))?.ok_or(Error::NotFound)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        piece.to_internal_json().to_string(),
    )
        .into_response())
}
