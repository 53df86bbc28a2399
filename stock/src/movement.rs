//! Recording a movement: one `INSERT ... SELECT` that reads the level it
//! changes, so the level can never go below zero nor lose an update
//! whatever the concurrency (SQLite serialises writing statements, and the
//! schema's trigger moves the level and writes any alert in the same
//! statement).

use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::StockError;
use crate::order::{Kind, Order};
use crate::statements;

/// Set by the system on reversals only.
const REVERSAL: &str = "reversal";

/// Who records the movement.
pub struct Author<'a> {
    pub user_id: i64,
    pub username: &'a str,
}

/// Columns every movement answer is built from.
pub const COLUMNS: &str = statements::MOVEMENT_COLUMNS;

/// Records `order`; `Ok(None)` when an OUT or TRANSFER exceeds what its
/// location holds, or a location is unknown or archived.
///
/// The movement is one `INSERT ... SELECT` that reads the levels it changes.
/// It is tried first: a piece that has moved before has its level row, and
/// then the movement is the only write. Finding no row (a first movement, or
/// an OUT beyond the level) creates the level row if it is missing and tries
/// once more.
pub fn record(
    db: &Connection,
    order: &Order,
    author: &Author<'_>,
    idempotency: Option<(&str, &str)>,
    reverses: Option<i64>,
) -> Result<Option<i64>, spin_sdk::sqlite::Error> {
    let (key, fingerprint) = idempotency.map_or((Value::Null, Value::Null), |(k, f)| {
        (Value::Text(k.to_owned()), Value::Text(f.to_owned()))
    });
    let parameters = [
        Value::Integer(order.piece_id),
        Value::Text(order.kind.as_str().to_owned()),
        Value::Integer(order.quantity),
        order.reason.clone().map_or(Value::Null, Value::Text),
        Value::Text(order.note.clone()),
        Value::Integer(author.user_id),
        Value::Text(author.username.to_owned()),
        key,
        fingerprint,
        reverses.map_or(Value::Null, Value::Integer),
        Value::Integer(order.location()),
        order.destination.map_or(Value::Null, Value::Integer),
    ];
    let insert = || {
        let inserted = db.execute(statements::RECORD_MOVEMENT, &parameters)?;
        Ok(inserted.rows().next().and_then(|row| row.get::<i64>("id")))
    };
    if let Some(id) = insert()? {
        return Ok(Some(id));
    }
    db.execute(statements::ENSURE_LEVEL, &[Value::Integer(order.piece_id)])?;
    insert()
}

/// The movement `id` as the API shows it.
pub fn find(db: &Connection, id: i64) -> Result<Option<Json>, spin_sdk::sqlite::Error> {
    let result = db.execute(statements::FIND_MOVEMENT, &[Value::Integer(id)])?;
    Ok(result.rows().next().map(|row| to_json(&row)))
}

/// An earlier movement recorded under this idempotency key, with the
/// fingerprint of the request that created it.
pub fn by_idempotency_key(
    db: &Connection,
    key: &str,
) -> Result<Option<(i64, String)>, spin_sdk::sqlite::Error> {
    let result = db.execute(
        "SELECT id, request_hash FROM ledger WHERE idempotency_key = ?",
        &[Value::Text(key.to_owned())],
    )?;
    Ok(result.rows().next().and_then(|row| {
        Some((
            row.get::<i64>("id")?,
            row.get::<&str>("request_hash")
                .unwrap_or_default()
                .to_owned(),
        ))
    }))
}

/// What `location` holds of piece `piece_id`.
pub fn held(db: &Connection, piece_id: i64, location: i64) -> Result<i64, spin_sdk::sqlite::Error> {
    let result = db.execute(
        "SELECT quantity FROM location_levels WHERE piece_id = ? AND location_id = ?",
        &[Value::Integer(piece_id), Value::Integer(location)],
    )?;
    Ok(result
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("quantity"))
        .unwrap_or(0))
}

/// The movement that undoes `original`, recorded with `reverses` set
/// (UNIQUE: a movement is reversed once): the opposite IN/OUT of its delta
/// at its location, or the TRANSFER back.
pub fn reversal_of(original: &Json) -> Result<Order, StockError> {
    if !original["reverses"].is_null() {
        return Err(StockError::ReversalOfReversal);
    }
    let location = original["location_id"].as_i64();
    let (kind, quantity, location, destination) = if original["type"] == "TRANSFER" {
        let quantity = original["quantity"].as_i64().unwrap_or(0);
        (
            Kind::Transfer,
            quantity,
            original["to_location_id"].as_i64(),
            location,
        )
    } else {
        let delta = original["delta"].as_i64().unwrap_or(0);
        let kind = match delta.signum() {
            1 => Kind::Out,
            -1 => Kind::In,
            _ => return Err(StockError::NothingToReverse),
        };
        (kind, delta.abs(), location, None)
    };
    Ok(Order {
        piece_id: original["piece_id"].as_i64().unwrap_or(0),
        kind,
        quantity,
        reason: Some(REVERSAL.to_owned()),
        note: format!("Annulation du mouvement n° {}", original["id"]),
        location,
        destination,
    })
}

pub fn to_json(row: &Row<'_>) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "piece_id": row.get::<i64>("piece_id"),
        "reference": row.get::<&str>("reference"),
        "name": row.get::<&str>("name"),
        "type": row.get::<&str>("type"),
        "quantity": row.get::<i64>("quantity"),
        "delta": row.get::<i64>("delta"),
        "level_after": row.get::<i64>("level_after"),
        "location_id": row.get::<i64>("location_id"),
        "location_code": row.get::<&str>("location_code"),
        "to_location_id": row.get::<i64>("to_location_id"),
        "to_location_code": row.get::<&str>("to_location_code"),
        "reason": row.get::<&str>("reason"),
        "note": row.get::<&str>("note"),
        "user_id": row.get::<i64>("user_id"),
        "user": row.get::<&str>("username"),
        "created_at": row.get::<&str>("created_at"),
        "reverses": row.get::<i64>("reverses"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversals_undo_the_delta_once() {
        let out = json!({"id": 7, "piece_id": 1, "delta": -3, "reverses": null, "location_id": 4});
        let reversal = reversal_of(&out).unwrap();
        assert_eq!((reversal.kind, reversal.quantity), (Kind::In, 3));
        assert_eq!((reversal.location(), reversal.destination), (4, None));
        let transfer = json!({"id": 9, "piece_id": 1, "type": "TRANSFER", "quantity": 2,
            "delta": 0, "reverses": null, "location_id": 4, "to_location_id": 5});
        let back = reversal_of(&transfer).unwrap();
        assert_eq!((back.kind, back.quantity), (Kind::Transfer, 2));
        assert_eq!((back.location(), back.destination), (5, Some(4)));
        let adjust_up = json!({"id": 8, "piece_id": 1, "delta": 5, "reverses": null});
        assert_eq!(reversal_of(&adjust_up).unwrap().kind, Kind::Out);
        assert!(matches!(
            reversal_of(&json!({"delta": 0, "reverses": null})),
            Err(StockError::NothingToReverse)
        ));
        assert!(matches!(
            reversal_of(&json!({"delta": 3, "reverses": 7})),
            Err(StockError::ReversalOfReversal)
        ));
    }
}
