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
const MAX_CATEGORIES: usize = 100;
const MAX_CATEGORY: usize = 100;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    title: Option<String>,
    message: Option<String>,
    /// A role name: that role and above receive it. `null` is not "absent":
    /// it is refused, as any other value that names no role.
    #[serde(default, deserialize_with = "present")]
    role: Option<Json>,
    /// Or one user (a positive integer; `null` is refused likewise).
    #[serde(default, deserialize_with = "present")]
    user_id: Option<Json>,
}

/// A member that is there, `null` included: `Option<Json>` alone would read
/// `null` as absent.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(deserializer).map(Some)
}

/// A message that passed validation: its texts, trimmed, and its audience as
/// the `audience_role` and `audience_user` columns hold it.
#[derive(Debug, PartialEq)]
struct Message {
    title: String,
    message: String,
    role: Option<Role>,
    user: Option<i64>,
}

impl Manual {
    /// Every field checked, every problem reported at once: the texts, each
    /// recipient field's own type, then exactly one recipient.
    fn validate(self) -> Result<Message, Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut fail = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_default().push(message);
        };
        let mut text = |field: &str, value: Option<String>, max: usize| {
            let value = value.unwrap_or_default().trim().to_owned();
            if value.is_empty() || value.chars().count() > max {
                fail(field, format!("Texte requis, {max} caractères au plus."));
            }
            value
        };
        let title = text("title", self.title, MAX_TITLE);
        let message = text("message", self.message, MAX_MESSAGE);
        let role = self.role.as_ref().map(|value| {
            let role = value.as_str().and_then(Role::parse);
            if role.is_none() {
                fail(
                    "role",
                    "Rôle inconnu : viewer, operator, manager ou admin.".into(),
                );
            }
            role
        });
        let user = self.user_id.as_ref().map(|value| {
            let user = value.as_i64().filter(|id| *id > 0);
            if user.is_none() {
                fail(
                    "user_id",
                    "Identifiant d'utilisateur attendu : un entier positif.".into(),
                );
            }
            user
        });
        if role.is_some() == user.is_some() {
            fail(
                "audience",
                "Destinataire requis : soit \"role\" (viewer, operator, manager, admin), soit \"user_id\", pas les deux.".into(),
            );
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(Message {
            title,
            message,
            role: role.flatten(),
            user: user.flatten(),
        })
    }
}

