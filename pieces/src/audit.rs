//! `GET /api/pieces/audit/`: who created, changed, archived or deleted which
//! piece, when, and each changed field before and after. The schema's
//! triggers write the trail in the statement that makes the change, with
//! the piece before and after; the differences are taken here, when read.

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row};

use kit::audit::snapshot;
use kit::page::{Page, Query};

const SELECT: &str =
    "SELECT id, piece_id, action, username, at, before, after FROM audit WHERE 1 = 1";

/// Newest first; filters `piece_id`, `user`, `date_from`, `date_to`.
pub fn list(db: &Connection, request: &Request, query: &Query) -> Result<Json, kit::Error> {
    let page = Page::from_query(query)?;
    let (filters, params) =
        kit::audit::filters(query, ("piece_id", "piece_id"), ("user", "username"))?;
    let (count, rows) = page.select(db, &format!("{SELECT}{filters}"), "id DESC", &params)?;
    page.document(request, count, rows.rows().map(|row| entry(&row)).collect())
}

fn entry(row: &Row) -> Json {
    let (before, after) = (snapshot(row, "before"), snapshot(row, "after"));
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
