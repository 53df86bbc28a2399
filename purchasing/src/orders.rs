//! `/api/purchasing/orders/`: purchase orders, one supplier each, with
//! their lines (piece, quantity, price). A draft is edited freely, then
//! sent; goods are received against a sent order (`receiving`), which is
//! then partly or wholly received; an open order may be cancelled.
//! Each change is one statement: lines travel in the order's
//! `staged_lines` and the schema's triggers write them.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::{PurchasingError, status_fr};
use crate::form::Form;
use crate::offers::{MAX_PRICE_CENTS, MAX_QUANTITY};
use crate::schema::{NOW, inserted_id};
use crate::{peers, suppliers};

/// Lines per order: a long order typed or generated at once.
pub const MAX_LINES: usize = 200;

const STATUSES: [&str; 5] = ["draft", "sent", "partial", "received", "cancelled"];

/// A line as typed: a piece, how many, and a price unless the supplier's
/// offer gives one.
struct Typed {
    piece_id: i64,
    quantity: i64,
    unit_price_cents: Option<i64>,
}

/// A checked order body: `None` fields unchanged (PATCH).
pub struct Change {
    pub supplier_id: Option<i64>,
    currency: Option<String>,
    note: Option<String>,
    lines: Option<Vec<Typed>>,
}

impl Change {
    pub fn read(body: Json, creating: bool) -> Result<Self, kit::Error> {
        let known: &[&str] = if creating {
            &["supplier_id", "currency", "note", "lines"]
        } else {
            &["note", "lines"]
        };
        let mut form = Form::new(body, known, creating)?;
        let supplier_id = form.integer("supplier_id", 1..=i64::MAX, true);
        let currency = form.text("currency", 3, false);
        if let Some(code) = &currency
            && !(code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()))
        {
            form.fail("currency", "Code ISO 4217 en trois capitales (EUR).");
        }
        let note = form.text("note", 2000, false);
        let lines = form
            .raw("lines", false)
            .and_then(|raw| typed_lines(&mut form, raw));
        form.finish()?;
        Ok(Self {
            supplier_id,
            currency,
            note,
            lines,
        })
    }
}

fn typed_lines(form: &mut Form, raw: Json) -> Option<Vec<Typed>> {
    let Json::Array(items) = raw else {
        form.fail("lines", "Liste de lignes attendue.");
        return None;
    };
    if items.len() > MAX_LINES {
        form.fail("lines", format!("{MAX_LINES} lignes au plus."));
        return None;
    }
    let mut lines = Vec::with_capacity(items.len());
    let mut seen = BTreeSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let number = index + 1;
        let field = |name: &str| item.get(name).cloned();
        let known = item.as_object().is_some_and(|o| {
            o.keys()
                .all(|k| ["piece_id", "quantity", "unit_price_cents"].contains(&k.as_str()))
        });
        let piece_id = field("piece_id")
            .and_then(|v| v.as_i64())
            .filter(|id| *id > 0);
        let quantity = field("quantity")
            .and_then(|v| v.as_i64())
            .filter(|q| (1..=MAX_QUANTITY).contains(q));
        let price = match field("unit_price_cents") {
            None => Some(None),
            Some(v) => v
                .as_i64()
                .filter(|p| (0..=MAX_PRICE_CENTS).contains(p))
                .map(Some),
        };
        match (known, piece_id, quantity, price) {
            (true, Some(piece_id), Some(quantity), Some(unit_price_cents)) => {
                if !seen.insert(piece_id) {
                    form.fail(
                        "lines",
                        format!("Ligne {number} : la pièce {piece_id} est déjà dans la commande."),
                    );
                }
                lines.push(Typed {
                    piece_id,
                    quantity,
                    unit_price_cents,
                });
            }
            _ => form.fail(
                "lines",
                format!(
                    "Ligne {number} : piece_id (entier positif), quantity (1 à {MAX_QUANTITY}) \
                     et unit_price_cents facultatif (0 à {MAX_PRICE_CENTS})."
                ),
            ),
        }
    }
    Some(lines)
}

