//! `GET /api/pieces/audit/`: who created, changed, archived or deleted which
//! piece, when, and each changed field before and after. The schema's
//! triggers write the trail in the statement that makes the change, with
//! the piece before and after; the differences are taken here, when read.

use serde_json::{Map, Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use kit::page::{Page, Query};

const SELECT: &str =
    "SELECT id, piece_id, action, username, at, before, after FROM audit WHERE 1 = 1";

/// Newest first; filters `piece_id`, `user`, `date_from`, `date_to`.
pub fn list(db: &Connection, request: &Request, query: &Query) -> Result<Json, kit::Error> {
    let page = Page::from_query(query)?;
    let mut sql = String::from(SELECT);
    let mut params = Vec::new();
    if let Some(raw) = query.get("piece_id") {
        let id = raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| kit::Error::field("piece_id", "Identifiant de pièce invalide."))?;
        sql.push_str(" AND piece_id = ?");
        params.push(Value::Integer(id));
    }
    if let Some(user) = query.get("user") {
        sql.push_str(" AND username = ?");
        params.push(Value::Text(user.to_owned()));
    }
    if let Some(from) = query.get("date_from") {
        sql.push_str(" AND at >= ?");
        params.push(Value::Text(kit::page::date("date_from", from)?.to_owned()));
    }
    if let Some(to) = query.get("date_to") {
        // Inclusive: every instant of that day sorts before the next one.
        sql.push_str(" AND at < date(?, '+1 day')");
        params.push(Value::Text(kit::page::date("date_to", to)?.to_owned()));
    }
    let (count, rows) = page.select(db, &sql, "id DESC", &params)?;
    page.document(request, count, rows.rows().map(|row| entry(&row)).collect())
}

fn entry(row: &Row) -> Json {
    let snapshot = |name: &str| -> Map<String, Json> {
        row.get::<&str>(name)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    };
    let (before, after) = (snapshot("before"), snapshot("after"));
    let reference = after
        .get("reference")
        .or_else(|| before.get("reference"))
        .cloned()
        .unwrap_or(Json::Null);
    json!({
        "id": row.get::<i64>("id"),
        "piece_id": row.get::<i64>("piece_id"),
        "reference": reference,
        "action": row.get::<&str>("action"),
        "user": row.get::<&str>("username"),
        "at": row.get::<&str>("at"),
        "changes": kit::audit::changes(&before, &after),
    })
}
