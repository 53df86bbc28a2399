//! Reports at scale: a stock database of its own, migrated by the release
//! host, then filled natively with two years of a workshop's history
//! (`baseline fill-history`: 100,000 priced pieces, 1,000,000 movements),
//! and each report requested alone on one connection, as a manager opening
//! the reports page does.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use xtask::process::Log;
use xtask::{cmd, components};

use super::catalogue::{self, Single};
use super::http;
use super::servers::{self, Files};

pub const PIECES: u64 = 100_000;
pub const MOVEMENTS: u64 = 1_000_000;

/// Each report the page asks for, and the heavier variants.
fn paths() -> Vec<String> {
    [
        "consumption/",
        "consumption/?by=week&group=piece",
        "movers/",
        "value/",
        "value/?at=2000-01-01",
        "dormant/?days=90",
        "out-of-stock/",
        "consumption/?date_from=2000-01-01&date_to=2009-12-31",
    ]
    .iter()
    .map(|path| format!("/api/stock/reports/{path}"))
    .collect()
}

pub fn run(
    root: &Path,
    scratch: &Path,
    env: &[(String, String)],
    token: &str,
    log: &Log,
) -> Result<Vec<Single>> {
    let directory = scratch.join("reports");
    std::fs::create_dir_all(&directory)?;
    let files = Files::new(&directory)?;
    let stock = servers::host(root, &files, "stock", servers::free_port()?, env, log)?;
    // The first request migrates the new database.
    http::expect(
        200,
        "GET",
        &format!("{}/api/stock/health/", stock.base),
        None,
        None,
    )?;
    cmd::announce(&format!(
        "write two years of history: {PIECES} pieces, {MOVEMENTS} movements"
    ));
    let output = Command::new(components::release_binary(root, "baseline"))
        .arg("fill-history")
        .arg("--db")
        .arg(&files.stock_db)
        .args(["--pieces", &PIECES.to_string()])
        .args(["--rows", &MOVEMENTS.to_string()])
        .output()
        .context("cannot run the history writer")?;
    if !output.status.success() {
        bail!(
            "the history writer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // A year ago is inside the history: the replay reads its ledger.
    let mut paths = paths();
    paths.push(format!(
        "/api/stock/reports/value/?at={}",
        year_ago(&stock.base, token)?
    ));
    cmd::announce("each report alone, one connection");
    catalogue::single(&stock.base, token, &paths)
}

/// The first day of the reports' default period.
fn year_ago(base: &str, token: &str) -> Result<String> {
    let report = http::expect(
        200,
        "GET",
        &format!("{base}/api/stock/reports/movers/?limit=1"),
        Some(token),
        None,
    )?;
    report["date_from"]
        .as_str()
        .map(str::to_owned)
        .context("the movers report names its period")
}
