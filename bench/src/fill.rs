//! `baseline fill-history`: a stock database as a workshop would have it
//! after two years, for the reports' bench: `--pieces` pieces in 50
//! categories with prices, told to stock as pieces tells it (the
//! `catalogue` table, whose triggers list each piece), then `--rows`
//! movements, oldest first, spread evenly over the two years up to an hour
//! ago, each written as the ledger takes it (its triggers move the levels
//! and write the alerts). Every level stays at or above zero: an OUT takes
//! at most what its piece holds.

use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

const CATEGORIES: u64 = 50;
const DAYS: f64 = 730.0;
const BATCH: usize = 50_000;

pub struct Options {
    pub db: String,
    pub pieces: u64,
    pub rows: u64,
}

/// A small deterministic generator (xorshift64): the same history each run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn run(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut db = Connection::open(&options.db)?;
    db.busy_timeout(Duration::from_secs(30))?;
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let tx = db.transaction()?;
    {
        let mut tell = tx.prepare(
            "INSERT INTO catalogue (piece_id, version, reference, name, category, min_stock, \
                 price_cents, archived, deleted, changed_at) \
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, 0, 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-731 days'))",
        )?;
        for id in 1..=options.pieces {
            tell.execute(params![
                id,
                format!("HIST-{id:06}"),
                format!("Pièce d'historique {id}"),
                format!("Catégorie {:02}", id % CATEGORIES),
                dice.below(20),
                1 + dice.below(10_000),
            ])?;
        }
    }
    tx.commit()?;
    eprintln!(
        "{} pieces told in {:.1?}",
        options.pieces,
        started.elapsed()
    );

    let mut levels = vec![0_i64; options.pieces as usize + 1];
    let step = DAYS / options.rows as f64;
    let mut written = 0;
    while written < options.rows {
        let tx = db.transaction()?;
        {
            let mut level_row = tx.prepare_cached(
                "INSERT OR IGNORE INTO levels (piece_id, quantity, updated_at) \
                 VALUES (?1, 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour', ?2))",
            )?;
            let mut movement = tx.prepare_cached(
                "INSERT INTO ledger (piece_id, type, location_id, quantity, delta, level_after, \
                     user_id, username, created_at) \
                 VALUES (?1, ?2, 1, ?3, ?4, ?5, 1, 'historique', \
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour', ?6))",
            )?;
            for _ in 0..BATCH.min((options.rows - written) as usize) {
                let piece = 1 + dice.below(options.pieces);
                let held = &mut levels[piece as usize];
                let (kind, quantity, delta) = if *held > 0 && dice.below(10) < 6 {
                    let quantity = 1 + dice.below((*held as u64).min(20)) as i64;
                    ("OUT", quantity, -quantity)
                } else {
                    let quantity = 10 + dice.below(90) as i64;
                    ("IN", quantity, quantity)
                };
                *held += delta;
                let days_ago = DAYS - written as f64 * step;
                let at = format!("-{:.6} days", days_ago);
                level_row.execute(params![piece, at])?;
                movement.execute(params![piece, kind, quantity, delta, *held, at])?;
                written += 1;
            }
        }
        tx.commit()?;
        eprintln!("{written} movements written ({:.1?})", started.elapsed());
    }
    Ok(())
}
