//! `/api/purchasing/reorder/`: what to order now. Every piece stock holds
//! at or below its minimum, brought back up to its reorder target (twice
//! its minimum unless set), net of what open orders still await, rounded
//! up to the chosen offer's minimum and pack; grouped by supplier. The
//! offer chosen is the preferred one, else the cheapest, of an active
//! supplier; a piece no active supplier offers is listed without one.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::peers::{self, Candidate};
use crate::schema::{NOW, open_statuses};

/// One piece to order, and from whom.
#[derive(Debug, Clone, PartialEq)]
struct Need {
    piece_id: i64,
    reference: String,
    name: String,
    quantity: i64,
    min_stock: i64,
    target: i64,
    on_order: i64,
    to_order: i64,
    offer: Option<Terms>,
}

/// The offer a need is ordered on.
#[derive(Debug, Clone, PartialEq)]
struct Terms {
    supplier_id: i64,
    supplier_name: String,
    supplier_reference: String,
    unit_price_cents: i64,
    currency: String,
    min_order_quantity: i64,
    pack_size: i64,
    lead_time_days: i64,
}

/// The candidates from stock with what purchasing knows of each: target,
/// on order, best offer.
const NEEDS: &str = concat!(
    "WITH candidate AS (SELECT json_extract(value, '$.piece_id') AS piece_id, \
        json_extract(value, '$.reference') AS reference, json_extract(value, '$.name') AS name, \
        json_extract(value, '$.quantity') AS quantity, json_extract(value, '$.min_stock') AS min_stock \
        FROM json_each(?1)), \
     ordered AS (SELECT l.piece_id, SUM(MAX(l.quantity - l.received, 0)) AS on_order \
        FROM order_lines AS l JOIN orders AS o ON o.id = l.order_id \
        WHERE o.status IN ",
    open_statuses!(),
    " AND l.piece_id IN (SELECT piece_id FROM candidate) GROUP BY l.piece_id), \
     ranked AS (SELECT f.*, s.name AS supplier_name, ROW_NUMBER() OVER (PARTITION BY f.piece_id \
            ORDER BY f.preferred DESC, f.unit_price_cents, f.lead_time_days, f.id) AS rank \
        FROM offers AS f JOIN suppliers AS s ON s.id = f.supplier_id AND s.archived = 0 \
        WHERE f.piece_id IN (SELECT piece_id FROM candidate)) \
     SELECT c.piece_id, c.reference, c.name, c.quantity, c.min_stock, \
        COALESCE(t.target, 2 * c.min_stock) AS target, COALESCE(ordered.on_order, 0) AS on_order, \
        r.supplier_id, r.supplier_name, r.supplier_reference, r.unit_price_cents, r.currency, \
        r.min_order_quantity, r.pack_size, r.lead_time_days \
     FROM candidate AS c LEFT JOIN targets AS t ON t.piece_id = c.piece_id \
        LEFT JOIN ordered ON ordered.piece_id = c.piece_id \
        LEFT JOIN ranked AS r ON r.piece_id = c.piece_id AND r.rank = 1 \
     ORDER BY c.reference"
);

/// How many units to order: what brings `quantity + on_order` to `target`,
/// at least the offer's minimum, in whole packs; 0 when open orders cover it.
fn to_order(target: i64, quantity: i64, on_order: i64, offer: Option<(i64, i64)>) -> i64 {
    let missing = target - quantity - on_order;
    if missing <= 0 {
        return 0;
    }
    let Some((minimum, pack)) = offer else {
        return missing;
    };
    let wanted = missing.max(minimum);
    (wanted + pack - 1) / pack * pack
}

async fn needs(db: &Connection) -> Result<Vec<Need>, kit::Error> {
    let candidates: Vec<Candidate> = peers::reorder_candidates().await?;
    let encoded =
        serde_json::to_string(&candidates).map_err(|e| kit::Error::Internal(Box::new(e)))?;
    let rows = db.execute(NEEDS, &[Value::Text(encoded)])?;
    Ok(rows.rows().filter_map(|row| need(&row)).collect())
}

fn need(row: &Row) -> Option<Need> {
    let offer = row.get::<i64>("supplier_id").map(|supplier_id| Terms {
        supplier_id,
        supplier_name: row
            .get::<&str>("supplier_name")
            .unwrap_or_default()
            .to_owned(),
        supplier_reference: row
            .get::<&str>("supplier_reference")
            .unwrap_or_default()
            .to_owned(),
        unit_price_cents: row.get("unit_price_cents").unwrap_or(0),
        currency: row.get::<&str>("currency").unwrap_or("EUR").to_owned(),
        min_order_quantity: row.get("min_order_quantity").unwrap_or(1),
        pack_size: row.get("pack_size").unwrap_or(1),
        lead_time_days: row.get("lead_time_days").unwrap_or(0),
    });
    let (target, quantity, on_order) = (
        row.get::<i64>("target")?,
        row.get::<i64>("quantity")?,
        row.get::<i64>("on_order").unwrap_or(0),
    );
    let terms = offer.as_ref().map(|o| (o.min_order_quantity, o.pack_size));
    let to_order = to_order(target, quantity, on_order, terms);
    (to_order > 0).then(|| Need {
        piece_id: row.get("piece_id").unwrap_or(0),
        reference: row.get::<&str>("reference").unwrap_or_default().to_owned(),
        name: row.get::<&str>("name").unwrap_or_default().to_owned(),
        quantity,
        min_stock: row.get("min_stock").unwrap_or(0),
        target,
        on_order,
        to_order,
        offer,
    })
}

/// The needs one supplier fills, in one currency; `supplier` is `None`
/// for the pieces no active supplier offers.
struct Group {
    supplier: Option<(i64, String, String)>,
    needs: Vec<Need>,
}

