//! `GET /api/stock/movements/` (newest first, filtered, paginated) and its
//! CSV export: the same filters build both.

use serde_json::Value as Json;
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Value};

use crate::movement::{COLUMNS, to_json};
use crate::order::Kind;
use crate::statements::MOVEMENT_SOURCE as FROM;
use kit::page::{Page, Query};

/// Cap of one CSV export; the ledger of a workshop stays far below it.
const MAX_EXPORT_ROWS: i64 = 100_000;

/// `WHERE` clause and parameters from `piece_id`, `type`, `location_id`
/// (either side of a transfer), `user`, `date_from`, `date_to` (dates
/// `YYYY-MM-DD`, `date_to` inclusive).
fn filters(query: &Query) -> Result<(String, Vec<Value>), kit::Error> {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut params = Vec::new();
    let mut add = |clause: &str, value: Value| {
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
    };
    if let Some(id) = query.get("piece_id") {
        let id = id
            .parse::<i64>()
            .map_err(|_| kit::Error::field("piece_id", "Identifiant de pièce invalide."))?;
        add(" AND m.piece_id = ?", Value::Integer(id));
    }
    if let Some(kind) = query.get("type") {
        let kind = Kind::parse(kind)
            .ok_or_else(|| kit::Error::field("type", "Type : IN, OUT, ADJUST ou TRANSFER."))?;
        add(" AND m.type = ?", Value::Text(kind.as_str().to_owned()));
    }
    if let Some(id) = query.get("location_id") {
        let id = id
            .parse::<i64>()
            .map_err(|_| kit::Error::field("location_id", "Identifiant d'emplacement invalide."))?;
        add(
            " AND m.id IN (SELECT id FROM ledger WHERE location_id = ? \
                           UNION ALL SELECT id FROM ledger WHERE to_location_id = ?)",
            Value::Integer(id),
        );
    }
    if let Some(user) = query.get("user") {
        add(" AND m.username = ?", Value::Text(user.to_owned()));
    }
    if let Some(from) = query.get("date_from") {
        add(
            " AND m.created_at >= ?",
            Value::Text(kit::page::date("date_from", from)?.to_owned()),
        );
    }
    if let Some(to) = query.get("date_to") {
        // Inclusive: every instant of that day sorts before the next one.
        add(
            " AND m.created_at < date(?, '+1 day')",
            Value::Text(kit::page::date("date_to", to)?.to_owned()),
        );
    }
    Ok((sql, params))
}

pub fn list(db: &Connection, request: &Request, query: &Query) -> Result<Json, kit::Error> {
    let page = Page::from_query(query)?;
    let (filter, params) = filters(query)?;
    let (count, rows) = page.select(
        db,
        &format!("SELECT {COLUMNS}{FROM}{filter}"),
        "m.id DESC",
        &params,
    )?;
    page.document(
        request,
        count,
        rows.rows().map(|row| to_json(&row)).collect(),
    )
}

/// The filtered ledger as CSV (RFC 4180, UTF-8, header row), oldest first.
pub fn export(db: &Connection, query: &Query) -> Result<String, kit::Error> {
    let (filter, params) = filters(query)?;
    let rows = db.execute(
        &format!("SELECT {COLUMNS}{FROM}{filter} ORDER BY m.id LIMIT {MAX_EXPORT_ROWS}"),
        &params,
    )?;
    let fields = [
        "id",
        "created_at",
        "piece_id",
        "reference",
        "name",
        "type",
        "quantity",
        "delta",
        "level_after",
        "location_code",
        "to_location_code",
        "reason",
        "note",
        "user",
        "reverses",
    ];
    let mut csv = String::new();
    kit::csv::write_record(&mut csv, &fields);
    for row in rows.rows() {
        let movement = to_json(&row);
        let line: Vec<String> = fields
            .iter()
            .map(|f| kit::csv::json_cell(&movement[*f]))
            .collect();
        kit::csv::write_record(&mut csv, &line);
    }
    Ok(csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_parameters_and_check_dates() {
        let (sql, params) =
            filters(&Query::parse("piece_id=4&type=OUT&date_to=2026-11-25")).unwrap();
        assert!(
            sql.contains("m.piece_id = ?1")
                && sql.contains("m.type = ?2")
                && sql.contains("date(?3"),
            "{sql}"
        );
        assert_eq!(params.len(), 3);
        assert!(filters(&Query::parse("date_from=25/11/2026")).is_err());
        assert!(filters(&Query::parse("date_to=2026-02-30")).is_err());
        assert!(filters(&Query::parse("type=SIDEWAYS")).is_err());
    }

    #[test]
    fn an_empty_date_is_no_filter() {
        let (sql, params) = filters(&Query::parse("date_to=&date_from=")).unwrap();
        assert_eq!((sql.as_str(), params.len()), (" WHERE 1 = 1", 0));
    }
}
