//! What stock knows of each piece (reference, name, minimum, archived), read
//! through from the pieces service on every movement so that a changed
//! minimum or an archiving applies to the next movement, and kept so that
//! stock goes on serving known pieces while pieces is down.

use serde::Deserialize;
use spin_sdk::http::{Request, Response};
use spin_sdk::sqlite::{Connection, Value};

use crate::error::StockError;
use crate::schema::NOW_SQL;

#[derive(Debug, Clone, Deserialize)]
pub struct Piece {
    pub id: i64,
    pub reference: String,
    pub name: String,
    /// Lets notifications honour per-category preferences.
    #[serde(default)]
    pub category: String,
    pub min_stock: i64,
    pub archived: bool,
}

/// The piece, fresh from the pieces service when it answers, else as last
/// seen; unknown to both is an error.
pub async fn refresh(db: &Connection, piece_id: i64) -> Result<Piece, StockError> {
    match fetch(piece_id).await {
        Ok(Some(piece)) => {
            remember(db, &piece)?;
            Ok(piece)
        }
        Ok(None) => Err(StockError::UnknownPiece),
        Err(why) => {
            eprintln!("pieces service unavailable for piece {piece_id}: {why}");
            cached(db, piece_id)?.ok_or(StockError::PiecesUnavailable)
        }
    }
}

/// `Ok(None)` when pieces says 404; `Err` when it cannot answer.
async fn fetch(piece_id: i64) -> Result<Option<Piece>, String> {
    let variable =
        |name| spin_sdk::variables::get(name).map_err(|e| format!("variable {name}: {e}"));
    let url = format!(
        "http://{}/api/pieces/internal/pieces/{piece_id}/",
        variable("pieces_url")?
    );
    let request = Request::get(url)
        .header(
            kit::auth::INTERNAL_SECRET_HEADER,
            variable("internal_secret")?,
        )
        .build();
    let response: Response = spin_sdk::http::send(request)
        .await
        .map_err(|e| e.to_string())?;
    match *response.status() {
        404 => Ok(None),
        200 => serde_json::from_slice(response.body())
            .map(Some)
            .map_err(|e| format!("unexpected answer: {e}")),
        status => Err(format!("status {status}")),
    }
}

fn remember(db: &Connection, piece: &Piece) -> Result<(), StockError> {
    db.execute(
        &format!(
            "INSERT INTO pieces (piece_id, reference, name, category, min_stock, archived, refreshed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, {NOW_SQL}) \
             ON CONFLICT (piece_id) DO UPDATE SET reference = excluded.reference, name = excluded.name, \
             category = excluded.category, min_stock = excluded.min_stock, archived = excluded.archived, refreshed_at = excluded.refreshed_at"
        ),
        &[
            Value::Integer(piece.id),
            Value::Text(piece.reference.clone()),
            Value::Text(piece.name.clone()),
            Value::Text(piece.category.clone()),
            Value::Integer(piece.min_stock),
            Value::Integer(piece.archived.into()),
        ],
    )?;
    Ok(())
}

fn cached(db: &Connection, piece_id: i64) -> Result<Option<Piece>, StockError> {
    let result = db.execute(
        "SELECT piece_id, reference, name, category, min_stock, archived FROM pieces WHERE piece_id = ?",
        &[Value::Integer(piece_id)],
    )?;
    Ok(result.rows().next().map(|row| Piece {
        id: row.get("piece_id").unwrap_or(piece_id),
        reference: row.get::<&str>("reference").unwrap_or_default().to_owned(),
        name: row.get::<&str>("name").unwrap_or_default().to_owned(),
        category: row.get::<&str>("category").unwrap_or_default().to_owned(),
        min_stock: row.get("min_stock").unwrap_or(0),
        archived: row.get::<i64>("archived").unwrap_or(0) != 0,
    }))
}