/// The lines as the order stores them: each piece from the catalogue,
/// priced from the body or the supplier's offer.
async fn priced(
    db: &Connection,
    supplier_id: i64,
    currency: &str,
    lines: &[Typed],
) -> Result<Json, kit::Error> {
    let mut stored = Vec::with_capacity(lines.len());
    let mut problems = Vec::new();
    for line in lines {
        let piece = match peers::piece(line.piece_id).await? {
            Some(piece) if !piece.archived => piece,
            Some(piece) => {
                problems.push(format!("la pièce {} est archivée", piece.reference));
                continue;
            }
            None => {
                problems.push(format!("pièce {} inconnue", line.piece_id));
                continue;
            }
        };
        let offer = offer_of(db, supplier_id, line.piece_id)?;
        let price = match (line.unit_price_cents, &offer) {
            (Some(price), _) => price,
            (None, Some((_, price, offer_currency))) if offer_currency == currency => *price,
            _ => {
                problems.push(format!(
                    "{} : prix requis (aucune offre de ce fournisseur en {currency})",
                    piece.reference
                ));
                continue;
            }
        };
        stored.push(json!({
            "piece_id": piece.id,
            "reference": piece.reference,
            "name": piece.name,
            "supplier_reference": offer.map(|(reference, _, _)| reference).unwrap_or_default(),
            "quantity": line.quantity,
            "unit_price_cents": price,
        }));
    }
    if problems.is_empty() {
        Ok(Json::Array(stored))
    } else {
        Err(kit::Error::field(
            "lines",
            format!("{}.", problems.join(" ; ")),
        ))
    }
}

/// The supplier's offer for the piece: its reference, price and currency.
fn offer_of(
    db: &Connection,
    supplier_id: i64,
    piece_id: i64,
) -> Result<Option<(String, i64, String)>, kit::Error> {
    let rows = db.execute(
        "SELECT supplier_reference, unit_price_cents, currency FROM offers WHERE supplier_id = ?1 AND piece_id = ?2",
        &[Value::Integer(supplier_id), Value::Integer(piece_id)],
    )?;
    Ok(rows.rows().next().map(|row| {
        (
            row.get::<&str>("supplier_reference")
                .unwrap_or_default()
                .to_owned(),
            row.get::<i64>("unit_price_cents").unwrap_or(0),
            row.get::<&str>("currency").unwrap_or("EUR").to_owned(),
        )
    }))
}

/// The currency of a new order: as given, else the supplier's first offer's.
fn currency_for(
    db: &Connection,
    supplier_id: i64,
    given: Option<&str>,
) -> Result<String, kit::Error> {
    if let Some(code) = given {
        return Ok(code.to_owned());
    }
    let rows = db.execute(
        "SELECT currency FROM offers WHERE supplier_id = ?1 ORDER BY id LIMIT 1",
        &[Value::Integer(supplier_id)],
    )?;
    Ok(rows
        .rows()
        .next()
        .and_then(|row| row.get::<&str>("currency").map(str::to_owned))
        .unwrap_or_else(|| "EUR".to_owned()))
}

/// `POST /api/purchasing/orders/`: a draft for an active supplier.
pub async fn create(db: &Connection, change: &Change, author: &str) -> Result<i64, kit::Error> {
    let supplier_id = change
        .supplier_id
        .ok_or_else(|| kit::Error::field("supplier_id", "Champ requis."))?;
    suppliers::usable(db, supplier_id)?;
    let currency = currency_for(db, supplier_id, change.currency.as_deref())?;
    let lines = priced(
        db,
        supplier_id,
        &currency,
        change.lines.as_deref().unwrap_or_default(),
    )
    .await?;
    let inserted = db.execute(
        &format!(
            "INSERT INTO orders (supplier_id, currency, note, created_by, created_at, updated_at, staged_lines) \
             VALUES (?1, ?2, COALESCE(?3, ''), ?4, {NOW}, {NOW}, ?5) RETURNING id"
        ),
        &[
            Value::Integer(supplier_id),
            Value::Text(currency),
            change.note.clone().map_or(Value::Null, Value::Text),
            Value::Text(author.to_owned()),
            Value::Text(lines.to_string()),
        ],
    )?;
    inserted_id(&inserted)
}

