//! `POST /api/purchasing/orders/{id}/receive/`: goods in. A receipt is one
//! statement that writes a reception per order line, counts them on the
//! lines and moves the order's status (schema triggers), refusing the
//! whole receipt beyond what the order awaits unless `over_receipt` says
//! so. Each reception then becomes an IN movement in stock under the key
//! `purchasing-reception-<id>`: stock records a key once, so a retried
//! request, a delivery cut short or two hosts delivering at once move
//! stock once. Receptions wait in this table (an outbox) until stock
//! answers: delivered at once when stock is up, else after the response
//! and by the sidecar's flush, with a growing delay.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::PurchasingError;
use crate::form::Form;
use crate::offers::MAX_QUANTITY;
use crate::orders::{self, MAX_LINES};
use crate::peers::{self, Receipt};
use crate::schema::NOW;

/// Receptions sent to stock per request.
const BATCH: i64 = 50;

/// A checked receipt: quantities by order line, summed when a line is
/// named twice (a reference scanned twice).
pub struct Goods {
    lines: BTreeMap<i64, i64>,
    location_id: Option<i64>,
    over_receipt: bool,
}

impl Goods {
    /// Lines name an order line by `line_id` or by the piece's `reference`
    /// (what a scanner types).
    pub fn read(db: &Connection, order_id: i64, body: Json) -> Result<Self, kit::Error> {
        let mut form = Form::new(body, &["lines", "location_id", "over_receipt"], true)?;
        let location_id = match form.raw("location_id", false) {
            None | Some(Json::Null) => None,
            Some(value) => {
                let id = value.as_i64().filter(|id| *id > 0);
                if id.is_none() {
                    form.fail(
                        "location_id",
                        "Identifiant d'emplacement (entier positif) ou null.",
                    );
                }
                id
            }
        };
        let over_receipt = form.boolean("over_receipt").unwrap_or(false);
        let items = match form.raw("lines", true) {
            Some(Json::Array(items)) if !items.is_empty() && items.len() <= MAX_LINES => items,
            Some(_) => {
                form.fail("lines", format!("1 à {MAX_LINES} lignes."));
                Vec::new()
            }
            None => Vec::new(),
        };
        let known = order_lines(db, order_id)?;
        let mut lines = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            match resolve(&known, item) {
                Ok((line_id, quantity)) => {
                    let total: &mut i64 = lines.entry(line_id).or_default();
                    *total = total.saturating_add(quantity);
                }
                Err(why) => form.fail("lines", format!("Ligne {} : {why}", index + 1)),
            }
        }
        if lines.values().any(|q| *q > MAX_QUANTITY) {
            form.fail("lines", format!("{MAX_QUANTITY} unités au plus par ligne."));
        }
        form.finish()?;
        Ok(Self {
            lines,
            location_id,
            over_receipt,
        })
    }

    /// What makes two requests the same receipt.
    fn fingerprint(&self, order_id: i64) -> String {
        json!([order_id, self.lines, self.location_id, self.over_receipt]).to_string()
    }
}

/// The order's lines: (id, reference).
fn order_lines(db: &Connection, order_id: i64) -> Result<Vec<(i64, String)>, kit::Error> {
    let rows = db.execute(
        "SELECT id, reference FROM order_lines WHERE order_id = ?1",
        &[Value::Integer(order_id)],
    )?;
    Ok(rows
        .rows()
        .filter_map(|row| {
            Some((
                row.get::<i64>("id")?,
                row.get::<&str>("reference")?.to_owned(),
            ))
        })
        .collect())
}

