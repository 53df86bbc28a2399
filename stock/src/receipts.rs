//! Goods received by another service (purchasing): IN movements it asks
//! stock to record on `POST /api/stock/internal/receipts/`, each under the
//! sender's key, so that a retried or concurrent delivery records each one
//! once. Each receipt gets its own answer: its movement, or why stock
//! refuses it (an archived piece, a location unknown or archived); a piece
//! that neither stock nor pieces can vouch for now fails the whole batch,
//! to be sent again later.

use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::Connection;

use crate::movement::{self, Author};
use crate::order::{Kind, Order};

/// Receipts per request: a purchase order's lines.
pub const MAX_RECEIPTS: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    key: String,
    piece_id: i64,
    quantity: i64,
    location_id: Option<i64>,
    user_id: i64,
    username: String,
    note: String,
}

impl Receipt {
    fn order(&self) -> Order {
        Order {
            piece_id: self.piece_id,
            kind: Kind::In,
            quantity: self.quantity,
            reason: Some("reception".to_owned()),
            note: self.note.clone(),
            location: self.location_id,
            destination: None,
        }
    }

    /// The ledger's key: the sender's keys live beside users' keys
    /// (`<user id>:<key>`) and cannot meet them.
    fn ledger_key(&self) -> String {
        format!("receipt:{}", self.key)
    }

    /// Malformed receipts are the sender's bug: the batch is refused whole.
    pub fn check(receipts: &[Receipt]) -> Result<(), kit::Error> {
        if receipts.len() > MAX_RECEIPTS {
            return Err(kit::Error::field(
                "receipts",
                format!("{MAX_RECEIPTS} au plus."),
            ));
        }
        let bad = receipts.iter().find(|r| {
            r.key.is_empty()
                || r.key.len() > 200
                || r.piece_id < 1
                || !(1..=1_000_000_000).contains(&r.quantity)
                || r.location_id.is_some_and(|l| l < 1)
                || r.note.chars().count() > 1000
        });
        match bad {
            Some(receipt) => Err(kit::Error::field(
                "receipts",
                format!("Réception invalide : {}.", receipt.key),
            )),
            None => Ok(()),
        }
    }
}

/// Records each receipt not recorded yet; one answer per receipt.
pub async fn record(db: &Connection, receipts: &[Receipt]) -> Result<Json, kit::Error> {
    let mut answers = Vec::with_capacity(receipts.len());
    for receipt in receipts {
        let answer = match record_one(db, receipt).await {
            Ok(movement_id) => json!({ "key": receipt.key, "movement_id": movement_id }),
            // Stock cannot say now (pieces or the database unavailable):
            // the sender keeps the batch and tries again.
            Err(error) if error.status() >= 500 => return Err(error),
            Err(refusal) => json!({ "key": receipt.key, "refused": describe(&refusal) }),
        };
        answers.push(answer);
    }
    Ok(Json::Array(answers))
}

async fn record_one(db: &Connection, receipt: &Receipt) -> Result<i64, kit::Error> {
    let key = receipt.ledger_key();
    let order = receipt.order();
    let fingerprint = order.fingerprint();
    if let Some(id) = earlier(db, &key)? {
        return Ok(id);
    }
    crate::movable(db, &order).await?;
    let author = Author {
        user_id: receipt.user_id,
        username: &receipt.username,
    };
    match movement::record(db, &order, &author, Some((&key, &fingerprint)), None) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(crate::refusal(db, &order)?),
        // Another delivery of the same receipt won the race.
        Err(e) if kit::constraint::is_unique_violation(&e, "ledger.idempotency_key") => {
            earlier(db, &key)?.ok_or_else(|| kit::Error::Conflict("Réception concurrente.".into()))
        }
        Err(e) => Err(e.into()),
    }
}

fn earlier(db: &Connection, key: &str) -> Result<Option<i64>, spin_sdk::sqlite::Error> {
    Ok(movement::by_idempotency_key(db, key)?.map(|(id, _)| id))
}

/// A refusal in words: a field's messages, or the problem's detail.
fn describe(error: &kit::Error) -> String {
    match error {
        kit::Error::Validation(fields) => fields
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}
