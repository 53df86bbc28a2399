//! What stock knows of each piece (reference, name, minimum, archived), read
//! through from the pieces service on every movement so that a changed
//! minimum or an archiving applies to the next movement, and kept so that
//! stock goes on serving known pieces while pieces is down. Pieces also
//! tells stock of each change it commits (`PUT` or `DELETE` on
//! `/api/stock/internal/pieces/{id}/`: [`update_known`], [`forget`]), so
//! that the list shows current names, thresholds and archiving without
//! waiting for a movement.
//!
//! A piece becomes known here through a movement only: reading a level does
//! not store anything ([`lookup`]).

use serde::Deserialize;
use spin_sdk::http::{Request, Response};
use spin_sdk::sqlite::{Connection, Value};

use crate::error::StockError;
use crate::schema::NOW_SQL;
use crate::statements;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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

/// Stores `piece`, known or not (a movement is about to name it). An
/// unchanged copy is left alone: the statement then changes no page, so the
/// movement that follows is the only commit that waits for a disk sync.
fn remember(db: &Connection, piece: &Piece) -> Result<(), StockError> {
    db.execute(statements::REMEMBER_PIECE, &piece_params(piece))?;
    write_folded(db, piece)
}

/// Pieces' word on a change it committed: updates the copy of a piece stock
/// knows; one it does not know stays unknown (the list holds the pieces that
/// movements named, not every piece edited). Whether it was known.
pub fn update_known(db: &Connection, piece: &Piece) -> Result<bool, StockError> {
    let updated = db.execute(
        &format!(
            "UPDATE pieces SET reference = ?2, name = ?3, category = ?4, min_stock = ?5, \
             archived = ?6, refreshed_at = {NOW_SQL} WHERE piece_id = ?1 RETURNING piece_id"
        ),
        &piece_params(piece),
    )?;
    if updated.rows.is_empty() {
        return Ok(false);
    }
    write_folded(db, piece)?;
    Ok(true)
}

/// Pieces deleted the piece (it had neither stock nor movement when stock
/// was asked): its copy and its empty level go. Should a movement have
/// slipped in since, the ledger keeps naming it: the copy stays, archived,
/// and takes no movement.
pub fn forget(db: &Connection, piece_id: i64) -> Result<(), StockError> {
    let id = [Value::Integer(piece_id)];
    db.execute(
        "DELETE FROM levels WHERE piece_id = ?1 \
         AND NOT EXISTS (SELECT 1 FROM movements WHERE piece_id = ?1)",
        &id,
    )?;
    db.execute(
        "DELETE FROM pieces WHERE piece_id = ?1 \
         AND NOT EXISTS (SELECT 1 FROM levels WHERE piece_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM movements WHERE piece_id = ?1)",
        &id,
    )?;
    db.execute("UPDATE pieces SET archived = 1 WHERE piece_id = ?1", &id)?;
    Ok(())
}

fn piece_params(piece: &Piece) -> [Value; 6] {
    [
        Value::Integer(piece.id),
        Value::Text(piece.reference.clone()),
        Value::Text(piece.name.clone()),
        Value::Text(piece.category.clone()),
        Value::Integer(piece.min_stock),
        Value::Integer(piece.archived.into()),
    ]
}

/// Writes the folded reference and name `search` compares, if the stored
/// piece still has this text: a concurrent writer with other text does not
/// get its row overwritten by a stale fold. A row already there is current
/// (a trigger drops it with any change of text), so it is kept.
fn write_folded(db: &Connection, piece: &Piece) -> Result<(), StockError> {
    db.execute(
        statements::WRITE_FOLDED,
        &[
            Value::Integer(piece.id),
            Value::Text(kit::text::fold(&piece.reference)),
            Value::Text(kit::text::fold(&piece.name)),
            Value::Text(piece.reference.clone()),
            Value::Text(piece.name.clone()),
        ],
    )?;
    Ok(())
}

fn cached(db: &Connection, piece_id: i64) -> Result<Option<Piece>, StockError> {
    let result = db.execute(statements::CACHED_PIECE, &[Value::Integer(piece_id)])?;
    Ok(result.rows().next().map(|row| Piece {
        id: row.get("piece_id").unwrap_or(piece_id),
        reference: row.get::<&str>("reference").unwrap_or_default().to_owned(),
        name: row.get::<&str>("name").unwrap_or_default().to_owned(),
        category: row.get::<&str>("category").unwrap_or_default().to_owned(),
        min_stock: row.get("min_stock").unwrap_or(0),
        archived: row.get::<i64>("archived").unwrap_or(0) != 0,
    }))
}