fn resolve(known: &[(i64, String)], item: &Json) -> Result<(i64, i64), String> {
    let fields_known = item.as_object().is_some_and(|o| {
        o.keys()
            .all(|k| ["line_id", "reference", "quantity"].contains(&k.as_str()))
    });
    if !fields_known {
        return Err("line_id ou reference, et quantity.".into());
    }
    let quantity = item["quantity"]
        .as_i64()
        .filter(|q| (1..=MAX_QUANTITY).contains(q))
        .ok_or_else(|| format!("quantity de 1 à {MAX_QUANTITY}."))?;
    let found = match (item.get("line_id"), item.get("reference")) {
        (Some(id), None) => {
            let id = id.as_i64().ok_or("line_id entier attendu.")?;
            known.iter().find(|(line, _)| *line == id)
        }
        (None, Some(reference)) => {
            let reference = reference.as_str().ok_or("reference texte attendu.")?.trim();
            known
                .iter()
                .find(|(_, known)| known.eq_ignore_ascii_case(reference))
        }
        _ => return Err("line_id ou reference (un des deux).".into()),
    };
    let (line_id, _) = found.ok_or_else(|| {
        PurchasingError::UnknownLine(
            item.get("reference")
                .or(item.get("line_id"))
                .map(Json::to_string)
                .unwrap_or_default(),
        )
        .to_string()
    })?;
    Ok((*line_id, quantity))
}

/// Who receives.
pub struct Receiver<'a> {
    pub user_id: i64,
    pub username: &'a str,
}

