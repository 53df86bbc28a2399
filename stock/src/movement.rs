//! Recording a movement: one `INSERT ... SELECT` that reads the level it
//! changes, so the level can never go below zero nor lose an update
//! whatever the concurrency (SQLite serialises writing statements, and the
//! schema's trigger moves the level and writes any alert in the same
//! statement).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::StockError;
use crate::statements;

/// Reason codes. ADJUST needs one; IN and OUT may give one.
pub const REASONS: &[&str] = &[
    "reception",
    "consumption",
    "return",
    "inventory",
    "damaged",
    "lost",
    "found",
    "correction",
    "other",
];
/// Set by the system on reversals only.
const REVERSAL: &str = "reversal";

const MAX_NOTE: usize = 1000;
const MAX_QUANTITY: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    In,
    Out,
    Adjust,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IN" => Some(Self::In),
            "OUT" => Some(Self::Out),
            "ADJUST" => Some(Self::Adjust),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "IN",
            Self::Out => "OUT",
            Self::Adjust => "ADJUST",
        }
    }
}

/// The body of `POST /api/stock/movement/`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    piece_id: Option<Json>,
    #[serde(rename = "type")]
    kind: Option<Json>,
    quantity: Option<Json>,
    reason: Option<Json>,
    note: Option<Json>,
}

/// A movement request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub piece_id: i64,
    pub kind: Kind,
    /// IN/OUT: how many (> 0). ADJUST: the counted new level (>= 0).
    pub quantity: i64,
    pub reason: Option<String>,
    pub note: String,
}

impl Input {
    /// Every field checked, every problem reported at once.
    pub fn validate(self) -> Result<Order, kit::Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut fail = |field: &str, message: &str| {
            errors
                .entry(field.to_owned())
                .or_default()
                .push(message.to_owned());
        };
        let piece_id = match self.piece_id.as_ref().and_then(Json::as_i64) {
            Some(id) if id > 0 => id,
            _ => {
                fail("piece_id", "Identifiant de pièce requis (entier positif).");
                0
            }
        };
        let kind = match self
            .kind
            .as_ref()
            .and_then(Json::as_str)
            .and_then(Kind::parse)
        {
            Some(kind) => kind,
            None => {
                fail("type", "Type requis : IN, OUT ou ADJUST.");
                Kind::In
            }
        };
        let quantity = match self.quantity.as_ref().and_then(Json::as_i64) {
            Some(q) if q > MAX_QUANTITY => {
                fail("quantity", "Quantité trop grande.");
                0
            }
            Some(q) if q > 0 || (q == 0 && kind == Kind::Adjust) => q,
            Some(_) if kind == Kind::Adjust => {
                fail(
                    "quantity",
                    "Le niveau compté doit être un entier positif ou nul.",
                );
                0
            }
            _ => {
                fail(
                    "quantity",
                    "Quantité requise : un entier strictement positif.",
                );
                0
            }
        };
        let reason = match self.reason {
            None | Some(Json::Null) => {
                if kind == Kind::Adjust {
                    fail("reason", "Un ajustement exige un motif.");
                }
                None
            }
            Some(Json::String(r)) if REASONS.contains(&r.as_str()) => Some(r),
            Some(_) => {
                fail(
                    "reason",
                    &format!(
                        "Motif inconnu ; valeurs possibles : {}.",
                        REASONS.join(", ")
                    ),
                );
                None
            }
        };
        let note = match self.note {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(n)) if n.chars().count() <= MAX_NOTE => n.trim().to_owned(),
            Some(Json::String(_)) => {
                fail("note", &format!("{MAX_NOTE} caractères au plus."));
                String::new()
            }
            Some(_) => {
                fail("note", "Texte attendu.");
                String::new()
            }
        };
        if !errors.is_empty() {
            return Err(kit::Error::Validation(errors));
        }
        Ok(Order {
            piece_id,
            kind,
            quantity,
            reason,
            note,
        })
    }
}

