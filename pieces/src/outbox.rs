//! Telling stock of every catalogue change, reliably. The schema's triggers
//! write each change to `outbox` in the statement that makes it; this
//! module sends them to stock in order (`POST
//! /api/stock/internal/catalogue/`), oldest first, in batches that fit
//! stock's JSON body limit, and deletes what stock acknowledged.
//!
//! It runs right after the response of each write, in the same invocation
//! (Spin keeps the instance until the handler returns), and, in the stack,
//! every second from the sidecar, so that changes held while stock was down
//! go as soon as it is back. Two deliveries at once, or one repeated after
//! a lost acknowledgement, send some changes twice: stock keeps the newest
//! version of each piece, so that changes nothing.

use kit::Error;
use serde_json::json;
use spin_sdk::http::Method;
use spin_sdk::sqlite::{Connection, Value};

/// A batch stays under stock's 64 KiB JSON limit, with room for the wrapper.
const BATCH_BYTES: usize = 48 * 1024;
/// Rows read per batch at most: a batch is cut by size first.
const BATCH_ROWS: i64 = 1000;
/// Batches one invocation sends at most: an import of 10,000 pieces takes
/// about 40; what remains goes with the next write or flush.
const MAX_BATCHES: usize = 100;
/// Tries per batch: on `spin up` nothing else delivers until the next
/// write, so a call lost to a passing overload is tried again at once.
const ATTEMPTS: usize = 3;

/// Sends what is pending, batch after batch, until nothing is or stock
/// fails; how many changes were delivered, and how many remain.
pub async fn deliver(db: &Connection) -> Result<(usize, i64), Error> {
    let mut delivered = 0;
    for _ in 0..MAX_BATCHES {
        let batch = next_batch(db)?;
        let Some(&(last, _)) = batch.last() else {
            break;
        };
        let payloads: Vec<&str> = batch.iter().map(|(_, payload)| payload.as_str()).collect();
        if !send_with_retries(&payloads).await {
            break;
        }
        db.execute(
            "DELETE FROM outbox WHERE seq <= ?1",
            &[Value::Integer(last)],
        )?;
        delivered += batch.len();
    }
    Ok((delivered, pending(db)?))
}

/// Whether stock took the batch within [`ATTEMPTS`] tries.
async fn send_with_retries(payloads: &[&str]) -> bool {
    for attempt in 1..=ATTEMPTS {
        match send(payloads).await {
            Ok(()) => return true,
            Err(why) => {
                eprintln!("catalogue changes to stock, attempt {attempt}/{ATTEMPTS}: {why}")
            }
        }
    }
    eprintln!("catalogue changes kept for the next delivery");
    false
}

/// The flush report, as stock's outbox flush says it.
pub fn report(delivered: usize, pending: i64) -> serde_json::Value {
    json!({ "delivered": delivered, "pending": pending })
}

fn pending(db: &Connection) -> Result<i64, Error> {
    kit::page::count(db, "FROM outbox", &[])
}

/// The oldest changes, as many as fit one request.
fn next_batch(db: &Connection) -> Result<Vec<(i64, String)>, Error> {
    let rows = db.execute(
        "SELECT seq, payload FROM outbox ORDER BY seq LIMIT ?1",
        &[Value::Integer(BATCH_ROWS)],
    )?;
    let mut batch = Vec::new();
    let mut bytes = 0;
    for row in rows.rows() {
        let (Some(seq), Some(payload)) = (row.get::<i64>("seq"), row.get::<&str>("payload")) else {
            continue;
        };
        if !batch.is_empty() && bytes + payload.len() + 1 > BATCH_BYTES {
            break;
        }
        bytes += payload.len() + 1;
        batch.push((seq, payload.to_owned()));
    }
    Ok(batch)
}

async fn send(payloads: &[&str]) -> Result<(), String> {
    let body = format!("{{\"changes\":[{}]}}", payloads.join(","));
    let response = kit::peer::call(
        "stock_url",
        Method::Post,
        "/api/stock/internal/catalogue/",
        &[],
        Some(body),
    )
    .await
    .map_err(|error| format!("request failed: {error}"))?;
    match *response.status() {
        200..=299 => Ok(()),
        status => Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(response.body())
        )),
    }
}