/// The needs by supplier (and currency): suppliers by name, then the
/// pieces no supplier offers.
fn grouped(needs: Vec<Need>) -> Vec<Group> {
    let mut groups: BTreeMap<(bool, String, i64, String), Vec<Need>> = BTreeMap::new();
    for need in needs {
        let key = match &need.offer {
            Some(o) => (
                false,
                o.supplier_name.to_lowercase(),
                o.supplier_id,
                o.currency.clone(),
            ),
            None => (true, String::new(), 0, String::new()),
        };
        groups.entry(key).or_default().push(need);
    }
    groups
        .into_values()
        .map(|needs| Group {
            supplier: needs[0]
                .offer
                .as_ref()
                .map(|o| (o.supplier_id, o.supplier_name.clone(), o.currency.clone())),
            needs,
        })
        .collect()
}

/// `GET /api/purchasing/reorder/`.
pub async fn list(db: &Connection) -> Result<Json, kit::Error> {
    let needs = needs(db).await?;
    let count = needs.len();
    let groups: Vec<Json> = grouped(needs)
        .into_iter()
        .map(|Group { supplier, needs }| {
            let total: i64 = needs
                .iter()
                .map(|n| n.to_order * n.offer.as_ref().map_or(0, |o| o.unit_price_cents))
                .sum();
            let (supplier_id, supplier_name, currency) = match supplier {
                Some((id, name, currency)) => {
                    (Json::from(id), Json::from(name), Json::from(currency))
                }
                None => (Json::Null, Json::Null, Json::Null),
            };
            json!({
                "supplier_id": supplier_id,
                "supplier_name": supplier_name,
                "currency": currency,
                "total_cents": total,
                "lines": needs.iter().map(line_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({ "count": count, "groups": groups }))
}

fn line_json(need: &Need) -> Json {
    let offer = need.offer.as_ref();
    json!({
        "piece_id": need.piece_id,
        "reference": need.reference,
        "name": need.name,
        "quantity": need.quantity,
        "min_stock": need.min_stock,
        "reorder_target": need.target,
        "on_order": need.on_order,
        "to_order": need.to_order,
        "supplier_reference": offer.map(|o| o.supplier_reference.clone()),
        "unit_price_cents": offer.map(|o| o.unit_price_cents),
        "min_order_quantity": offer.map(|o| o.min_order_quantity),
        "pack_size": offer.map(|o| o.pack_size),
        "lead_time_days": offer.map(|o| o.lead_time_days),
    })
}

/// `POST /api/purchasing/reorder/orders/`: one draft per supplier of the
/// list, in one statement. Each line carries what was on order when the
/// list was read; a line whose piece has been ordered since is left out,
/// and an order left with no line is not created, so two clicks at once
/// order each piece once. The ids of the orders created.
pub async fn create_orders(db: &Connection, author: &str) -> Result<Vec<i64>, kit::Error> {
    let groups: Vec<Json> = grouped(needs(db).await?)
        .into_iter()
        .filter_map(|Group { supplier, needs }| {
            let (supplier_id, _, currency) = supplier?;
            let lines: Vec<Json> = needs
                .iter()
                .map(|n| {
                    let offer = n.offer.as_ref();
                    json!({
                        "piece_id": n.piece_id,
                        "reference": n.reference,
                        "name": n.name,
                        "supplier_reference": offer.map_or("", |o| o.supplier_reference.as_str()),
                        "quantity": n.to_order,
                        "unit_price_cents": offer.map_or(0, |o| o.unit_price_cents),
                        "on_order": n.on_order,
                    })
                })
                .collect();
            Some(json!({ "supplier_id": supplier_id, "currency": currency, "lines": lines }))
        })
        .collect();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let created = db.execute(
        &format!(
            concat!(
                "INSERT INTO orders (supplier_id, currency, note, created_by, created_at, updated_at, staged_lines) \
                 SELECT json_extract(g.value, '$.supplier_id'), json_extract(g.value, '$.currency'), \
                    'Créée depuis la liste à commander', ?2, {now}, {now}, json_extract(g.value, '$.lines') \
                 FROM json_each(?1) AS g \
                 WHERE EXISTS (SELECT 1 FROM json_each(g.value, '$.lines') AS l \
                    WHERE json_extract(l.value, '$.on_order') = (SELECT COALESCE(SUM(MAX(ol.quantity - ol.received, 0)), 0) \
                        FROM order_lines AS ol JOIN orders AS o ON o.id = ol.order_id \
                        WHERE ol.piece_id = json_extract(l.value, '$.piece_id') AND o.status IN ",
                open_statuses!(),
                ")) RETURNING id"
            ),
            now = NOW
        ),
        &[
            Value::Text(Json::Array(groups).to_string()),
            Value::Text(author.to_owned()),
        ],
    )?;
    Ok(created
        .rows()
        .filter_map(|row| row.get::<i64>("id"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::to_order;

    #[test]
    fn the_quantity_fills_up_to_the_target_net_of_open_orders() {
        assert_eq!(to_order(10, 2, 0, None), 8);
        assert_eq!(to_order(10, 2, 5, None), 3);
        assert_eq!(to_order(10, 2, 8, None), 0);
        assert_eq!(to_order(10, 12, 0, None), 0);
    }

    #[test]
    fn the_quantity_honours_the_offers_minimum_and_pack() {
        assert_eq!(to_order(10, 2, 0, Some((20, 1))), 20);
        assert_eq!(to_order(10, 2, 0, Some((1, 5))), 10);
        assert_eq!(to_order(10, 3, 0, Some((1, 5))), 10);
        assert_eq!(to_order(10, 1, 0, Some((12, 5))), 15);
    }
}