impl Order {
    /// The request's identity for `Idempotency-Key` (FNV-1a over its
    /// canonical fields: a replay with a re-serialised body still matches).
    pub fn fingerprint(&self) -> String {
        let canonical = format!(
            "{}|{}|{}|{}|{}",
            self.piece_id,
            self.kind.as_str(),
            self.quantity,
            self.reason.as_deref().unwrap_or(""),
            self.note
        );
        let hash = canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{hash:016x}")
    }
}

/// Who records the movement.
pub struct Author<'a> {
    pub user_id: i64,
    pub username: &'a str,
}

/// Columns every movement answer is built from.
pub const COLUMNS: &str = statements::MOVEMENT_COLUMNS;

/// Records `order`; `Ok(None)` when an OUT exceeds the level.
///
/// The movement is one `INSERT ... SELECT` that reads the level it changes.
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
        "SELECT id, request_hash FROM movements WHERE idempotency_key = ?",
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

pub fn level(db: &Connection, piece_id: i64) -> Result<i64, spin_sdk::sqlite::Error> {
    let result = db.execute(
        "SELECT quantity FROM levels WHERE piece_id = ?",
        &[Value::Integer(piece_id)],
    )?;
    Ok(result
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("quantity"))
        .unwrap_or(0))
}

/// The movement that undoes `original`: the opposite IN/OUT of its delta,
/// recorded with `reverses` set (UNIQUE: a movement is reversed once).
pub fn reversal_of(original: &Json) -> Result<Order, StockError> {
    if !original["reverses"].is_null() {
        return Err(StockError::ReversalOfReversal);
    }
    let delta = original["delta"].as_i64().unwrap_or(0);
    let kind = match delta.signum() {
        1 => Kind::Out,
        -1 => Kind::In,
        _ => return Err(StockError::NothingToReverse),
    };
    Ok(Order {
        piece_id: original["piece_id"].as_i64().unwrap_or(0),
        kind,
        quantity: delta.abs(),
        reason: Some(REVERSAL.to_owned()),
        note: format!("Annulation du mouvement n° {}", original["id"]),
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

    fn input(body: Json) -> Result<Order, kit::Error> {
        serde_json::from_value::<Input>(body).unwrap().validate()
    }

    fn fields(result: Result<Order, kit::Error>) -> Vec<String> {
        match result {
            Err(kit::Error::Validation(errors)) => errors.into_keys().collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_out_is_valid() {
        let order = input(json!({"piece_id": 3, "type": "OUT", "quantity": 2})).unwrap();
        assert_eq!(
            (order.piece_id, order.kind, order.quantity),
            (3, Kind::Out, 2)
        );
        assert_eq!(order.reason, None);
    }

    #[test]
    fn quantities_must_be_positive_integers_except_a_counted_zero() {
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "OUT", "quantity": 0}))),
            ["quantity"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": -3}))),
            ["quantity"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": 1.5}))),
            ["quantity"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": "2"}))),
            ["quantity"]
        );
        let zero =
            input(json!({"piece_id": 1, "type": "ADJUST", "quantity": 0, "reason": "inventory"}));
        assert_eq!(zero.unwrap().quantity, 0);
    }

    #[test]
    fn adjust_needs_a_known_reason() {
        assert_eq!(
            fields(input(
                json!({"piece_id": 1, "type": "ADJUST", "quantity": 4})
            )),
            ["reason"]
        );
        assert_eq!(
            fields(input(
                json!({"piece_id": 1, "type": "ADJUST", "quantity": 4, "reason": "because"})
            )),
            ["reason"]
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        assert_eq!(
            fields(input(json!({"type": "SIDEWAYS"}))),
            ["piece_id", "quantity", "type"]
        );
    }

    #[test]
    fn fingerprint_ignores_formatting_but_not_content() {
        let a = input(json!({"piece_id": 1, "type": "IN", "quantity": 2})).unwrap();
        let b = input(json!({"quantity": 2, "type": "IN", "piece_id": 1, "note": null})).unwrap();
        let c = input(json!({"piece_id": 1, "type": "IN", "quantity": 3})).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn reversals_undo_the_delta_once() {
        let out = json!({"id": 7, "piece_id": 1, "delta": -3, "reverses": null});
        let reversal = reversal_of(&out).unwrap();
        assert_eq!((reversal.kind, reversal.quantity), (Kind::In, 3));
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