/// `PATCH /api/purchasing/orders/{id}/`: a draft's note, or its whole set
/// of lines.
pub async fn update(db: &Connection, id: i64, change: &Change) -> Result<(), kit::Error> {
    let (supplier_id, currency, _) = header(db, id)?;
    let lines = match &change.lines {
        Some(lines) => Some(priced(db, supplier_id, &currency, lines).await?.to_string()),
        None => None,
    };
    let updated = db.execute(
        &format!(
            "UPDATE orders SET note = COALESCE(?2, note), staged_lines = ?3, updated_at = {NOW} \
             WHERE id = ?1 AND status = 'draft' RETURNING id"
        ),
        &[
            Value::Integer(id),
            change.note.clone().map_or(Value::Null, Value::Text),
            lines.map_or(Value::Null, Value::Text),
        ],
    )?;
    match updated.rows().next() {
        Some(_) => Ok(()),
        None => Err(not_draft(db, id)?),
    }
}

/// Only a draft is deleted (its lines with it, by trigger); a sent order
/// is cancelled instead.
pub fn delete(db: &Connection, id: i64) -> Result<(), kit::Error> {
    let deleted = db.execute(
        "DELETE FROM orders WHERE id = ?1 AND status = 'draft' RETURNING id",
        &[Value::Integer(id)],
    )?;
    match deleted.rows().next() {
        Some(_) => Ok(()),
        None => Err(not_draft(db, id)?),
    }
}

/// `POST .../send/`: a draft with lines becomes sent (to the supplier:
/// print it); sending a sent order again changes nothing.
pub fn send(db: &Connection, id: i64) -> Result<(), kit::Error> {
    let sent = db.execute(
        &format!(
            "UPDATE orders SET status = 'sent', sent_at = {NOW}, updated_at = {NOW} \
             WHERE id = ?1 AND status = 'draft' AND EXISTS (SELECT 1 FROM order_lines WHERE order_id = ?1) \
             RETURNING id"
        ),
        &[Value::Integer(id)],
    )?;
    if sent.rows().next().is_some() {
        return Ok(());
    }
    match header(db, id)?.2.as_str() {
        "draft" => Err(PurchasingError::EmptyOrder.into()),
        "sent" => Ok(()),
        status => Err(PurchasingError::NotDraft {
            status: status_fr(status),
        }
        .into()),
    }
}

/// `POST .../cancel/`: an open order is closed; what it received stays.
pub fn cancel(db: &Connection, id: i64) -> Result<(), kit::Error> {
    let cancelled = db.execute(
        &format!(
            "UPDATE orders SET status = 'cancelled', closed_at = {NOW}, updated_at = {NOW} \
             WHERE id = ?1 AND status IN ('draft', 'sent', 'partial') RETURNING id"
        ),
        &[Value::Integer(id)],
    )?;
    if cancelled.rows().next().is_some() {
        return Ok(());
    }
    match header(db, id)?.2.as_str() {
        "cancelled" => Ok(()),
        status => Err(PurchasingError::NotCancellable {
            status: status_fr(status),
        }
        .into()),
    }
}

/// The order's supplier, currency and status; 404 if there is none.
pub fn header(db: &Connection, id: i64) -> Result<(i64, String, String), kit::Error> {
    let rows = db.execute(
        "SELECT supplier_id, currency, status FROM orders WHERE id = ?1",
        &[Value::Integer(id)],
    )?;
    let row = rows.rows().next().ok_or(kit::Error::NotFound)?;
    Ok((
        row.get::<i64>("supplier_id").unwrap_or(0),
        row.get::<&str>("currency").unwrap_or("EUR").to_owned(),
        row.get::<&str>("status").unwrap_or_default().to_owned(),
    ))
}

fn not_draft(db: &Connection, id: i64) -> Result<kit::Error, kit::Error> {
    let (_, _, status) = header(db, id)?;
    Ok(PurchasingError::NotDraft {
        status: status_fr(&status),
    }
    .into())
}

