//! Who sees which notification, and what they have read.
//!
//! A message is visible to a user when it names them, or names a role at
//! or below theirs. A stock alert reaches its kind's audience (`audience.rs`:
//! managers and up unless an admin chose otherwise) and whoever follows its
//! piece or its category; each user may turn stock alerts off, or keep only
//! some categories (`preferences.rs`). Every query here filters with the
//! same [`VISIBLE`] predicate, so no route can show or mark another user's.

use kit::Error;
use kit::auth::{Caller, Role};
use kit::page::{Page, Query};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::schema::NOW_SQL;

/// Whether the user `?1` of rank `?2` is in the audience of `n.type`.
macro_rules! in_audience {
    () => {
        "EXISTS (SELECT 1 FROM audiences AS a WHERE a.kind = n.type \
         AND (a.min_role <= ?2 OR EXISTS (SELECT 1 FROM json_each(a.users) WHERE value = ?1)))"
    };
}

/// Visible to the user `?1` whose role rank is `?2`. A message names its
/// audience. A stock alert reaches, unless they turned stock alerts off,
/// whoever follows its piece or its category, and, while they follow no
/// category, its kind's audience (`audience.rs`); without preferences,
/// that audience.
const VISIBLE: &str = concat!(
    "CASE WHEN n.type = 'manual' THEN (n.audience_user = ?1 OR n.audience_role <= ?2) \
     ELSE COALESCE((SELECT pr.stock_alerts <> 0 AND ( \
            EXISTS (SELECT 1 FROM json_each(pr.pieces) WHERE value = n.piece_id) \
            OR EXISTS (SELECT 1 FROM json_each(pr.categories) WHERE value = n.piece_category) \
            OR (pr.categories = '[]' AND ",
    in_audience!(),
    ")) FROM preferences AS pr WHERE pr.user_id = ?1), ",
    in_audience!(),
    ") END"
);

const COLUMNS: &str = "n.id, n.type, n.title, n.message, n.piece_id, n.piece_reference, n.piece_name, \
     n.quantity, n.min_stock, n.audience_role, n.audience_user, n.created_at, \
     EXISTS (SELECT 1 FROM reads AS r WHERE r.notification_id = n.id AND r.user_id = ?1) AS read";

const MAX_IDS: usize = 1000;
/// Stock alerts go to this role and above until an admin chooses.
pub const STOCK_ALERT_AUDIENCE: Role = Role::Manager;

/// How the `audience_role` column stores a role: ranks compare as roles do.
pub fn rank(role: Role) -> i64 {
    role as i64
}

pub fn caller_params(caller: &Caller) -> Vec<Value> {
    vec![
        Value::Integer(caller.user_id),
        Value::Integer(rank(caller.role)),
    ]
}

pub fn list(
    db: &Connection,
    request: &Request,
    caller: &Caller,
    query: &Query,
) -> Result<Json, Error> {
    let page = Page::from_query(query)?;
    let mut filter = format!(" WHERE {VISIBLE}");
    let mut params = caller_params(caller);
    match query.get("unread") {
        None | Some("false") => {}
        Some("true") => filter.push_str(
            " AND NOT EXISTS (SELECT 1 FROM reads AS r WHERE r.notification_id = n.id AND r.user_id = ?1)",
        ),
        Some(_) => return Err(Error::field("unread", "true ou false.")),
    }
    if let Some(kind) = query.get("type") {
        if !matches!(
            kind,
            "low_stock" | "out_of_stock" | "back_in_stock" | "manual"
        ) {
            return Err(Error::field(
                "type",
                "low_stock, out_of_stock, back_in_stock ou manual.",
            ));
        }
        filter.push_str(" AND n.type = ?3");
        params.push(Value::Text(kind.to_owned()));
    }
    let (count, rows) = page.select(
        db,
        &format!("SELECT {COLUMNS} FROM notifications AS n{filter}"),
        "n.id DESC",
        &params,
    )?;
    page.document(
        request,
        count,
        rows.rows().map(|row| to_json(&row)).collect(),
    )
}

