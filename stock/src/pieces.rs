//! What stock knows of each piece (reference, name, minimum, archived): every
//! change pieces commits reaches stock through pieces' outbox
//! (`POST /api/stock/internal/catalogue/`, [`apply`]), so a new piece is
//! listed at 0 at once; a movement also reads its piece from pieces, so that
//! a changed minimum or an archiving applies to it even before the change
//! arrives. Both land in the `catalogue` table, which keeps the newer
//! version only (`statements::RECORD_CATALOGUE`), and stock goes on serving
//! known pieces while pieces is down. Reading a level stores nothing
//! ([`lookup`]).

use serde::{Deserialize, Serialize};
use spin_sdk::http::Method;
use spin_sdk::sqlite::{Connection, Value};

use crate::error::StockError;
use crate::statements;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Piece {
    pub id: i64,
    pub reference: String,
    pub name: String,
    /// Lets notifications honour per-category preferences.
    #[serde(default)]
    pub category: String,
    pub min_stock: i64,
    /// The unit price, which values the stock; `None` from a pieces
    /// service older than prices in its answers.
    #[serde(default)]
    pub price_cents: Option<i64>,
    pub archived: bool,
    /// Pieces' version of the piece: a change never undoes a newer one.
    pub version: i64,
}

/// One change pieces committed: the piece as it now is, or its deletion.
#[derive(Debug, Deserialize, Serialize)]
pub struct Change {
    #[serde(flatten)]
    pub piece: Piece,
    #[serde(default)]
    pub deleted: bool,
}

/// Records the changes, in one statement, each unless stock holds a newer
/// version of its piece; how many were newer.
pub fn apply(db: &Connection, changes: &[Change]) -> Result<usize, StockError> {
    let batch = serde_json::to_string(changes)
        .map_err(|e| StockError::Kit(kit::Error::Internal(Box::new(e))))?;
    let written = db.execute(statements::RECORD_CATALOGUE, &[Value::Text(batch)])?;
    let folded: Vec<serde_json::Value> = changes
        .iter()
        .filter(|change| !change.deleted)
        .map(|Change { piece, .. }| {
            serde_json::json!({
                "id": piece.id,
                "reference": piece.reference,
                "name": piece.name,
                "reference_folded": kit::text::fold(&piece.reference),
                "name_folded": kit::text::fold(&piece.name),
            })
        })
        .collect();
    if !folded.is_empty() {
        db.execute(
            statements::WRITE_FOLDED,
            &[Value::Text(serde_json::Value::Array(folded).to_string())],
        )?;
    }
    Ok(written.rows.len())
}

/// The piece, fresh from the pieces service when it answers, else as last
/// seen; unknown to both is an error.
pub async fn refresh(db: &Connection, piece_id: i64) -> Result<Piece, StockError> {
    match fetch(piece_id).await {
        Ok(Some(piece)) => {
            // Comparing is a read: most movements name a piece whose copy
            // is current, and then write nothing here.
            if cached(db, piece_id)?.as_ref() != Some(&piece) {
                remember(db, &piece)?;
            }
            Ok(piece)
        }
        Ok(None) => Err(StockError::UnknownPiece),
        Err(why) => {
            eprintln!("pieces service unavailable for piece {piece_id}: {why}");
            cached(db, piece_id)?.ok_or(StockError::PiecesUnavailable)
        }
    }
}

/// The piece as the pieces service has it, stored nowhere: for reading the
/// level of a piece stock does not know.
pub async fn lookup(piece_id: i64) -> Result<Piece, StockError> {
    match fetch(piece_id).await {
        Ok(Some(piece)) => Ok(piece),
        Ok(None) => Err(StockError::UnknownPiece),
        Err(why) => {
            eprintln!("pieces service unavailable for piece {piece_id}: {why}");
            Err(StockError::PiecesUnavailable)
        }
    }
}

/// `Ok(None)` when pieces says 404; `Err` when it cannot answer.
async fn fetch(piece_id: i64) -> Result<Option<Piece>, String> {
    let path = format!("/api/pieces/internal/pieces/{piece_id}/");
    let response = kit::peer::call("pieces_url", Method::Get, &path, &[], None).await?;
    match *response.status() {
        404 => Ok(None),
        200 => serde_json::from_slice(response.body())
            .map(Some)
            .map_err(|e| format!("unexpected answer: {e}")),
        status => Err(format!("status {status}")),
    }
}

/// Stores `piece`, known or not (a movement is about to name it). An
/// unchanged copy is left alone: the statement then changes no page, so the
/// movement that follows is the only commit that waits for a disk sync.
fn remember(db: &Connection, piece: &Piece) -> Result<(), StockError> {
    let change = Change {
        piece: piece.clone(),
        deleted: false,
    };
    apply(db, &[change]).map(|_| ())
}

fn cached(db: &Connection, piece_id: i64) -> Result<Option<Piece>, StockError> {
    let result = db.execute(statements::CACHED_PIECE, &[Value::Integer(piece_id)])?;
    Ok(result.rows().next().map(|row| Piece {
        id: row.get("piece_id").unwrap_or(piece_id),
        reference: row.get::<&str>("reference").unwrap_or_default().to_owned(),
        name: row.get::<&str>("name").unwrap_or_default().to_owned(),
        category: row.get::<&str>("category").unwrap_or_default().to_owned(),
        min_stock: row.get("min_stock").unwrap_or(0),
        price_cents: row.get("price_cents"),
        archived: row.get::<i64>("archived").unwrap_or(0) != 0,
        version: row.get("version").unwrap_or(0),
    }))
}
