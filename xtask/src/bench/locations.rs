//! The catalogue's 100,000 pieces placed in 20 bins (4 aisles of 5), as a
//! workshop would take stock of a new store: one stocktake per bin, its
//! sheet of 5,000 lines imported as CSV, then validated; and the stock
//! lists a user reads on it.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::catalogue::PIECES;
use super::http;

const AISLES: usize = 4;
const BINS_PER_AISLE: usize = 5;
pub const BINS: usize = AISLES * BINS_PER_AISLE;
pub const LINES_PER_COUNT: usize = PIECES / BINS;
/// How long stock may take to list every imported piece once pieces has
/// delivered them all.
const CATALOGUE_WAIT: Duration = Duration::from_secs(30);
/// Flushes of pieces' outbox at most, as the stack's sidecar would run them.
const MAX_FLUSHES: usize = 100;

/// Where the pieces went: an aisle, one of its bins, and how long each
/// bin's stocktake took to validate.
pub struct Placed {
    pub aisle: i64,
    pub bin: i64,
    pub validations: Vec<Duration>,
}

/// Places every piece: piece `n` (ids follow import order from 1) in bin
/// `(n - 1) / LINES_PER_COUNT`, counted at `1 + n % 40`.
pub fn place(stock: &str, pieces: &str, secret: &str, token: &str) -> Result<Placed> {
    flush_catalogue(pieces, secret)?;
    wait_for_catalogue(stock, token)?;
    let mut aisles = Vec::new();
    let mut bins = Vec::new();
    for a in 0..AISLES {
        let aisle = create(stock, token, &format!("ALLEE-{a}"), None)?;
        aisles.push(aisle);
        for b in 0..BINS_PER_AISLE {
            bins.push(create(stock, token, &format!("BAC-{a}-{b}"), Some(aisle))?);
        }
    }
    let mut validations = Vec::new();
    for (index, bin) in bins.iter().enumerate() {
        let count = http::expect(
            201,
            "POST",
            &format!("{stock}/api/stock/counts/"),
            Some(token),
            Some((
                "application/json",
                serde_json::json!({ "location_id": bin }).to_string(),
            )),
        )?["id"]
            .clone();
        let first = index * LINES_PER_COUNT + 1;
        let mut sheet = String::from("piece_id,counted\r\n");
        for piece in first..first + LINES_PER_COUNT {
            sheet.push_str(&format!("{piece},{}\r\n", 1 + piece % 40));
        }
        let recorded = http::expect(
            200,
            "POST",
            &format!("{stock}/api/stock/counts/{count}/import/"),
            Some(token),
            Some(("text/csv", sheet)),
        )?;
        if recorded["recorded"] != LINES_PER_COUNT {
            bail!("count {count}: {recorded}");
        }
        let started = Instant::now();
        let validated = http::expect(
            200,
            "POST",
            &format!("{stock}/api/stock/counts/{count}/validate/"),
            Some(token),
            None,
        )?;
        validations.push(started.elapsed());
        if validated["status"] != "validated" {
            bail!("count {count} not validated: {}", validated["status"]);
        }
    }
    eprintln!("    {PIECES} pieces placed in {BINS} bins, {LINES_PER_COUNT} lines per stocktake");
    Ok(Placed {
        aisle: aisles[0],
        bin: bins[0],
        validations,
    })
}

/// The stock lists: the whole store's first page and a page in the middle,
/// one bin (5,000 pieces) and one aisle (25,000).
pub fn list_paths(placed: &Placed) -> Vec<(String, Vec<String>)> {
    vec![
        (
            "list, first page".to_owned(),
            vec!["/api/stock/".to_owned()],
        ),
        (
            "list, page 1,000 of 2,000".to_owned(),
            vec!["/api/stock/?page=1000".to_owned()],
        ),
        (
            format!("a bin's levels ({LINES_PER_COUNT} pieces)"),
            vec![format!("/api/stock/?location={}", placed.bin)],
        ),
        (
            format!(
                "an aisle's levels ({} pieces in {BINS_PER_AISLE} bins)",
                LINES_PER_COUNT * BINS_PER_AISLE
            ),
            vec![format!("/api/stock/?location={}", placed.aisle)],
        ),
    ]
}

fn create(stock: &str, token: &str, code: &str, parent: Option<i64>) -> Result<i64> {
    let created = http::expect(
        201,
        "POST",
        &format!("{stock}/api/stock/locations/"),
        Some(token),
        Some((
            "application/json",
            serde_json::json!({ "code": code, "name": code, "parent_id": parent }).to_string(),
        )),
    )?;
    created["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("location {code}: {created}"))
}

/// Pieces delivers each import's changes right after its answer, a bounded
/// number of batches per invocation; without the stack's sidecar, what an
/// import in a row of them left pending is flushed here, as the sidecar
/// would.
fn flush_catalogue(pieces: &str, secret: &str) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let url = format!("{pieces}/api/pieces/internal/outbox/flush/");
    for _ in 0..MAX_FLUSHES {
        let mut response = agent
            .post(&url)
            .header("x-internal-secret", secret)
            .send_empty()?;
        let text = response.body_mut().read_to_string()?;
        if response.status() != 200 {
            bail!("POST {url}: {}: {text}", response.status());
        }
        let report: serde_json::Value = serde_json::from_str(&text)?;
        if report["pending"] == 0 {
            return Ok(());
        }
    }
    bail!("pieces' outbox still holds changes after {MAX_FLUSHES} flushes")
}

fn wait_for_catalogue(stock: &str, token: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let listed = http::expect(
            200,
            "GET",
            &format!("{stock}/api/stock/?page_size=1"),
            Some(token),
            None,
        )?;
        if listed["count"] == PIECES {
            return Ok(());
        }
        if started.elapsed() > CATALOGUE_WAIT {
            bail!(
                "stock lists {} of the {PIECES} pieces after {CATALOGUE_WAIT:?}",
                listed["count"]
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