/// Records the receipt under `receipt` (the caller's idempotency key, or a
/// fresh one), or finds it recorded by an earlier request with that key;
/// then delivers it to stock. `true` when this request recorded it.
pub async fn receive(
    db: &Connection,
    order_id: i64,
    goods: &Goods,
    receipt: &str,
    receiver: &Receiver<'_>,
) -> Result<(bool, Json), kit::Error> {
    let fingerprint = goods.fingerprint(order_id);
    if let Some(earlier) = earlier(db, receipt)? {
        return replay(db, receipt, &earlier, &fingerprint).map(|answer| (false, answer));
    }
    let (_, _, status) = orders::header(db, order_id)?;
    if !matches!(status.as_str(), "sent" | "partial" | "received") {
        return Err(PurchasingError::NotReceivable {
            status: crate::error::status_fr(&status),
        }
        .into());
    }
    let lines: Vec<Json> = goods
        .lines
        .iter()
        .map(|(line_id, quantity)| json!({ "line_id": line_id, "quantity": quantity }))
        .collect();
    let inserted = db.execute(
        &format!(
            "INSERT INTO receptions (receipt, fingerprint, order_id, line_id, piece_id, quantity, location_id, \
                over_receipt, user_id, username, created_at, next_attempt_at) \
             SELECT ?1, ?2, ?3, l.id, l.piece_id, json_extract(j.value, '$.quantity'), ?4, ?5, ?6, ?7, {NOW}, {NOW} \
             FROM json_each(?8) AS j JOIN order_lines AS l ON l.id = json_extract(j.value, '$.line_id') \
             WHERE l.order_id = ?3"
        ),
        &[
            Value::Text(receipt.to_owned()),
            Value::Text(fingerprint.clone()),
            Value::Integer(order_id),
            goods.location_id.map_or(Value::Null, Value::Integer),
            Value::Integer(goods.over_receipt.into()),
            Value::Integer(receiver.user_id),
            Value::Text(receiver.username.to_owned()),
            Value::Text(Json::Array(lines).to_string()),
        ],
    );
    match inserted {
        Ok(_) => {}
        // The same key at the same moment: the request that won answers
        // for both (this one may have failed on the quantity it added).
        Err(e) if earlier(db, receipt)?.is_some() => {
            let earlier = earlier(db, receipt)?.unwrap_or_default();
            eprintln!("receipt {receipt} recorded by a concurrent request ({e})");
            return replay(db, receipt, &earlier, &fingerprint).map(|answer| (false, answer));
        }
        Err(e) if kit::constraint::is_raised(&e, "over-receipt") => {
            return Err(PurchasingError::OverReceipt(remaining(db, order_id, goods)?).into());
        }
        Err(e) if kit::constraint::is_raised(&e, "order not receivable") => {
            let (_, _, status) = orders::header(db, order_id)?;
            return Err(PurchasingError::NotReceivable {
                status: crate::error::status_fr(&status),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    deliver(db, Some(receipt)).await?;
    let answer = answer(db, receipt)?;
    let refused: Vec<&str> = answer["receptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["state"] == "refused")
        .filter_map(|r| r["detail"].as_str())
        .collect();
    if !refused.is_empty() && refused.len() == goods.lines.len() {
        return Err(PurchasingError::StockRefused(refused.join(" ")).into());
    }
    Ok((true, answer))
}

/// The fingerprint of the receipt recorded under `receipt`, if any.
fn earlier(db: &Connection, receipt: &str) -> Result<Option<String>, kit::Error> {
    let rows = db.execute(
        "SELECT fingerprint FROM receptions WHERE receipt = ?1 LIMIT 1",
        &[Value::Text(receipt.to_owned())],
    )?;
    Ok(rows
        .rows()
        .next()
        .and_then(|row| row.get::<&str>("fingerprint").map(str::to_owned)))
}

fn replay(
    db: &Connection,
    receipt: &str,
    earlier: &str,
    fingerprint: &str,
) -> Result<Json, kit::Error> {
    if earlier != fingerprint {
        return Err(PurchasingError::IdempotencyMismatch.into());
    }
    answer(db, receipt)
}

/// What each named line still awaits, for the over-receipt message.
fn remaining(db: &Connection, order_id: i64, goods: &Goods) -> Result<String, kit::Error> {
    let rows = db.execute(
        "SELECT id, reference, MAX(quantity - received, 0) AS remaining FROM order_lines WHERE order_id = ?1 ORDER BY id",
        &[Value::Integer(order_id)],
    )?;
    Ok(rows
        .rows()
        .filter(|row| {
            row.get::<i64>("id")
                .is_some_and(|id| goods.lines.contains_key(&id))
        })
        .map(|row| {
            format!(
                "{} : {}",
                row.get::<&str>("reference").unwrap_or_default(),
                row.get::<i64>("remaining").unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// The receipt as recorded: the order and each reception's state.
fn answer(db: &Connection, receipt: &str) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &format!("{SELECT} WHERE r.receipt = ?1 ORDER BY r.id"),
        &[Value::Text(receipt.to_owned())],
    )?;
    let receptions: Vec<Json> = rows.rows().map(|row| reception(&row)).collect();
    let order_id = receptions
        .first()
        .and_then(|r| r["order_id"].as_i64())
        .ok_or(kit::Error::NotFound)?;
    Ok(json!({
        "receipt": receipt,
        "receptions": receptions,
        "order": orders::one(db, order_id)?,
    }))
}

const SELECT: &str = "SELECT r.id, r.order_id, r.line_id, r.piece_id, l.reference, r.quantity, r.location_id, \
        r.username, r.created_at, r.state, r.detail, r.movement_id, r.attempts \
     FROM receptions AS r JOIN order_lines AS l ON l.id = r.line_id";

/// Every reception of the order, oldest first.
pub fn of_order(db: &Connection, order_id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &format!("{SELECT} WHERE r.order_id = ?1 ORDER BY r.id"),
        &[Value::Integer(order_id)],
    )?;
    Ok(rows.rows().map(|row| reception(&row)).collect())
}

fn reception(row: &Row) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "order_id": row.get::<i64>("order_id"),
        "line_id": row.get::<i64>("line_id"),
        "piece_id": row.get::<i64>("piece_id"),
        "reference": row.get::<&str>("reference"),
        "quantity": row.get::<i64>("quantity"),
        "location_id": row.get::<i64>("location_id"),
        "username": row.get::<&str>("username"),
        "created_at": row.get::<&str>("created_at"),
        "state": row.get::<&str>("state"),
        "detail": row.get::<&str>("detail"),
        "movement_id": row.get::<i64>("movement_id"),
    })
}

/// Sends pending receptions to stock (those of `receipt` only, or every
/// one due), oldest first; returns how many stock answered for. Stock down
/// leaves them pending with a later attempt time.
pub async fn deliver(db: &Connection, receipt: Option<&str>) -> Result<i64, kit::Error> {
    let due = db.execute(
        &format!(
            "SELECT r.id, r.piece_id, r.quantity, r.location_id, r.user_id, r.username, r.attempts, r.order_id \
             FROM receptions AS r \
             WHERE r.state = 'pending' AND (?1 IS NULL AND r.next_attempt_at <= {NOW} OR r.receipt = ?1) \
             ORDER BY r.id LIMIT ?2"
        ),
        &[receipt.map_or(Value::Null, |r| Value::Text(r.to_owned())), Value::Integer(BATCH)],
    )?;
    let mut receipts = Vec::new();
    let mut ids = Vec::new();
    for row in due.rows() {
        let (Some(id), Some(piece_id), Some(quantity), Some(user_id)) = (
            row.get::<i64>("id"),
            row.get::<i64>("piece_id"),
            row.get::<i64>("quantity"),
            row.get::<i64>("user_id"),
        ) else {
            continue;
        };
        ids.push((id, row.get::<i64>("attempts").unwrap_or(0)));
        receipts.push(Receipt {
            key: key(id),
            piece_id,
            quantity,
            location_id: row.get::<i64>("location_id"),
            user_id,
            username: row.get::<&str>("username").unwrap_or_default().to_owned(),
            note: format!(
                "Commande fournisseur n° {}",
                row.get::<i64>("order_id").unwrap_or(0)
            ),
        });
    }
    if receipts.is_empty() {
        return Ok(0);
    }
    match peers::record_receipts(&receipts).await {
        Ok(outcomes) => {
            let answered = i64::try_from(outcomes.len()).unwrap_or(i64::MAX);
            for outcome in outcomes {
                let Some(id) = outcome
                    .key
                    .strip_prefix(KEY_PREFIX)
                    .and_then(|id| id.parse::<i64>().ok())
                else {
                    continue;
                };
                db.execute(
                    "UPDATE receptions SET state = CASE WHEN ?2 IS NULL THEN 'refused' ELSE 'recorded' END, \
                        movement_id = ?2, detail = ?3, attempts = attempts + 1 \
                     WHERE id = ?1 AND state = 'pending'",
                    &[
                        Value::Integer(id),
                        outcome.movement_id.map_or(Value::Null, Value::Integer),
                        outcome.refused.map_or(Value::Null, Value::Text),
                    ],
                )?;
            }
            Ok(answered)
        }
        Err(why) => {
            eprintln!("receptions not delivered to stock: {why}");
            for (id, attempts) in ids {
                db.execute(
                    "UPDATE receptions SET attempts = attempts + 1, \
                        next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2) \
                     WHERE id = ?1 AND state = 'pending'",
                    &[
                        Value::Integer(id),
                        Value::Text(format!("+{} seconds", kit::peer::backoff_secs(attempts))),
                    ],
                )?;
            }
            Ok(0)
        }
    }
}

/// `POST /api/purchasing/internal/outbox/flush/` (the sidecar, every
/// second): what is due goes; (answered, still pending).
pub async fn flush(db: &Connection) -> Result<(i64, i64), kit::Error> {
    let delivered = deliver(db, None).await?;
    let pending = kit::page::count(db, "FROM receptions WHERE state = 'pending'", &[])?;
    Ok((delivered, pending))
}

const KEY_PREFIX: &str = "purchasing-reception-";

fn key(id: i64) -> String {
    format!("{KEY_PREFIX}{id}")
}

/// A receipt key for a request that brought none.
pub fn fresh_receipt() -> Result<String, kit::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| kit::Error::Internal(e.to_string().into()))?;
    Ok(format!(
        "auto:{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}
