//! `/api/purchasing/offers/`: what a supplier sells a piece for (its
//! reference, price, minimum, pack, lead time), one preferred per piece;
//! and `/api/purchasing/pieces/{id}/`, a piece seen from purchasing: its
//! offers, its reorder target and what is on order.

use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::PurchasingError;
use crate::form::Form;
use crate::schema::{NOW, found, inserted_id, open_statuses};
use crate::{peers, suppliers};

const FIELDS: [&str; 9] = [
    "supplier_id",
    "piece_id",
    "supplier_reference",
    "unit_price_cents",
    "currency",
    "min_order_quantity",
    "pack_size",
    "lead_time_days",
    "preferred",
];

/// Prices up to 10 million in any currency unit, quantities to a million.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;
pub const MAX_QUANTITY: i64 = 1_000_000;

pub struct Change {
    pub supplier_id: Option<i64>,
    pub piece_id: Option<i64>,
    supplier_reference: Option<String>,
    unit_price_cents: Option<i64>,
    currency: Option<String>,
    min_order_quantity: Option<i64>,
    pack_size: Option<i64>,
    lead_time_days: Option<i64>,
    preferred: Option<bool>,
}

impl Change {
    /// A creation names its supplier, piece and price; an edit changes
    /// neither supplier nor piece.
    pub fn read(body: Json, creating: bool) -> Result<Self, kit::Error> {
        let mut form = Form::new(body, &FIELDS, creating)?;
        if !creating {
            for fixed in ["supplier_id", "piece_id"] {
                if form.has(fixed) {
                    form.fail(fixed, "Ne change pas : créez une autre offre.");
                }
            }
        }
        let change = Self {
            supplier_id: form.integer("supplier_id", 1..=i64::MAX, true),
            piece_id: form.integer("piece_id", 1..=i64::MAX, true),
            supplier_reference: form.text("supplier_reference", 100, false),
            unit_price_cents: form.integer("unit_price_cents", 0..=MAX_PRICE_CENTS, true),
            currency: currency(&mut form),
            min_order_quantity: form.integer("min_order_quantity", 1..=MAX_QUANTITY, false),
            pack_size: form.integer("pack_size", 1..=MAX_QUANTITY, false),
            lead_time_days: form.integer("lead_time_days", 0..=3650, false),
            preferred: form.boolean("preferred"),
        };
        form.finish()?;
        Ok(change)
    }
}

impl Change {
    /// The offer's terms as the statements bind them, in column order:
    /// reference, price, currency, minimum, pack, lead time, preferred.
    fn terms(&self) -> [Value; 7] {
        [
            text(&self.supplier_reference),
            integer(self.unit_price_cents),
            text(&self.currency),
            integer(self.min_order_quantity),
            integer(self.pack_size),
            integer(self.lead_time_days),
            integer(self.preferred.map(i64::from)),
        ]
    }
}

/// ISO 4217: three capital letters.
fn currency(form: &mut Form) -> Option<String> {
    let code = form.text("currency", 3, false)?;
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Some(code)
    } else {
        form.fail("currency", "Code ISO 4217 en trois capitales (EUR).");
        None
    }
}

const SELECT: &str = "SELECT f.id, f.supplier_id, s.name AS supplier_name, s.archived AS supplier_archived, \
        f.piece_id, f.supplier_reference, f.unit_price_cents, f.currency, f.min_order_quantity, \
        f.pack_size, f.lead_time_days, f.preferred, f.created_at, f.updated_at \
     FROM offers AS f JOIN suppliers AS s ON s.id = f.supplier_id";

/// `GET /api/purchasing/offers/?piece_id=&supplier_id=`: the preferred
/// first, then the cheapest.
pub fn list(db: &Connection, query: &kit::page::Query) -> Result<Json, kit::Error> {
    let mut filter = String::from(" WHERE 1 = 1");
    let mut params = Vec::new();
    for name in ["piece_id", "supplier_id"] {
        if let Some(raw) = query.get(name) {
            let id = raw
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| kit::Error::field(name, "Identifiant (entier positif) attendu."))?;
            params.push(Value::Integer(id));
            filter.push_str(&format!(" AND f.{name} = ?{}", params.len()));
        }
    }
    let rows = db.execute(
        &format!(
            "{SELECT}{filter} ORDER BY f.preferred DESC, s.archived, f.unit_price_cents, f.id LIMIT 1000"
        ),
        &params,
    )?;
    Ok(Json::Array(rows.rows().map(|row| to_json(&row)).collect()))
}

pub fn one(db: &Connection, id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(&format!("{SELECT} WHERE f.id = ?1"), &[Value::Integer(id)])?;
    rows.rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(kit::Error::NotFound)
}

/// A new offer, of an active supplier, for a piece the catalogue knows.
pub async fn create(db: &Connection, change: &Change) -> Result<i64, kit::Error> {
    let (Some(supplier_id), Some(piece_id)) = (change.supplier_id, change.piece_id) else {
        return Err(kit::Error::BadRequest(
            "Fournisseur et pièce requis.".into(),
        ));
    };
    suppliers::usable(db, supplier_id)?;
    match peers::piece(piece_id).await? {
        Some(piece) if !piece.archived => {}
        Some(piece) => {
            return Err(kit::Error::field(
                "piece_id",
                format!("La pièce {} est archivée.", piece.reference),
            ));
        }
        None => return Err(PurchasingError::UnknownPiece(piece_id.to_string()).into()),
    }
    let inserted = db
        .execute(
            &format!(
                "INSERT INTO offers (supplier_id, piece_id, supplier_reference, unit_price_cents, currency, \
                    min_order_quantity, pack_size, lead_time_days, preferred, created_at, updated_at) \
                 VALUES (?1, ?2, COALESCE(?3, ''), ?4, COALESCE(?5, 'EUR'), COALESCE(?6, 1), COALESCE(?7, 1), \
                    COALESCE(?8, 0), COALESCE(?9, 0), {NOW}, {NOW}) RETURNING id"
            ),
            &[
                &[Value::Integer(supplier_id), Value::Integer(piece_id)],
                &change.terms()[..],
            ]
            .concat(),
        )
        .map_err(duplicate)?;
    inserted_id(&inserted)
}

