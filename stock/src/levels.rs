//! `GET /api/stock/` and `GET /api/stock/{piece_id}/`: each known piece's
//! level and status.

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::schema::STATUS_SQL;
use kit::page::{Page, Query};

const ORDERINGS: &[(&str, &str)] = &[
    ("reference", "reference"),
    ("name", "name"),
    ("quantity", "quantity"),
    ("updated_at", "updated_at"),
];

/// Every known piece with its level (0 before its first movement); filters
/// append `AND ...` to it.
fn select() -> String {
    format!(
        "SELECT piece_id, reference, name, quantity, min_stock, {STATUS_SQL} AS status, updated_at, archived \
         FROM (SELECT p.piece_id, p.reference, p.name, COALESCE(l.quantity, 0) AS quantity, p.min_stock, \
                      l.updated_at, p.archived \
               FROM pieces AS p LEFT JOIN levels AS l USING (piece_id)) \
         WHERE 1 = 1"
    )
}

pub fn list(db: &Connection, request: &Request, query: &Query) -> Result<Json, kit::Error> {
    let page = Page::from_query(query)?;
    let mut filter = String::new();
    let mut params = Vec::new();
    if let Some(search) = query.get("search") {
        filter.push_str(" AND (reference LIKE ?1 ESCAPE '\\' OR name LIKE ?1 ESCAPE '\\')");
        params.push(Value::Text(format!("%{}%", escape_like(search))));
    }
    if let Some(status) = query.get("status") {
        if !matches!(status, "ok" | "low" | "out") {
            return Err(kit::Error::field(
                "status",
                "Statut inconnu : ok, low ou out.",
            ));
        }
        filter.push_str(&format!(" AND ({STATUS_SQL}) = ?{}", params.len() + 1));
        params.push(Value::Text(status.to_owned()));
    }
    let order = ordering(query.get("ordering"))?;
    let count = kit::page::count(db, &format!("FROM ({}{filter})", select()), &params)?;
    let rows = db.execute(
        &format!(
            "{}{filter} ORDER BY {order}, piece_id LIMIT {} OFFSET {}",
            select(),
            page.size,
            page.offset()
        ),
        &params,
    )?;
    let results = rows.rows().map(|row| to_json(&row)).collect();
    page.document(request, count, results)
}

pub fn one(db: &Connection, piece_id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &format!("{} AND piece_id = ?1", select()),
        &[Value::Integer(piece_id)],
    )?;
    rows.rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(kit::Error::NotFound)
}

/// `ordering=name` or `-name`; anything outside the whitelist is refused.
fn ordering(requested: Option<&str>) -> Result<String, kit::Error> {
    let Some(requested) = requested else {
        return Ok("reference".into());
    };
    let (field, direction) = match requested.strip_prefix('-') {
        Some(field) => (field, " DESC"),
        None => (requested, ""),
    };
    ORDERINGS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, column)| format!("{column}{direction}"))
        .ok_or_else(|| {
            kit::Error::field(
                "ordering",
                "Tri possible sur reference, name, quantity, updated_at.",
            )
        })
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn to_json(row: &Row<'_>) -> Json {
    json!({
        "piece_id": row.get::<i64>("piece_id"),
        "reference": row.get::<&str>("reference"),
        "name": row.get::<&str>("name"),
        "quantity": row.get::<i64>("quantity"),
        "min_stock": row.get::<i64>("min_stock"),
        "status": row.get::<&str>("status"),
        "updated_at": row.get::<&str>("updated_at"),
        "archived": row.get::<i64>("archived").is_some_and(|a| a != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_is_whitelisted() {
        assert_eq!(ordering(Some("-quantity")).unwrap(), "quantity DESC");
        assert_eq!(ordering(None).unwrap(), "reference");
        assert!(ordering(Some("quantity; DROP TABLE levels")).is_err());
    }

    #[test]
    fn like_wildcards_in_searches_are_literal() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }
}