pub fn send_manual(db: &Connection, caller: &Caller, input: Manual) -> Result<Json, Error> {
    let checked = input.validate()?;
    let role = checked
        .role
        .map_or(Value::Null, |role| Value::Integer(rank(role)));
    let user = checked.user.map_or(Value::Null, Value::Integer);
    let created = db.execute(
        &format!(
            "INSERT INTO notifications (type, title, message, audience_role, audience_user, created_by, created_at) \
             VALUES ('manual', ?1, ?2, ?3, ?4, ?5, {NOW_SQL}) RETURNING id"
        ),
        &[Value::Text(checked.title), Value::Text(checked.message), role, user, Value::Text(caller.username.clone())],
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
    let categories = input.categories()?;
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

impl Preferences {
    /// The categories to keep, trimmed, empty ones dropped. The bounds apply
    /// to the list as sent (the document's `maxItems` and `maxLength`): a
    /// list too long is refused even if blanks would have brought it under.
    fn categories(&self) -> Result<Vec<String>, Error> {
        if self.categories.len() > MAX_CATEGORIES
            || self
                .categories
                .iter()
                .any(|c| c.chars().count() > MAX_CATEGORY)
        {
            return Err(Error::field(
                "categories",
                format!(
                    "{MAX_CATEGORIES} catégories au plus, de {MAX_CATEGORY} caractères au plus \
                     (espaces compris)."
                ),
            ));
        }
        Ok(self
            .categories
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn manual(body: Json) -> Result<Message, Error> {
        serde_json::from_value::<Manual>(body)
            .expect("the input shape")
            .validate()
    }

    fn fields(result: Result<Message, Error>) -> Vec<String> {
        match result {
            Err(Error::Validation(errors)) => errors.into_keys().collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_message_goes_to_a_role_or_to_a_user() {
        let to_role =
            manual(json!({"title": " Inventaire ", "message": "Vendredi", "role": "operator"}))
                .expect("valid");
        assert_eq!(
            (to_role.title.as_str(), to_role.role, to_role.user),
            ("Inventaire", Some(Role::Operator), None)
        );
        let to_user = manual(json!({"title": "a", "message": "b", "user_id": 7})).expect("valid");
        assert_eq!((to_user.role, to_user.user), (None, Some(7)));
    }

    #[test]
    fn a_null_recipient_is_refused_not_read_as_absent() {
        assert_eq!(
            fields(manual(
                json!({"title": "a", "message": "b", "role": "operator", "user_id": null})
            )),
            ["audience", "user_id"]
        );
        assert_eq!(
            fields(manual(
                json!({"title": "a", "message": "b", "role": null, "user_id": 7})
            )),
            ["audience", "role"]
        );
    }

    #[test]
    fn exactly_one_recipient_of_the_right_type() {
        assert_eq!(
            fields(manual(json!({"title": "a", "message": "b"}))),
            ["audience"]
        );
        assert_eq!(
            fields(manual(
                json!({"title": "a", "message": "b", "role": "viewer", "user_id": 3})
            )),
            ["audience"]
        );
        for (field, value) in [
            ("role", json!("chef")),
            ("role", json!(3)),
            ("user_id", json!(0)),
            ("user_id", json!(-4)),
            ("user_id", json!("7")),
            ("user_id", json!(1.5)),
        ] {
            let mut body = json!({"title": "a", "message": "b"});
            body[field] = value.clone();
            assert_eq!(fields(manual(body)), [field], "{field} = {value}");
        }
        assert_eq!(
            fields(manual(
                json!({"title": "  ", "message": "", "role": "admin"})
            )),
            ["message", "title"]
        );
    }

    #[test]
    fn the_documented_examples_are_valid() {
        let document: Json = serde_json::from_str(crate::SERVICE.openapi).expect("JSON");
        let examples = document["paths"]["/api/notifications/"]["post"]["requestBody"]["content"]
            ["application/json"]["examples"]
            .as_object()
            .expect("examples");
        for (name, example) in examples {
            assert!(manual(example["value"].clone()).is_ok(), "{name}");
        }
        let example = document["paths"]["/api/notifications/preferences/"]["put"]["requestBody"]
            ["content"]["application/json"]["example"]
            .clone();
        let input: Preferences = serde_json::from_value(example).expect("the input shape");
        assert!(input.categories().is_ok());
    }

    fn preferences(categories: Vec<String>) -> Preferences {
        Preferences {
            stock_alerts: true,
            categories,
        }
    }

    #[test]
    fn categories_are_bounded_as_sent() {
        let blanks = preferences(vec![String::new(); MAX_CATEGORIES + 1]);
        assert_eq!(blanks.categories().map_err(|e| e.status()), Err(400));
        let padded = preferences(vec![format!(" {}", "x".repeat(MAX_CATEGORY))]);
        assert_eq!(padded.categories().map_err(|e| e.status()), Err(400));
        let most = preferences(vec!["x".repeat(MAX_CATEGORY); MAX_CATEGORIES]);
        assert_eq!(
            most.categories().ok().map(|c| c.len()),
            Some(MAX_CATEGORIES)
        );
    }

    #[test]
    fn categories_are_trimmed_and_blanks_dropped() {
        let sent = preferences(vec![
            " Visserie ".into(),
            "".into(),
            "  ".into(),
            "Outils".into(),
        ]);
        assert_eq!(
            sent.categories().ok(),
            Some(vec!["Visserie".to_owned(), "Outils".to_owned()])
        );
    }
}
