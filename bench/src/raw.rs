//! The upper bound of movement throughput: `connections` threads, each with
//! its own connection (the host's settings), running stock's movement
//! statement (an OUT of 1) back to back for `seconds`. Prints the same
//! `BENCH` line as the benchmark's wrk script.

use std::time::{Duration, Instant};

use crate::database::Database;
use crate::order::DEFAULT_LOCATION;
use crate::statements::RECORD_MOVEMENT;

pub struct Options {
    pub db: String,
    pub piece: i64,
    pub connections: usize,
    pub seconds: f64,
}

pub fn run(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.seconds);
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            let (db, piece) = (options.db.clone(), options.piece);
            std::thread::spawn(move || worker(&db, RECORD_MOVEMENT, piece, deadline))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mut own, failed) = worker.join().map_err(|_| "a worker panicked")??;
        latencies.append(&mut own);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1]
    };
    let mean = latencies.iter().sum::<u64>() as f64 / latencies.len().max(1) as f64;
    println!(
        "BENCH requests={} duration_us={} errors={errors} status_errors=0 p50_us={} p95_us={} p99_us={} mean_us={mean:.1}",
        latencies.len(),
        elapsed.as_micros(),
        percentile(50.0),
        percentile(95.0),
        percentile(99.0),
    );
    Ok(())
}

type Outcome = Result<(Vec<u64>, u64), rusqlite::Error>;

fn worker(db: &str, sql: &str, piece: i64, deadline: Instant) -> Outcome {
    let conn = Database::connect(db)?;
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut errors = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut statement = conn.prepare_cached(sql)?;
        let inserted = statement
            .query_row(
                rusqlite::params![
                    piece,
                    "OUT",
                    1,
                    Option::<String>::None,
                    "",
                    1,
                    "bench",
                    Option::<String>::None,
                    Option::<String>::None,
                    Option::<i64>::None,
                    DEFAULT_LOCATION,
                    Option::<i64>::None,
                ],
                |row| row.get::<_, i64>(0),
            )
            .is_ok();
        latencies.push(started.elapsed().as_micros() as u64);
        if !inserted {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}
