//! Outgoing webhooks. An admin subscribes URLs to kinds of event: the
//! three stock alerts, `movement` (a movement recorded) and `piece_changed`
//! (a catalogue change). Each event that reaches notifications becomes one
//! delivery per subscribed webhook, written in one statement and unique per
//! webhook and event, then sent as a signed JSON POST until the receiver
//! answers 2xx: right after the response that brought the event, and by the
//! sidecar's flush every second, with backoff. A delivery is claimed before
//! it is sent, so two flushes at once send it once; a receiver that
//! acknowledged but whose answer was lost gets it again, with the same
//! `X-Webhook-Id`: receivers deduplicate on it.
//!
//! The body is `{id, type, occurred_at, data}`; `X-Webhook-Signature` is
//! `sha256=` and the hex HMAC-SHA256, keyed by the webhook's secret, of
//! `X-Webhook-Timestamp` (Unix seconds), a dot, and the body.
//!
//! The hosts a webhook may reach are the component's
//! `allowed_outbound_hosts` (the `webhook_hosts` variable, a name that never
//! resolves by default); a delivery to another host fails and says so in
//! the log.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use kit::Error;
use kit::auth::Caller;
use kit::page::{Page, Query};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use sha2::Sha256;
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::schema::NOW_SQL;

/// What a webhook may subscribe to.
pub const KINDS: [&str; 5] = [
    "low_stock",
    "out_of_stock",
    "back_in_stock",
    "movement",
    "piece_changed",
];
/// The events stock sends for the webhooks only (not notifications).
pub const FORWARDED: [&str; 2] = ["movement", "piece_changed"];
const MAX_URL: usize = 2000;
const MAX_NAME: usize = 100;
/// Deliveries one run sends at most; the rest go with the next.
const BATCH: i64 = 20;
/// How long a claimed delivery waits before another run may take it (a run
/// that died mid-send).
const LEASE_SECS: i64 = 60;
/// The longest wait between two attempts: a receiver back after a long
/// outage gets its deliveries within the hour.
const MAX_BACKOFF_SECS: i64 = 3600;

const COLUMNS: &str = "w.id, w.name, w.url, w.events, w.active, w.created_by, w.created_at, \
     (SELECT count(*) FROM deliveries AS d WHERE d.webhook_id = w.id AND d.delivered_at IS NULL) AS pending, \
     (SELECT json_object('at', COALESCE(d.delivered_at, d.last_attempt_at), 'status', d.last_status, \
         'error', d.last_error, 'delivered', d.delivered_at IS NOT NULL) \
      FROM deliveries AS d WHERE d.webhook_id = w.id AND d.last_attempt_at IS NOT NULL \
      ORDER BY d.last_attempt_at DESC LIMIT 1) AS last_delivery";

/// A webhook as an admin writes it: every field for a creation, any for a
/// change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    active: Option<bool>,
}

/// A field that may be absent but, when present, is never `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

struct Checked {
    name: Option<String>,
    url: Option<String>,
    events: Option<String>,
    active: Option<bool>,
}

impl Input {
    /// Every error at once, by field; `creating` requires url and events.
    fn checked(self, creating: bool) -> Result<Checked, Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut fail = |field: &str, why: &str| {
            errors
                .entry(field.to_owned())
                .or_default()
                .push(why.to_owned())
        };
        if creating && self.url.is_none() {
            fail("url", "Adresse requise.");
        }
        if creating && self.events.is_none() {
            fail("events", "Au moins un événement.");
        }
        if let Some(name) = &self.name
            && name.chars().count() > MAX_NAME
        {
            fail("name", "100 caractères au plus.");
        }
        if let Some(url) = &self.url
            && let Err(why) = check_url(url)
        {
            fail("url", why);
        }
        let mut kinds = Vec::new();
        if let Some(events) = &self.events {
            if events.is_empty() || events.iter().any(|e| !KINDS.contains(&e.as_str())) {
                fail(
                    "events",
                    "Parmi low_stock, out_of_stock, back_in_stock, movement, piece_changed ; un au moins.",
                );
            }
            kinds = KINDS
                .iter()
                .filter(|kind| events.iter().any(|e| e == *kind))
                .copied()
                .collect();
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(Checked {
            name: self.name.map(|n| n.trim().to_owned()),
            url: self.url.map(|u| u.trim().to_owned()),
            events: self.events.map(|_| json!(kinds).to_string()),
            active: self.active,
        })
    }
}