const SELECT: &str = "SELECT o.id, o.supplier_id, s.name AS supplier_name, o.status, o.currency, o.note, \
        o.created_by, o.created_at, o.updated_at, o.sent_at, o.closed_at, \
        (SELECT COUNT(*) FROM order_lines WHERE order_id = o.id) AS line_count, \
        (SELECT COALESCE(SUM(quantity * unit_price_cents), 0) FROM order_lines WHERE order_id = o.id) AS total_cents \
     FROM orders AS o JOIN suppliers AS s ON s.id = o.supplier_id";

/// `GET /api/purchasing/orders/?status=&supplier_id=`: newest first.
pub fn list(
    db: &Connection,
    request: &Request,
    query: &kit::page::Query,
) -> Result<Json, kit::Error> {
    let page = kit::page::Page::from_query(query)?;
    let mut filter = String::from(" WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(status) = query.get("status") {
        let wanted: Vec<&str> = status.split(',').collect();
        if wanted.iter().any(|s| !STATUSES.contains(s)) {
            return Err(kit::Error::field(
                "status",
                format!("Statuts possibles : {}.", STATUSES.join(", ")),
            ));
        }
        let placeholders: Vec<String> = wanted
            .iter()
            .map(|s| {
                params.push(Value::Text((*s).to_owned()));
                format!("?{}", params.len())
            })
            .collect();
        filter.push_str(&format!(" AND o.status IN ({})", placeholders.join(", ")));
    }
    if let Some(raw) = query.get("supplier_id") {
        let id = raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                kit::Error::field("supplier_id", "Identifiant (entier positif) attendu.")
            })?;
        params.push(Value::Integer(id));
        filter.push_str(&format!(" AND o.supplier_id = ?{}", params.len()));
    }
    let (count, rows) = page.select(db, &format!("{SELECT}{filter}"), "o.id DESC", &params)?;
    page.document(
        request,
        count,
        rows.rows().map(|row| summary(&row)).collect(),
    )
}

/// The order with its lines and what was received against it.
pub fn one(db: &Connection, id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(&format!("{SELECT} WHERE o.id = ?1"), &[Value::Integer(id)])?;
    let mut order = rows
        .rows()
        .next()
        .map(|row| summary(&row))
        .ok_or(kit::Error::NotFound)?;
    let lines = db.execute(
        "SELECT id, piece_id, reference, name, supplier_reference, quantity, unit_price_cents, received \
         FROM order_lines WHERE order_id = ?1 ORDER BY id",
        &[Value::Integer(id)],
    )?;
    order["lines"] = lines.rows().map(|row| line(&row)).collect();
    order["receptions"] = crate::receiving::of_order(db, id)?;
    Ok(order)
}

fn summary(row: &Row) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "supplier_id": row.get::<i64>("supplier_id"),
        "supplier_name": row.get::<&str>("supplier_name"),
        "status": row.get::<&str>("status"),
        "currency": row.get::<&str>("currency"),
        "note": row.get::<&str>("note"),
        "created_by": row.get::<&str>("created_by"),
        "created_at": row.get::<&str>("created_at"),
        "updated_at": row.get::<&str>("updated_at"),
        "sent_at": row.get::<&str>("sent_at"),
        "closed_at": row.get::<&str>("closed_at"),
        "line_count": row.get::<i64>("line_count").unwrap_or(0),
        "total_cents": row.get::<i64>("total_cents").unwrap_or(0),
    })
}

fn line(row: &Row) -> Json {
    let quantity = row.get::<i64>("quantity").unwrap_or(0);
    let received = row.get::<i64>("received").unwrap_or(0);
    let price = row.get::<i64>("unit_price_cents").unwrap_or(0);
    json!({
        "id": row.get::<i64>("id"),
        "piece_id": row.get::<i64>("piece_id"),
        "reference": row.get::<&str>("reference"),
        "name": row.get::<&str>("name"),
        "supplier_reference": row.get::<&str>("supplier_reference"),
        "quantity": quantity,
        "received": received,
        "remaining": (quantity - received).max(0),
        "unit_price_cents": price,
        "total_cents": quantity * price,
    })
}
