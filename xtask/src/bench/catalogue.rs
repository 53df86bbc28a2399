//! A catalogue of 100,000 pieces, imported as a workshop would (CSV files
//! through `POST /api/pieces/import/`, at most 10,000 rows each), and the
//! list and search requests a user makes on it.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::http;

pub const PIECES: usize = 100_000;
/// `MAX_IMPORT_ROWS` of pieces/src/lib.rs.
const ROWS_PER_FILE: usize = 10_000;

const KINDS: [&str; 20] = [
    "Écrou",
    "Vis",
    "Rondelle",
    "Roulement",
    "Joint torique",
    "Courroie",
    "Goupille",
    "Ressort",
    "Fusible",
    "Relais",
    "Câble",
    "Connecteur",
    "Filtre",
    "Durite",
    "Collier",
    "Poulie",
    "Clavette",
    "Douille",
    "Raccord",
    "Bague",
];
const SIZES: [&str; 10] = [
    "M3", "M4", "M5", "M6", "M8", "M10", "M12", "M16", "M20", "M24",
];
const MATERIALS: [&str; 5] = ["inox", "acier", "laiton", "zingué", "nylon"];
const CATEGORIES: [&str; 8] = [
    "Visserie",
    "Transmission",
    "Étanchéité",
    "Électricité",
    "Hydraulique",
    "Filtration",
    "Fixation",
    "Divers",
];

/// What a user types in the search box, in turn: a precise part (about 100
/// matches), a family in one material (1,000), a whole family (5,000) and
/// one reference (1).
pub const SEARCHES: [&str; 4] = [
    "roulement+m12+inox",
    "%C3%A9crou+laiton",
    "courroie",
    "BENCH-042170",
];

/// Reference of piece `index` (0-based); ids follow import order from 1.
pub fn reference(index: usize) -> String {
    format!("BENCH-{index:06}")
}

/// One import file: the header, then rows `first..first + ROWS_PER_FILE`.
fn file(first: usize) -> String {
    let mut csv = String::with_capacity(ROWS_PER_FILE * 120);
    csv.push_str(
        "reference,name,description,category,unit,price,min_stock,location,barcode,archived\r\n",
    );
    // No minimum: a new piece under its minimum raises a "to order" alert
    // in stock's outbox, and the direct hosts have no notifications service
    // to take 100,000 of them; each movement measured would try, and fail,
    // to deliver some.
    for index in first..first + ROWS_PER_FILE {
        let kind = KINDS[index % KINDS.len()];
        let size = SIZES[(index / KINDS.len()) % SIZES.len()];
        let material = MATERIALS[(index / (KINDS.len() * SIZES.len())) % MATERIALS.len()];
        csv.push_str(&format!(
            "{},{kind} {size} {material},Pièce de démonstration n° {index},{},pcs,{}.{:02},0,Allée {}-{},,false\r\n",
            reference(index),
            CATEGORIES[index % CATEGORIES.len()],
            1 + index % 500,
            index % 100,
            1 + index % 30,
            1 + index % 12,
        ));
    }
    csv
}

/// Imports the catalogue into the pieces service at `base`; the time each
/// file took.
pub fn import(base: &str, token: &str) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    for first in (0..PIECES).step_by(ROWS_PER_FILE) {
        let csv = file(first);
        let started = Instant::now();
        let answer = http::expect(
            200,
            "POST",
            &format!("{base}/api/pieces/import/"),
            Some(token),
            Some(("text/csv", csv)),
        )?;
        times.push(started.elapsed());
        if answer["created"] != ROWS_PER_FILE {
            bail!("import of rows {first}..: {answer}");
        }
        eprintln!(
            "    {} pieces imported ({:.1?})",
            first + ROWS_PER_FILE,
            started.elapsed()
        );
    }
    let listed = http::expect(
        200,
        "GET",
        &format!("{base}/api/pieces/?page_size=1"),
        Some(token),
        None,
    )?;
    if listed["count"] != PIECES {
        bail!("the catalogue lists {} pieces", listed["count"]);
    }
    Ok(times)
}

/// The list paths: the first page, and a page in the middle (offset 49,950).
pub fn list_paths() -> [(&'static str, Vec<String>); 2] {
    [
        ("list, first page", vec!["/api/pieces/".to_owned()]),
        (
            "list, page 1,000 of 2,000",
            vec!["/api/pieces/?page=1000".to_owned()],
        ),
    ]
}

pub fn search_paths() -> Vec<String> {
    SEARCHES
        .iter()
        .map(|q| format!("/api/pieces/?search={q}"))
        .collect()
}

/// One request timed alone, `SINGLE_TIMES` times in a row.
pub struct Single {
    pub path: String,
    /// The `count` a page reports (how many pieces match), or a report's
    /// number of rows.
    pub matches: u64,
    pub median: Duration,
    pub max: Duration,
}

pub const SINGLE_TIMES: usize = 15;

/// Each of `paths` requested alone, one after the other, on one kept-alive
/// connection: which query costs what.
pub fn single(base: &str, token: &str, paths: &[String]) -> Result<Vec<Single>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut out = Vec::new();
    for path in paths {
        let url = format!("{base}{path}");
        let mut times = Vec::with_capacity(SINGLE_TIMES);
        let mut matches = 0;
        for _ in 0..SINGLE_TIMES {
            let started = Instant::now();
            let mut response = agent
                .get(&url)
                .header("authorization", format!("Bearer {token}"))
                .call()?;
            let body = response.body_mut().read_to_string()?;
            times.push(started.elapsed());
            if response.status() != 200 {
                bail!("GET {url}: {}: {body}", response.status());
            }
            let page: serde_json::Value = serde_json::from_str(&body)?;
            // A list counts its matches; a report, its rows.
            matches = page["count"]
                .as_u64()
                .or_else(|| page["rows"].as_array().map(|rows| rows.len() as u64))
                .unwrap_or_default();
        }
        times.sort();
        out.push(Single {
            path: path.clone(),
            matches,
            median: times[times.len() / 2],
            max: times[times.len() - 1],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hold_the_header_and_their_rows() {
        let csv = file(20_000);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), ROWS_PER_FILE + 1);
        assert!(lines[1].starts_with("BENCH-020000,Écrou M3 inox,"));
        assert!(lines.iter().all(|l| l.split(',').count() == 10));
    }
}