/// An absolute `http` or `https` URL with a host, no credentials, no space.
fn check_url(url: &str) -> Result<(), &'static str> {
    // The length as sent, as the document's `maxLength` counts it.
    let long = url.chars().count() > MAX_URL;
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("Adresse http:// ou https:// attendue.")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if long
        || authority.is_empty()
        || authority.contains('@')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(
            "Adresse http:// ou https:// avec un hôte, sans identifiants ni espace, de 2000 caractères au plus.",
        );
    }
    Ok(())
}

pub fn list(db: &Connection) -> Result<Json, Error> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM webhooks AS w ORDER BY w.id"),
        &[],
    )?;
    Ok(Json::Array(rows.rows().map(|row| to_json(&row)).collect()))
}

fn one(db: &Connection, id: i64) -> Result<Json, Error> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM webhooks AS w WHERE w.id = ?1"),
        &[Value::Integer(id)],
    )?;
    rows.rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(Error::NotFound)
}

/// A new webhook and its secret, shown this once.
pub fn create(db: &Connection, caller: &Caller, input: Input) -> Result<Json, Error> {
    let input = input.checked(true)?;
    let secret = new_secret()?;
    let created = db.execute(
        &format!(
            "INSERT INTO webhooks (name, url, events, secret, active, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, {NOW_SQL}, {NOW_SQL}) RETURNING id"
        ),
        &[
            Value::Text(input.name.unwrap_or_default()),
            Value::Text(input.url.unwrap_or_default()),
            Value::Text(input.events.unwrap_or_default()),
            Value::Text(secret.clone()),
            Value::Integer(input.active.unwrap_or(true).into()),
            Value::Text(caller.username.clone()),
        ],
    )?;
    let id = created
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("id"))
        .ok_or_else(|| Error::Internal("the insert returned no id".into()))?;
    let mut webhook = one(db, id)?;
    webhook["secret"] = json!(secret);
    Ok(webhook)
}

pub fn update(db: &Connection, id: i64, input: Input) -> Result<Json, Error> {
    let input = input.checked(false)?;
    let changed = db.execute(
        &format!(
            "UPDATE webhooks SET name = COALESCE(?2, name), url = COALESCE(?3, url), \
                 events = COALESCE(?4, events), active = COALESCE(?5, active), updated_at = {NOW_SQL} \
             WHERE id = ?1 RETURNING id"
        ),
        &[
            Value::Integer(id),
            input.name.map_or(Value::Null, Value::Text),
            input.url.map_or(Value::Null, Value::Text),
            input.events.map_or(Value::Null, Value::Text),
            input
                .active
                .map_or(Value::Null, |a| Value::Integer(a.into())),
        ],
    )?;
    if changed.rows.is_empty() {
        return Err(Error::NotFound);
    }
    one(db, id)
}

