//! `GET /api/auth/audit/` (admin): who created which account, and who
//! changed its role, its active flag or its password, when, with each
//! changed value before and after (a password only as "changed"). The
//! schema's triggers write the trail in the statement that makes the change.

use serde_json::{Map, Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use kit::Error;
use kit::page::{Page, Query};

const SELECT: &str = "SELECT id, user_id, username, action, actor, at, before, after, password_changed \
     FROM user_audit WHERE 1 = 1";

/// Newest first; filters `user_id` (the account), `actor` (who changed it),
/// `date_from`, `date_to`.
pub fn list(db: &Connection, request: &Request) -> Result<Json, Error> {
    let query = Query::parse(request.query());
    let page = Page::from_query(&query)?;
    let mut sql = String::from(SELECT);
    let mut params = Vec::new();
    if let Some(raw) = query.get("user_id") {
        let id = raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Error::field("user_id", "Identifiant d'utilisateur invalide."))?;
        sql.push_str(" AND user_id = ?");
        params.push(Value::Integer(id));
    }
    if let Some(actor) = query.get("actor") {
        sql.push_str(" AND actor = ?");
        params.push(Value::Text(actor.to_owned()));
    }
    if let Some(from) = query.get("date_from") {
        sql.push_str(" AND at >= ?");
        params.push(Value::Text(kit::page::date("date_from", from)?.to_owned()));
    }
    if let Some(to) = query.get("date_to") {
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
    let mut changes = kit::audit::changes(&snapshot("before"), &snapshot("after"));
    if row.get::<i64>("password_changed") == Some(1) {
        changes["password"] = json!({ "before": null, "after": "modifié" });
    }
    json!({
        "id": row.get::<i64>("id"),
        "user_id": row.get::<i64>("user_id"),
        "username": row.get::<&str>("username"),
        "action": row.get::<&str>("action"),
        "actor": row.get::<&str>("actor"),
        "at": row.get::<&str>("at"),
        "changes": changes,
    })
}
