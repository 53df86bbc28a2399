//! Delivering threshold events to the notifications service: each event
//! was written with the movement that caused it, and is posted, with its
//! `event_id` as idempotency key, until notifications acknowledges it.
//!
//! Two paths deliver: the movement's own invocation, right after its
//! response is sent ([`deliver_due`]: no scheduler needed, so it works on
//! plain `spin up`; an event that failed is retried by the next movement's),
//! and the flush route the sidecar calls every second in the stack
//! ([`flush`]), the safety net for a quiet shop.
//! Nothing is lost while notifications is down (events wait, with a
//! growing delay between attempts) and nothing is doubled (notifications
//! dedups on the key, so two hosts flushing at once is harmless).

use serde_json::json;
use spin_sdk::http::Method;
use spin_sdk::sqlite::{Connection, Value};

use crate::schema::NOW_SQL;

const BATCH: i64 = 50;

/// Posts the due events; returns (delivered, still pending).
pub async fn flush(db: &Connection) -> Result<(i64, i64), kit::Error> {
    let delivered = deliver_due(db).await?;
    let pending = kit::page::count(db, "FROM outbox WHERE delivered_at IS NULL", &[])?;
    Ok((delivered, pending))
}

/// Posts the due events, oldest first, until one fails; how many went.
pub async fn deliver_due(db: &Connection) -> Result<i64, kit::Error> {
    let due = db.execute(
        &format!(
            "SELECT id, event_id, payload, attempts FROM outbox \
             WHERE delivered_at IS NULL AND next_attempt_at <= {NOW_SQL} ORDER BY id LIMIT ?1"
        ),
        &[Value::Integer(BATCH)],
    )?;
    let mut delivered = 0;
    for row in due.rows() {
        let (Some(id), Some(event_id), Some(payload)) = (
            row.get::<i64>("id"),
            row.get::<&str>("event_id"),
            row.get::<&str>("payload"),
        ) else {
            continue;
        };
        let attempts = row.get::<i64>("attempts").unwrap_or(0);
        match post(event_id, payload).await {
            Ok(()) => {
                db.execute(
                    &format!("UPDATE outbox SET delivered_at = {NOW_SQL}, attempts = attempts + 1 WHERE id = ?1"),
                    &[Value::Integer(id)],
                )?;
                delivered += 1;
            }
            Err(why) => {
                eprintln!(
                    "event {event_id} not delivered (attempt {}): {why}",
                    attempts + 1
                );
                db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, \
                     next_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1) WHERE id = ?2",
                    &[
                        Value::Text(format!("+{} seconds", kit::peer::backoff_secs(attempts))),
                        Value::Integer(id),
                    ],
                )?;
                // Notifications is down or failing: the other events would
                // fail the same way; they stay due for the next flush.
                break;
            }
        }
    }
    Ok(delivered)
}

async fn post(event_id: &str, payload: &str) -> Result<(), String> {
    let response = kit::peer::call(
        "notifications_url",
        Method::Post,
        "/api/notifications/internal/events/",
        &[("idempotency-key", event_id)],
        Some(payload.to_owned()),
    )
    .await?;
    match *response.status() {
        200..=299 => Ok(()),
        status => Err(format!("notifications answered {status}")),
    }
}

pub fn report(delivered: i64, pending: i64) -> serde_json::Value {
    json!({ "delivered": delivered, "pending": pending })
}