/// Deletes the webhook; its deliveries go with it (the schema's trigger).
pub fn delete(db: &Connection, id: i64) -> Result<(), Error> {
    let deleted = db.execute(
        "DELETE FROM webhooks WHERE id = ?1 RETURNING id",
        &[Value::Integer(id)],
    )?;
    if deleted.rows.is_empty() {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// The webhook's deliveries, newest first, paginated.
pub fn deliveries(
    db: &Connection,
    request: &spin_sdk::http::Request,
    id: i64,
    query: &Query,
) -> Result<Json, Error> {
    one(db, id)?;
    let page = Page::from_query(query)?;
    let (count, rows) = page.select(
        db,
        "SELECT id, event_id, kind, attempts, created_at, last_attempt_at, next_attempt_at, \
             delivered_at, last_status, last_error FROM deliveries WHERE webhook_id = ?1",
        "id DESC",
        &[Value::Integer(id)],
    )?;
    let results = rows
        .rows()
        .map(|row| {
            json!({
                "id": row.get::<i64>("id"),
                "event_id": row.get::<&str>("event_id"),
                "type": row.get::<&str>("kind"),
                "attempts": row.get::<i64>("attempts"),
                "created_at": row.get::<&str>("created_at"),
                "last_attempt_at": row.get::<&str>("last_attempt_at"),
                "next_attempt_at": row.get::<&str>("delivered_at").is_none().then(|| row.get::<&str>("next_attempt_at")).flatten(),
                "delivered_at": row.get::<&str>("delivered_at"),
                "last_status": row.get::<i64>("last_status"),
                "last_error": row.get::<&str>("last_error"),
            })
        })
        .collect();
    page.document(request, count, results)
}

/// `event` (`event_id`, `type`, and what it says) to every active webhook
/// subscribed to its type, once per webhook: a redelivered event adds
/// nothing. How many deliveries it made.
pub fn record(db: &Connection, event: &Json) -> Result<usize, Error> {
    let (Some(event_id), Some(kind)) = (event["event_id"].as_str(), event["type"].as_str()) else {
        return Err(Error::field(
            "event_id",
            "Identifiant et type d'événement requis.",
        ));
    };
    let occurred_at = event["occurred_at"].as_str().map(str::to_owned);
    let mut data = event.clone();
    if let Some(fields) = data.as_object_mut() {
        for envelope in ["event_id", "type", "occurred_at"] {
            fields.remove(envelope);
        }
    }
    enqueue(db, None, event_id, kind, occurred_at, &data)
}

/// A `test` delivery to webhook `id`, whatever it subscribes to.
pub fn test(db: &Connection, caller: &Caller, id: i64) -> Result<Json, Error> {
    one(db, id)?;
    let event_id = format!("test-{}", hex(&random::<8>()?));
    let data =
        json!({ "message": "Essai du webhook de Gestion de stock.", "sent_by": caller.username });
    enqueue(db, Some(id), &event_id, "test", None, &data)?;
    Ok(json!({ "event_id": event_id }))
}

fn enqueue(
    db: &Connection,
    only: Option<i64>,
    event_id: &str,
    kind: &str,
    occurred_at: Option<String>,
    data: &Json,
) -> Result<usize, Error> {
    let inserted = db.execute(
        &format!(
            "INSERT INTO deliveries (webhook_id, event_id, kind, payload, attempts, created_at, next_attempt_at) \
             SELECT w.id, ?1, ?2, json_object('id', ?1, 'type', ?2, 'occurred_at', COALESCE(?3, {NOW_SQL}), \
                 'data', json(?4)), 0, {NOW_SQL}, {NOW_SQL} \
             FROM webhooks AS w \
             WHERE CASE WHEN ?5 IS NULL THEN w.active AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?2) \
                   ELSE w.id = ?5 END \
             ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id"
        ),
        &[
            Value::Text(event_id.to_owned()),
            Value::Text(kind.to_owned()),
            occurred_at.map_or(Value::Null, Value::Text),
            Value::Text(data.to_string()),
            only.map_or(Value::Null, Value::Integer),
        ],
    )?;
    Ok(inserted.rows.len())
}

/// Sends the due deliveries, claimed first; how many were acknowledged, and
/// how many wait.
pub async fn deliver_due(db: &Connection) -> Result<(i64, i64), Error> {
    let claimed = db.execute(
        &format!(
            "UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = {NOW_SQL}, \
                 next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+{LEASE_SECS} seconds') \
             WHERE id IN (SELECT id FROM deliveries WHERE delivered_at IS NULL \
                 AND next_attempt_at <= {NOW_SQL} ORDER BY id LIMIT {BATCH}) \
             RETURNING id, webhook_id, event_id, kind, payload, attempts"
        ),
        &[],
    )?;
    let mut delivered = 0;
    for row in claimed.rows() {
        let (Some(id), Some(webhook), Some(payload)) = (
            row.get::<i64>("id"),
            row.get::<i64>("webhook_id"),
            row.get::<&str>("payload"),
        ) else {
            continue;
        };
        let target = db.execute(
            "SELECT url, secret FROM webhooks WHERE id = ?1",
            &[Value::Integer(webhook)],
        )?;
        let Some((url, secret)) = target.rows().next().and_then(|t| {
            Some((
                t.get::<&str>("url")?.to_owned(),
                t.get::<&str>("secret")?.to_owned(),
            ))
        }) else {
            continue;
        };
        let (url, secret) = (url.as_str(), secret.as_str());
        let attempt = Attempt {
            event_id: row.get::<&str>("event_id").unwrap_or_default(),
            kind: row.get::<&str>("kind").unwrap_or_default(),
            url,
            secret,
            body: payload,
        };
        let outcome = attempt.send().await;
        if outcome.acknowledged() {
            delivered += 1;
        } else {
            eprintln!(
                "webhook delivery {id} to {url}: {}",
                outcome.error.as_deref().unwrap_or("refused")
            );
        }
        record_outcome(db, id, row.get::<i64>("attempts").unwrap_or(1), &outcome)?;
    }
    let pending = kit::page::count(db, "FROM deliveries WHERE delivered_at IS NULL", &[])?;
    Ok((delivered, pending))
}

/// One delivery on its way.
struct Attempt<'a> {
    event_id: &'a str,
    kind: &'a str,
    url: &'a str,
    secret: &'a str,
    body: &'a str,
}

/// What the receiver answered, or why nothing came back.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
}

