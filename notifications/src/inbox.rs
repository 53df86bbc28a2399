//! Who sees which notification, and what they have read.
//!
//! A notification is visible to a user when it names them, or names a role
//! at or below theirs; stock alerts are addressed to managers (so managers
//! and admins get them by default) and each user may opt out of them or
//! keep only some categories. Every query below filters with the same
//! [`VISIBLE`] predicate, so no route can show or mark another user's.

use std::collections::BTreeMap;

use kit::Error;
use kit::auth::{Caller, Role};
use kit::page::{Page, Query};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::schema::NOW_SQL;

/// Visible to the user `?1` whose role rank is `?2`, preferences applied.
const VISIBLE: &str = "(n.audience_user = ?1 OR n.audience_role <= ?2) \
     AND NOT (n.type <> 'manual' AND EXISTS (SELECT 1 FROM preferences AS pr WHERE pr.user_id = ?1 \
        AND (pr.stock_alerts = 0 OR (pr.categories <> '[]' AND NOT EXISTS \
            (SELECT 1 FROM json_each(pr.categories) WHERE value = n.piece_category)))))";

const COLUMNS: &str = "n.id, n.type, n.title, n.message, n.piece_id, n.piece_reference, n.piece_name, \
     n.quantity, n.min_stock, n.audience_role, n.audience_user, n.created_at, \
     EXISTS (SELECT 1 FROM reads AS r WHERE r.notification_id = n.id AND r.user_id = ?1) AS read";

const MAX_TITLE: usize = 200;
const MAX_MESSAGE: usize = 2000;
const MAX_IDS: usize = 1000;
/// Stock alerts go to this role and above.
const STOCK_ALERT_AUDIENCE: Role = Role::Manager;

fn rank(role: Role) -> i64 {
    role as i64
}

fn caller_params(caller: &Caller) -> Vec<Value> {
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
    let count = kit::page::count(db, &format!("FROM notifications AS n{filter}"), &params)?;
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM notifications AS n{filter} ORDER BY n.id DESC LIMIT {} OFFSET {}",
            page.size,
            page.offset()
        ),
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    title: Option<String>,
    message: Option<String>,
    /// A role name: that role and above receive it.
    role: Option<String>,
    /// Or one user.
    user_id: Option<i64>,
}

pub fn send_manual(db: &Connection, caller: &Caller, input: Manual) -> Result<Json, Error> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut text = |field: &str, value: Option<String>, max: usize| {
        let value = value.unwrap_or_default().trim().to_owned();
        if value.is_empty() || value.chars().count() > max {
            errors
                .entry(field.to_owned())
                .or_default()
                .push(format!("Texte requis, {max} caractères au plus."));
        }
        value
    };
    let title = text("title", input.title, MAX_TITLE);
    let message = text("message", input.message, MAX_MESSAGE);
    let audience = match (input.role.as_deref().map(Role::parse), input.user_id) {
        (Some(Some(role)), None) => Some((Value::Integer(rank(role)), Value::Null)),
        (None, Some(user)) if user > 0 => Some((Value::Null, Value::Integer(user))),
        _ => {
            errors.entry("audience".into()).or_default().push(
                "Destinataire requis : soit \"role\" (viewer, operator, manager, admin), soit \"user_id\".".into(),
            );
            None
        }
    };
    let Some((role, user)) = audience.filter(|_| errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let created = db.execute(
        &format!(
            "INSERT INTO notifications (type, title, message, audience_role, audience_user, created_by, created_at) \
             VALUES ('manual', ?1, ?2, ?3, ?4, ?5, {NOW_SQL}) RETURNING id"
        ),
        &[Value::Text(title), Value::Text(message), role, user, Value::Text(caller.username.clone())],
    )?;
    let id = created
        .rows()
        .next()
        .and_then(|r| r.get::<i64>("id"))
        .ok_or(Error::NotFound)?;
    one_for(db, caller, id)
}

/// A threshold event from stock's outbox.
#[derive(Debug, Deserialize)]
pub struct Event {
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    piece: EventPiece,
    quantity: i64,
    min_stock: i64,
}

#[derive(Debug, Deserialize)]
struct EventPiece {
    id: i64,
    reference: String,
    name: String,
    #[serde(default)]
    category: String,
}