pub fn update(db: &Connection, id: i64, change: &Change) -> Result<(), kit::Error> {
    let updated = db.execute(
        &format!(
            "UPDATE offers SET supplier_reference = COALESCE(?1, supplier_reference), \
                unit_price_cents = COALESCE(?2, unit_price_cents), currency = COALESCE(?3, currency), \
                min_order_quantity = COALESCE(?4, min_order_quantity), pack_size = COALESCE(?5, pack_size), \
                lead_time_days = COALESCE(?6, lead_time_days), preferred = COALESCE(?7, preferred), \
                updated_at = {NOW} \
             WHERE id = ?8 RETURNING id"
        ),
        &[&change.terms()[..], &[Value::Integer(id)]].concat(),
    )?;
    found(&updated)
}

/// Orders copied the offer's terms into their lines: it goes freely.
pub fn delete(db: &Connection, id: i64) -> Result<(), kit::Error> {
    let deleted = db.execute(
        "DELETE FROM offers WHERE id = ?1 RETURNING id",
        &[Value::Integer(id)],
    )?;
    found(&deleted)
}

/// `GET /api/purchasing/pieces/{id}/`: the piece's offers, its reorder
/// target (`null`: twice its minimum) and what open orders still await.
pub fn piece(db: &Connection, piece_id: i64) -> Result<Json, kit::Error> {
    let target = db.execute(
        "SELECT target FROM targets WHERE piece_id = ?1",
        &[Value::Integer(piece_id)],
    )?;
    let target = target
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("target"));
    let query = kit::page::Query::parse(&format!("piece_id={piece_id}"));
    Ok(json!({
        "piece_id": piece_id,
        "reorder_target": target,
        "on_order": on_order(db, piece_id)?,
        "offers": list(db, &query)?,
    }))
}

/// `PUT /api/purchasing/pieces/{id}/`: `{"reorder_target": n}` sets the
/// level a reorder brings the piece back to; `null` returns to the default.
pub fn set_target(db: &Connection, piece_id: i64, body: Json) -> Result<(), kit::Error> {
    let mut form = Form::new(body, &["reorder_target"], true)?;
    let target = match form.raw("reorder_target", true) {
        Some(Json::Null) => None,
        Some(value) => match value.as_i64().filter(|n| (0..=MAX_QUANTITY).contains(n)) {
            Some(n) => Some(n),
            None => {
                form.fail(
                    "reorder_target",
                    format!("Nombre entier de 0 à {MAX_QUANTITY}, ou null."),
                );
                None
            }
        },
        None => None,
    };
    form.finish()?;
    match target {
        Some(target) => db.execute(
            &format!(
                "INSERT INTO targets (piece_id, target, updated_at) VALUES (?1, ?2, {NOW}) \
                 ON CONFLICT (piece_id) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at"
            ),
            &[Value::Integer(piece_id), Value::Integer(target)],
        )?,
        None => db.execute(
            "DELETE FROM targets WHERE piece_id = ?1",
            &[Value::Integer(piece_id)],
        )?,
    };
    Ok(())
}

/// Units of `piece_id` that open orders have not received yet.
fn on_order(db: &Connection, piece_id: i64) -> Result<i64, kit::Error> {
    let rows = db.execute(
        concat!(
            "SELECT COALESCE(SUM(MAX(l.quantity - l.received, 0)), 0) AS on_order \
             FROM order_lines AS l JOIN orders AS o ON o.id = l.order_id \
             WHERE l.piece_id = ?1 AND o.status IN ",
            open_statuses!()
        ),
        &[Value::Integer(piece_id)],
    )?;
    Ok(rows
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("on_order"))
        .unwrap_or(0))
}

fn duplicate(error: spin_sdk::sqlite::Error) -> kit::Error {
    if kit::constraint::is_unique_violation(&error, "offers.supplier_id") {
        PurchasingError::DuplicateOffer.into()
    } else {
        error.into()
    }
}

fn text(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::Text)
}

fn integer(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::Integer)
}

fn to_json(row: &Row) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "supplier_id": row.get::<i64>("supplier_id"),
        "supplier_name": row.get::<&str>("supplier_name"),
        "supplier_archived": row.get::<i64>("supplier_archived").unwrap_or(0) != 0,
        "piece_id": row.get::<i64>("piece_id"),
        "supplier_reference": row.get::<&str>("supplier_reference"),
        "unit_price_cents": row.get::<i64>("unit_price_cents"),
        "currency": row.get::<&str>("currency"),
        "min_order_quantity": row.get::<i64>("min_order_quantity"),
        "pack_size": row.get::<i64>("pack_size"),
        "lead_time_days": row.get::<i64>("lead_time_days"),
        "preferred": row.get::<i64>("preferred").unwrap_or(0) != 0,
        "created_at": row.get::<&str>("created_at"),
        "updated_at": row.get::<&str>("updated_at"),
    })
}