impl Outcome {
    fn acknowledged(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl Attempt<'_> {
    async fn send(&self) -> Outcome {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let request = Request::builder()
            .method(Method::Post)
            .uri(self.url)
            .header("content-type", "application/json")
            // A length rather than chunks: the simplest receivers read it.
            .header("content-length", self.body.len().to_string())
            .header("user-agent", "gestion-de-stock-webhooks")
            .header("x-webhook-id", self.event_id)
            .header("x-webhook-event", self.kind)
            .header("x-webhook-timestamp", timestamp.as_str())
            .header(
                "x-webhook-signature",
                format!("sha256={}", sign(self.secret, &timestamp, self.body)),
            )
            .body(self.body.to_owned())
            .build();
        match spin_sdk::http::send::<_, Response>(request).await {
            Ok(response) => {
                let status = *response.status();
                Outcome {
                    status: Some(status),
                    error: (!(200..300).contains(&status)).then(|| format!("réponse {status}")),
                }
            }
            // spin-sdk writes the body before it reads the answer: a host
            // that `allowed_outbound_hosts` denies, or one that cannot be
            // reached, shows as the body's stream closed.
            Err(e) => Outcome {
                status: None,
                error: Some(format!(
                    "pas de réponse : hôte injoignable ou non permis par webhook_hosts ({e})"
                )),
            },
        }
    }
}

fn record_outcome(db: &Connection, id: i64, attempts: i64, outcome: &Outcome) -> Result<(), Error> {
    let status = outcome
        .status
        .map_or(Value::Null, |s| Value::Integer(s.into()));
    let error = outcome
        .error
        .as_ref()
        .map_or(Value::Null, |e| Value::Text(e.chars().take(500).collect()));
    if outcome.acknowledged() {
        db.execute(
            &format!(
                "UPDATE deliveries SET delivered_at = {NOW_SQL}, last_status = ?2, last_error = NULL \
                 WHERE id = ?1"
            ),
            &[Value::Integer(id), status],
        )?;
    } else {
        // 1 s after the first failure, doubling, at most an hour.
        let wait = (1_i64 << (attempts - 1).clamp(0, 12)).min(MAX_BACKOFF_SECS);
        db.execute(
            "UPDATE deliveries SET last_status = ?2, last_error = ?3, \
                 next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?4 || ' seconds') \
             WHERE id = ?1",
            &[Value::Integer(id), status, error, Value::Integer(wait)],
        )?;
    }
    Ok(())
}

/// Hex HMAC-SHA256 of `timestamp.body` under `secret`.
pub fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn new_secret() -> Result<String, Error> {
    Ok(format!("whsec_{}", hex(&random::<32>()?)))
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(e.to_string().into()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an active webhook wants movements, and catalogue changes: stock
/// sends those events only while one does.
pub fn wanted(db: &Connection) -> Result<Json, Error> {
    let wants = |kind: &str| -> Result<bool, Error> {
        Ok(kit::page::count(
            db,
            "FROM webhooks AS w WHERE w.active AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?1)",
            &[Value::Text(kind.to_owned())],
        )? > 0)
    };
    Ok(json!({ "movements": wants("movement")?, "pieces": wants("piece_changed")? }))
}

/// Tells stock which events to send; `Err` when stock did not take it.
pub async fn tell_stock(db: &Connection) -> Result<(), String> {
    let wanted = wanted(db).map_err(|e| e.to_string())?;
    let response = kit::peer::call(
        "stock_url",
        Method::Put,
        "/api/stock/internal/forwarding/",
        &[],
        Some(wanted.to_string()),
    )
    .await?;
    match *response.status() {
        200 => Ok(()),
        status => Err(format!("stock answered {status}")),
    }
}

/// Delivered deliveries older than `days` go (the hourly purge).
pub fn purge(db: &Connection, days: i64) -> Result<usize, Error> {
    let purged = db.execute(
        "DELETE FROM deliveries WHERE delivered_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?1 || ' days') \
         RETURNING id",
        &[Value::Integer(days)],
    )?;
    Ok(purged.rows.len())
}

fn to_json(row: &Row<'_>) -> Json {
    let events: Json = row
        .get::<&str>("events")
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_else(|| json!([]));
    let last: Json = row
        .get::<&str>("last_delivery")
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Json::Null);
    json!({
        "id": row.get::<i64>("id"),
        "name": row.get::<&str>("name"),
        "url": row.get::<&str>("url"),
        "events": events,
        "active": row.get::<i64>("active").is_some_and(|a| a != 0),
        "created_by": row.get::<&str>("created_by"),
        "created_at": row.get::<&str>("created_at"),
        "pending": row.get::<i64>("pending").unwrap_or(0),
        "last_delivery": last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"id":"ledger-1"}', sha256)
        assert_eq!(
            sign("whsec_test", "1700000000", r#"{"id":"ledger-1"}"#),
            "602a273ff4a1b0e3ce68a7799fff483f123d1425cee49ac2f9313e5628ebd446"
        );
    }

    #[test]
    fn a_field_may_be_absent_but_never_null() {
        let absent: Input = serde_json::from_value(json!({})).expect("absent fields");
        assert!(absent.name.is_none() && absent.active.is_none());
        for null in ["name", "url", "events", "active"] {
            let sent = json!({ null: null });
            assert!(serde_json::from_value::<Input>(sent).is_err(), "{null}");
        }
        let missing = serde_json::from_value::<Input>(json!({"name": "x"}))
            .expect("a name")
            .checked(true);
        assert_eq!(missing.err().map(|e| e.status()), Some(400));
    }

    #[test]
    fn urls_need_a_scheme_and_a_host_and_nothing_hidden() {
        assert!(check_url("https://chat.example.com/hooks/abc?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:9000/").is_ok());
        let padded = format!(" https://e.com/{} ", "a".repeat(MAX_URL - 15));
        assert!(check_url(&padded).is_err(), "the length counts as sent");
        for bad in [
            "ftp://example.com/",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            "example.com/hook",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
