//! `GET /api/auth/audit/` (admin): who created which account, and who
//! changed its role, its active flag or its password, when, with each
//! changed value before and after (a password only as "changed"). The
//! schema's triggers write the trail in the statement that makes the change.

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row};

use kit::Error;
use kit::audit::snapshot;
use kit::page::{Page, Query};

const SELECT: &str = "SELECT id, user_id, username, action, actor, at, before, after, password_changed \
     FROM user_audit WHERE 1 = 1";

/// Newest first; filters `user_id` (the account), `actor` (who changed it),
/// `date_from`, `date_to`.
pub fn list(db: &Connection, request: &Request) -> Result<Json, Error> {
    let query = Query::parse(request.query());
    let page = Page::from_query(&query)?;
    let (filters, params) =
        kit::audit::filters(&query, ("user_id", "user_id"), ("actor", "actor"))?;
    let (count, rows) = page.select(db, &format!("{SELECT}{filters}"), "id DESC", &params)?;
    page.document(request, count, rows.rows().map(|row| entry(&row)).collect())
}

fn entry(row: &Row) -> Json {
    let mut changes = kit::audit::changes(&snapshot(row, "before"), &snapshot(row, "after"));
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