/// Stores the event once: `(true, it)` the first time, `(false, it)` on a
/// redelivery.
pub fn receive_event(db: &Connection, event: Event) -> Result<(bool, Json), Error> {
    let (title, message) =
        wording(&event).ok_or_else(|| Error::field("type", "Type d'alerte inconnu."))?;
    if event.event_id.trim().is_empty() {
        return Err(Error::field("event_id", "Identifiant d'événement requis."));
    }
    let inserted = db.execute(
        &format!(
            "INSERT INTO notifications (event_id, type, title, message, piece_id, piece_reference, piece_name, \
                piece_category, quantity, min_stock, audience_role, created_by, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'stock', {NOW_SQL}) \
             ON CONFLICT (event_id) DO NOTHING RETURNING id"
        ),
        &[
            Value::Text(event.event_id.clone()),
            Value::Text(event.kind.clone()),
            Value::Text(title),
            Value::Text(message),
            Value::Integer(event.piece.id),
            Value::Text(event.piece.reference),
            Value::Text(event.piece.name),
            Value::Text(event.piece.category),
            Value::Integer(event.quantity),
            Value::Integer(event.min_stock),
            Value::Integer(rank(STOCK_ALERT_AUDIENCE)),
        ],
    )?;
    let created = !inserted.rows.is_empty();
    let row = db.execute(
        "SELECT id, type, created_at FROM notifications WHERE event_id = ?1",
        &[Value::Text(event.event_id.clone())],
    )?;
    let row = row.rows().next().ok_or(Error::NotFound)?;
    Ok((
        created,
        json!({ "id": row.get::<i64>("id"), "event_id": event.event_id, "type": row.get::<&str>("type") }),
    ))
}

/// The French title and message of a stock alert.
fn wording(event: &Event) -> Option<(String, String)> {
    let (reference, name, quantity, min) = (
        &event.piece.reference,
        &event.piece.name,
        event.quantity,
        event.min_stock,
    );
    match event.kind.as_str() {
        "low_stock" => Some((
            format!("Stock bas : {reference}"),
            format!("{name} ({reference}) : {quantity} en stock, sous le minimum de {min}."),
        )),
        "out_of_stock" => Some((
            format!("Rupture de stock : {reference}"),
            format!("{name} ({reference}) est en rupture de stock (minimum {min})."),
        )),
        "back_in_stock" => Some((
            format!("Retour en stock : {reference}"),
            format!("{name} ({reference}) : {quantity} en stock, minimum {min} atteint."),
        )),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    stock_alerts: bool,
    #[serde(default)]
    categories: Vec<String>,
}

pub fn preferences(db: &Connection, caller: &Caller) -> Result<Json, Error> {
    let row = db.execute(
        "SELECT stock_alerts, categories FROM preferences WHERE user_id = ?1",
        &[Value::Integer(caller.user_id)],
    )?;
    let row = row.rows().next();
    let stock_alerts = row
        .as_ref()
        .and_then(|r| r.get::<i64>("stock_alerts"))
        .is_none_or(|v| v != 0);
    let categories: Json = row
        .as_ref()
        .and_then(|r| r.get::<&str>("categories"))
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_else(|| json!([]));
    Ok(json!({
        "stock_alerts": stock_alerts,
        "categories": categories,
        // Stock alerts are addressed to managers: below that role, opting in
        // changes nothing, and the UI says so.
        "receives_stock_alerts": stock_alerts && caller.role >= STOCK_ALERT_AUDIENCE,
    }))
}

pub fn set_preferences(
    db: &Connection,
    caller: &Caller,
    input: Preferences,
) -> Result<Json, Error> {
    let categories: Vec<String> = input
        .categories
        .into_iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if categories.len() > 100 || categories.iter().any(|c| c.chars().count() > 100) {
        return Err(Error::field(
            "categories",
            "100 catégories au plus, de 100 caractères au plus.",
        ));
    }
    db.execute(
        &format!(
            "INSERT INTO preferences (user_id, stock_alerts, categories, updated_at) VALUES (?1, ?2, ?3, {NOW_SQL}) \
             ON CONFLICT (user_id) DO UPDATE SET stock_alerts = excluded.stock_alerts, \
             categories = excluded.categories, updated_at = excluded.updated_at"
        ),
        &[
            Value::Integer(caller.user_id),
            Value::Integer(input.stock_alerts.into()),
            Value::Text(json!(categories).to_string()),
        ],
    )?;
    preferences(db, caller)
}

/// Drops notifications older than `days` (their read state goes with them).
pub fn purge(db: &Connection, days: i64) -> Result<Json, Error> {
    let purged = db.execute(
        "DELETE FROM notifications WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1) RETURNING id",
        &[Value::Text(format!("-{days} days"))],
    )?;
    Ok(json!({ "purged": purged.rows.len(), "retention_days": days }))
}

fn one_for(db: &Connection, caller: &Caller, id: i64) -> Result<Json, Error> {
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
