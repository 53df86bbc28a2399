//! Stock alerts: threshold events from stock's outbox, stored once each.

use kit::Error;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Value};

use crate::inbox::{STOCK_ALERT_AUDIENCE, rank};
use crate::schema::NOW_SQL;

/// A threshold event from stock's outbox.
#[derive(Debug, Deserialize)]
pub struct Event {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    piece: EventPiece,
    quantity: i64,
    min_stock: i64,
    /// `new_piece` for a piece that came into the catalogue under its
    /// minimum: the same rupture, worded as what to do about it.
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct EventPiece {
    id: i64,
    reference: String,
    name: String,
    #[serde(default)]
    category: String,
}

/// Stores the event once: `(true, it)` the first time, `(false, it)` on a
/// redelivery.
pub fn receive(db: &Connection, event: Event) -> Result<(bool, Json), Error> {
    let (title, message) =
        wording(&event).ok_or_else(|| Error::field("type", "Type d'alerte inconnu."))?;
    if event.event_id.trim().is_empty() {
        return Err(Error::field("event_id", "Identifiant d'événement requis."));
    }
    let inserted = db.execute(
        &format!(
            "INSERT INTO notifications (event_id, type, title, message, piece_id, piece_reference, piece_name, \
                piece_category, quantity, min_stock, audience_role, created_by, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'stock', {NOW_SQL}) \
             ON CONFLICT (event_id) DO NOTHING RETURNING id"
        ),
        &[
            Value::Text(event.event_id.clone()),
            Value::Text(event.kind.clone()),
            Value::Text(title),
            Value::Text(message),
            Value::Integer(event.piece.id),
            Value::Text(event.piece.reference),
            Value::Text(event.piece.name),
            Value::Text(event.piece.category),
            Value::Integer(event.quantity),
            Value::Integer(event.min_stock),
            Value::Integer(rank(STOCK_ALERT_AUDIENCE)),
        ],
    )?;
    let created = !inserted.rows.is_empty();
    let row = db.execute(
        "SELECT id, type, created_at FROM notifications WHERE event_id = ?1",
        &[Value::Text(event.event_id.clone())],
    )?;
    let row = row.rows().next().ok_or(Error::NotFound)?;
    Ok((
        created,
        json!({ "id": row.get::<i64>("id"), "event_id": event.event_id, "type": row.get::<&str>("type") }),
    ))
}

/// The French title and message of a stock alert.
fn wording(event: &Event) -> Option<(String, String)> {
    let (reference, name, quantity, min) = (
        &event.piece.reference,
        &event.piece.name,
        event.quantity,
        event.min_stock,
    );
    match event.kind.as_str() {
        "low_stock" => Some((
            format!("Stock bas : {reference}"),
            format!("{name} ({reference}) : {quantity} en stock, sous le minimum de {min}."),
        )),
        "out_of_stock" if event.reason.as_deref() == Some("new_piece") => Some((
            format!("À commander : {reference}"),
            format!(
                "{name} ({reference}) vient d'entrer au catalogue sans stock, sous son minimum de {min} : à commander."
            ),
        )),
        "out_of_stock" => Some((
            format!("Rupture de stock : {reference}"),
            format!("{name} ({reference}) est en rupture de stock (minimum {min})."),
        )),
        "back_in_stock" => Some((
            format!("Retour en stock : {reference}"),
            format!("{name} ({reference}) : {quantity} en stock, minimum {min} atteint."),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, reason: Option<&str>) -> Event {
        serde_json::from_value(json!({
            "event_id": "e", "type": kind, "quantity": 0, "min_stock": 5, "reason": reason,
            "piece": {"id": 1, "reference": "R-1", "name": "Roulement"},
        }))
        .expect("an event")
    }

    #[test]
    fn a_new_piece_under_its_minimum_is_worded_as_to_order() {
        let (title, message) = wording(&event("out_of_stock", Some("new_piece"))).expect("known");
        assert_eq!(title, "À commander : R-1");
        assert!(message.contains("à commander"), "{message}");
        let (title, _) = wording(&event("out_of_stock", None)).expect("known");
        assert_eq!(title, "Rupture de stock : R-1");
        assert!(wording(&event("to_order", None)).is_none());
    }
}
