//! Faults under traffic, through Traefik with two stock replicas on one
//! SQLite file: a replica killed (SIGKILL) or stopped (SIGTERM) while a
//! stream of keyed movements runs. Each test prints its figures; the last
//! ones are in `docs/RELIABILITY.md`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::stack::{Running, send, start};

/// Parallel clients of the stream, each sending one movement at a time.
const CLIENTS: usize = 4;

/// What the clients saw.
struct Outcome {
    /// Idempotency keys answered 201.
    acknowledged: Vec<String>,
    /// Keys of requests that got anything else, with what they got.
    failed: Vec<(String, String)>,
}

impl Outcome {
    fn attempted(&self) -> usize {
        self.acknowledged.len() + self.failed.len()
    }

    fn failure_rate(&self) -> f64 {
        self.failed.len() as f64 / self.attempted().max(1) as f64
    }
}

/// One keyed `IN 1` movement, as the UI sends it.
fn keyed_in(web: &str, token: &str, piece: i64, key: &str) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    agent
        .post(format!("{web}/api/stock/movement/"))
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .send(serde_json::json!({"piece_id": piece, "type": "IN", "quantity": 1}).to_string())
        .map(|reply| reply.status().as_u16())
        .map_err(|error| error.to_string())
}

/// Movements from [`CLIENTS`] clients for `duration`; `fault` runs on this
/// thread once the stream has flowed for a second.
fn stream_of_movements(
    web: &str,
    token: &str,
    piece: i64,
    duration: Duration,
    fault: impl FnOnce(),
) -> Outcome {
    let done = AtomicBool::new(false);
    let results: Vec<(String, Result<u16, String>)> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let done = &done;
                s.spawn(move || {
                    let mut sent = Vec::new();
                    for n in 0.. {
                        if done.load(Ordering::Relaxed) {
                            break;
                        }
                        let key = format!("flux-{client}-{n}");
                        let result = keyed_in(web, token, piece, &key);
                        sent.push((key, result));
                    }
                    sent
                })
            })
            .collect();
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(1));
        fault();
        std::thread::sleep(duration.saturating_sub(started.elapsed()));
        done.store(true, Ordering::Relaxed);
        clients
            .into_iter()
            .flat_map(|client| client.join().expect("a client thread"))
            .collect()
    });
    let mut outcome = Outcome {
        acknowledged: Vec::new(),
        failed: Vec::new(),
    };
    for (key, result) in results {
        match result {
            Ok(201) => outcome.acknowledged.push(key),
            Ok(status) => outcome.failed.push((key, format!("HTTP {status}"))),
            Err(error) => outcome.failed.push((key, error)),
        }
    }
    outcome
}

fn new_piece(web: &str, token: &str, reference: &str) -> i64 {
    let (status, piece) = send(
        "POST",
        &format!("{web}/api/pieces/"),
        Some(token),
        Some(serde_json::json!({"reference": reference, "name": reference})),
    );
    assert_eq!(status, 201, "{piece}");
    piece["id"].as_i64().expect("an id")
}

/// The ledger holds each acknowledged movement once and nothing twice:
/// replaying every acknowledged key changes nothing, and the level is the
/// number of movements.
fn assert_ledger_exact(running: &Running, token: &str, piece: i64, outcome: &Outcome) {
    let web = running.stack.web_url();
    let level = || {
        let (status, level) = send(
            "GET",
            &format!("{web}/api/stock/{piece}/"),
            Some(token),
            None,
        );
        assert_eq!(status, 200, "{level}");
        level["quantity"].as_i64().expect("a quantity")
    };
    let (status, movements) = send(
        "GET",
        &format!("{web}/api/stock/movements/?piece_id={piece}&page_size=1"),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{movements}");
    let recorded = movements["count"].as_i64().expect("a count");
    let before = level();
    assert_eq!(before, recorded, "the level is the sum of the ledger");
    assert!(
        recorded as usize >= outcome.acknowledged.len(),
        "{recorded} movements recorded, {} acknowledged",
        outcome.acknowledged.len()
    );
    assert!(
        recorded as usize <= outcome.attempted(),
        "{recorded} movements recorded for {} requests: some counted twice",
        outcome.attempted()
    );
    for key in &outcome.acknowledged {
        assert_eq!(
            keyed_in(&web, token, piece, key),
            Ok(201),
            "replaying {key}"
        );
    }
    assert_eq!(level(), before, "a replayed key moved the level");
}

/// Traefik's access-log lines of the requests it failed, for the panic
/// message: they say which replica and how many retries.
fn edge_failures(running: &Running) -> String {
    std::fs::read_to_string(running.stack.access_log())
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("\"DownstreamStatus\":502"))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}

fn report(fault: &str, outcome: &Outcome) {
    eprintln!(
        "{fault}: {} movements sent, {} acknowledged, {} failed ({:.2} %): {:?}",
        outcome.attempted(),
        outcome.acknowledged.len(),
        outcome.failed.len(),
        outcome.failure_rate() * 100.0,
        outcome.failed.iter().take(5).collect::<Vec<_>>()
    );
}

#[test]
fn a_replica_killed_mid_stream_loses_and_doubles_nothing() {
    let mut running = start(&[("stock", 2)]);
    let web = running.stack.web_url();
    let token = running.admin_token();
    let piece = new_piece(&web, &token, "FLUX-KILL");
    let replica = running.stack.ports.instances["stock"][1];
    let stack = &mut running.stack;
    let outcome = stream_of_movements(&web, &token, piece, Duration::from_secs(8), || {
        stack
            .kill_instance("stock", replica)
            .expect("the replica exists");
    });
    report("kill -9 of one of two stock hosts", &outcome);
    assert!(
        outcome.failure_rate() <= 0.01,
        "more than 1 % failed: {:?}\n{}",
        outcome.failed,
        edge_failures(&running)
    );
    assert_ledger_exact(&running, &token, piece, &outcome);
}

#[test]
fn a_replica_stopped_mid_stream_cuts_no_request() {
    let mut running = start(&[("stock", 2)]);
    let web = running.stack.web_url();
    let token = running.admin_token();
    let piece = new_piece(&web, &token, "FLUX-TERM");
    let replica = running.stack.ports.instances["stock"][1];
    let stack = &mut running.stack;
    let outcome = stream_of_movements(&web, &token, piece, Duration::from_secs(8), || {
        stack
            .stop_instance("stock", replica)
            .expect("the replica exists");
    });
    report("SIGTERM of one of two stock hosts", &outcome);
    assert!(
        outcome.failed.is_empty(),
        "cut: {:?}\n{}",
        outcome.failed,
        edge_failures(&running)
    );
    assert_ledger_exact(&running, &token, piece, &outcome);
}
