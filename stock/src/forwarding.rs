//! Which events stock writes for notifications' outgoing webhooks besides
//! alerts: each movement, each catalogue change. Notifications says which
//! (`PUT /api/stock/internal/forwarding/`) whenever its webhooks change and
//! on every flush; the ledger's and the catalogue's triggers read the flags
//! in the statement that writes, so nothing is written while no webhook
//! wants it, and nothing a webhook wants is missed once stock knows.

use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Value};

use crate::error::StockError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    movements: bool,
    pieces: bool,
}

pub fn set(db: &Connection, wanted: Forwarding) -> Result<Json, StockError> {
    let flag = |on: bool| Value::Text(if on { "1" } else { "0" }.to_owned());
    // Unchanged flags change no page: the flush's call every second costs
    // no disk sync.
    db.execute(
        "INSERT INTO service_meta (key, value) VALUES ('forward_movements', ?1), ('forward_pieces', ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value <> excluded.value",
        &[flag(wanted.movements), flag(wanted.pieces)],
    )?;
    Ok(json!({ "movements": wanted.movements, "pieces": wanted.pieces }))
}