pub fn unread_count(db: &Connection, caller: &Caller) -> Result<Json, Error> {
    let count = kit::page::count(
        db,
        &format!(
            "FROM notifications AS n WHERE {VISIBLE} AND NOT EXISTS \
             (SELECT 1 FROM reads AS r WHERE r.notification_id = n.id AND r.user_id = ?1)"
        ),
        &caller_params(caller),
    )?;
    Ok(json!({ "unread": count }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    #[serde(default)]
    ids: Option<Vec<i64>>,
    #[serde(default)]
    all: bool,
}

/// Marks the caller's own notifications read; ids of others' (or unknown
/// ones) are ignored, and marking twice changes nothing.
pub fn mark_read(db: &Connection, caller: &Caller, input: MarkRead) -> Result<Json, Error> {
    let mut params = caller_params(caller);
    let which = match (input.all, input.ids) {
        (true, None) => String::new(),
        (false, Some(ids)) if ids.len() <= MAX_IDS => {
            params.push(Value::Text(json!(ids).to_string()));
            " AND n.id IN (SELECT value FROM json_each(?3))".to_owned()
        }
        (false, Some(_)) => {
            return Err(Error::field(
                "ids",
                format!("{MAX_IDS} identifiants au plus."),
            ));
        }
        _ => {
            return Err(Error::BadRequest(
                "Indiquez soit {\"ids\": [...]}, soit {\"all\": true}.".into(),
            ));
        }
    };
    let marked = db.execute(
        &format!(
            "INSERT OR IGNORE INTO reads (notification_id, user_id, read_at) \
             SELECT n.id, ?1, {NOW_SQL} FROM notifications AS n WHERE {VISIBLE}{which} \
             RETURNING notification_id"
        ),
        &params,
    )?;
    Ok(json!({ "marked": marked.rows.len() }))
}

/// Drops notifications older than `days` (their read state goes with them).
pub fn purge(db: &Connection, days: i64) -> Result<Json, Error> {
    let purged = db.execute(
        "DELETE FROM notifications WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1) RETURNING id",
        &[Value::Text(format!("-{days} days"))],
    )?;
    Ok(json!({ "purged": purged.rows.len(), "retention_days": days }))
}

/// Notification `id` as `caller` sees it.
pub fn one_for(db: &Connection, caller: &Caller, id: i64) -> Result<Json, Error> {
    let mut params = caller_params(caller);
    params.push(Value::Integer(id));
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM notifications AS n WHERE n.id = ?3"),
        &params,
    )?;
    rows.rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(Error::NotFound)
}

fn to_json(row: &Row<'_>) -> Json {
    let piece = row.get::<i64>("piece_id").map(|id| {
        json!({ "id": id, "reference": row.get::<&str>("piece_reference"), "name": row.get::<&str>("piece_name") })
    });
    let audience = match (
        row.get::<i64>("audience_role"),
        row.get::<i64>("audience_user"),
    ) {
        (Some(rank), _) => json!({ "role": role_name(rank) }),
        (None, user) => json!({ "user_id": user }),
    };
    json!({
        "id": row.get::<i64>("id"),
        "type": row.get::<&str>("type"),
        "title": row.get::<&str>("title"),
        "message": row.get::<&str>("message"),
        "piece": piece,
        "quantity": row.get::<i64>("quantity"),
        "min_stock": row.get::<i64>("min_stock"),
        "created_at": row.get::<&str>("created_at"),
        "audience": audience,
        "read": row.get::<i64>("read").is_some_and(|r| r != 0),
    })
}

fn role_name(value: i64) -> &'static str {
    [Role::Viewer, Role::Operator, Role::Manager, Role::Admin]
        .into_iter()
        .find(|role| rank(*role) == value)
        .map_or("admin", Role::as_str)
}
