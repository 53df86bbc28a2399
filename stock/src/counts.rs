//! `/api/stock/counts/`: stocktakes, one location at a time.
//!
//! The rule for movements made while a count is open: opening snapshots
//! what the location holds of each piece (`expected`); a piece first
//! counted later takes what the location holds at that moment. Validation
//! applies each counted line's difference, counted - expected, on top of
//! the level at validation (never below 0), so that a reception or an
//! issue recorded during the count is neither lost nor counted twice.
//! Lines left uncounted change nothing. Validation is one statement (the
//! schema's `count_validation_adjusts`): every adjustment, once.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::StockError;
use crate::movement::Author;
use crate::statements::NOW;
use kit::page::{Page, Query};

/// Lines one JSON request may record (its body stays under
/// `kit::body::MAX_JSON_BYTES`); a longer sheet comes as CSV.
const MAX_LINES: usize = 1000;
/// Lines one CSV sheet may hold: a whole store of small parts in one
/// location, well within the host's 10 MiB body.
const MAX_SHEET_LINES: usize = 20_000;
const MAX_COUNTED: i64 = 1_000_000_000;
const MAX_NOTE: usize = 1000;

/// The CSV sheet's columns; an import needs `counted` and `piece_id` or
/// `reference`, and ignores the others.
const SHEET_COLUMNS: [&str; 5] = ["piece_id", "reference", "name", "expected", "counted"];

const SELECT_COUNT: &str = "SELECT c.id, c.location_id, l.code AS location_code, l.name AS location_name, \
        c.status, c.note, c.opened_by, c.opened_at, c.closed_by, c.closed_at, \
        (SELECT COUNT(*) FROM count_lines WHERE count_id = c.id) AS lines, \
        (SELECT COUNT(*) FROM count_lines WHERE count_id = c.id AND counted IS NOT NULL) AS counted \
     FROM counts AS c JOIN locations AS l ON l.id = c.location_id";

/// `POST /api/stock/counts/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    location_id: Option<Json>,
    note: Option<Json>,
}

/// `PUT /api/stock/counts/{id}/lines/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lines {
    lines: Vec<LineInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineInput {
    piece_id: Json,
    counted: Json,
}

/// A counted quantity for a piece, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub piece_id: i64,
    pub counted: i64,
}

impl Opening {
    pub fn validate(self) -> Result<(i64, String), kit::Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let location = match self.location_id.as_ref().and_then(Json::as_i64) {
            Some(id) if id > 0 => id,
            _ => {
                errors.insert(
                    "location_id".into(),
                    vec!["Identifiant d'emplacement requis (entier positif).".into()],
                );
                0
            }
        };
        let note = match self.note {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(note)) if note.chars().count() <= MAX_NOTE => note.trim().to_owned(),
            Some(_) => {
                errors.insert(
                    "note".into(),
                    vec![format!("Texte de {MAX_NOTE} caractères au plus.")],
                );
                String::new()
            }
        };
        if errors.is_empty() {
            Ok((location, note))
        } else {
            Err(kit::Error::Validation(errors))
        }
    }
}

impl Lines {
    /// Each line a positive piece id and a counted quantity >= 0, each
    /// piece once.
    pub fn validate(self) -> Result<Vec<Counted>, kit::Error> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(self.lines.len());
        if self.lines.len() > MAX_LINES {
            problems.push(format!("{MAX_LINES} lignes au plus par envoi."));
        }
        for (index, line) in self.lines.into_iter().enumerate() {
            let number = index + 1;
            match (line.piece_id.as_i64(), line.counted.as_i64()) {
                (Some(piece_id), Some(counted))
                    if piece_id > 0 && (0..=MAX_COUNTED).contains(&counted) =>
                {
                    if seen.insert(piece_id) {
                        lines.push(Counted { piece_id, counted });
                    } else {
                        problems.push(format!("ligne {number} : pièce {piece_id} en double."));
                    }
                }
                _ => problems.push(format!(
                    "ligne {number} : piece_id (entier positif) et counted (entier de 0 à {MAX_COUNTED}) requis."
                )),
            }
        }
        checked(lines, problems)
    }
}

/// Opens a count of `location`, snapshotting it (the schema's
/// `count_snapshots_its_location`); 409 if one is open there already.
pub fn open(
    db: &Connection,
    location: i64,
    note: &str,
    author: &Author<'_>,
) -> Result<i64, kit::Error> {
    crate::locations::usable(db, location, "location_id")?;
    let opened = db.execute(
        &format!(
            "INSERT INTO counts (location_id, note, opened_by_id, opened_by, opened_at) \
             VALUES (?1, ?2, ?3, ?4, {NOW}) RETURNING id"
        ),
        &[
            Value::Integer(location),
            Value::Text(note.to_owned()),
            Value::Integer(author.user_id),
            Value::Text(author.username.to_owned()),
        ],
    );
    match opened {
        Ok(rows) => rows
            .rows()
            .next()
            .and_then(|row| row.get::<i64>("id"))
            .ok_or_else(|| kit::Error::Internal("INSERT ... RETURNING returned nothing".into())),
        Err(e) if kit::constraint::is_unique_violation(&e, "counts.location_id") => {
            Err(StockError::CountAlreadyOpen.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Records counted quantities, each replacing the line's earlier count;
/// all or none: unknown pieces are refused before anything is written.
pub fn record(
    db: &Connection,
    id: i64,
    lines: &[Counted],
    author: &Author<'_>,
) -> Result<usize, kit::Error> {
    require_open(db, id)?;
    let unknown = unknown_pieces(db, lines)?;
    if !unknown.is_empty() {
        let unknown: Vec<String> = unknown.iter().map(i64::to_string).collect();
        return Err(StockError::UnknownPieces(unknown.join(", ")).into());
    }
    let expected = lines.len();
    let lines = json!(
        lines
            .iter()
            .map(|l| json!({"piece_id": l.piece_id, "counted": l.counted}))
            .collect::<Vec<_>>()
    )
    .to_string();
    let written = db.execute(
        &format!(
            "INSERT INTO count_lines (count_id, piece_id, expected, counted, counted_by, counted_at) \
             SELECT c.id, json_extract(j.value, '$.piece_id'), COALESCE(h.quantity, 0), \
                json_extract(j.value, '$.counted'), ?3, {NOW} \
             FROM counts AS c, json_each(?2) AS j \
             LEFT JOIN location_levels AS h \
                ON h.piece_id = json_extract(j.value, '$.piece_id') AND h.location_id = c.location_id \
             WHERE c.id = ?1 AND c.status = 'open' \
             ON CONFLICT (count_id, piece_id) DO UPDATE SET counted = excluded.counted, \
                counted_by = excluded.counted_by, counted_at = excluded.counted_at \
             RETURNING piece_id"
        ),
        &[
            Value::Integer(id),
            Value::Text(lines),
            Value::Text(author.username.to_owned()),
        ],
    )?;
    let recorded = written.rows().count();
    if recorded < expected {
        // Closed between the check and the write.
        require_open(db, id)?;
    }
    Ok(recorded)
}

/// The pieces of `lines` that stock has no copy of.
pub fn unknown_pieces(db: &Connection, lines: &[Counted]) -> Result<Vec<i64>, kit::Error> {
    let ids = json!(lines.iter().map(|l| l.piece_id).collect::<Vec<_>>()).to_string();
    let unknown = db.execute(
        "SELECT value FROM json_each(?1) WHERE value NOT IN (SELECT piece_id FROM pieces)",
        &[Value::Text(ids)],
    )?;
    Ok(unknown
        .rows()
        .filter_map(|row| row.get::<i64>("value"))
        .collect())
}

/// Counted quantities from a CSV sheet (the export's columns, or any with
/// `counted` and `piece_id` or `reference`); rows with an empty `counted`
/// are skipped. Every row checked before any is recorded.
pub fn from_csv(
    db: &Connection,
    request: &spin_sdk::http::Request,
) -> Result<Vec<Counted>, kit::Error> {
    let (header, rows) = kit::body::csv(request)?;
    let position = |name: &str| {
        header
            .cells
            .iter()
            .position(|cell| cell.trim().eq_ignore_ascii_case(name))
    };
    let counted_at = position("counted").ok_or_else(|| {
        kit::Error::BadRequest("L'en-tête doit avoir une colonne « counted ».".into())
    })?;
    let (by_id, by_reference) = (position("piece_id"), position("reference"));
    if by_id.is_none() && by_reference.is_none() {
        return Err(kit::Error::BadRequest(
            "L'en-tête doit avoir une colonne « piece_id » ou « reference ».".into(),
        ));
    }
    // Every piece's reference, read the first time a row names its piece
    // by reference only.
    let mut known: Option<HashMap<String, i64>> = None;
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    for row in rows {
        let cell = |at: Option<usize>| {
            at.and_then(|at| row.cells.get(at))
                .map(|cell| kit::csv::untext(cell.trim()))
                .filter(|cell| !cell.is_empty())
        };
        let Some(counted) = cell(Some(counted_at)) else {
            continue;
        };
        let piece = match (cell(by_id), cell(by_reference)) {
            (Some(id), _) => id.parse::<i64>().ok(),
            (None, Some(reference)) => {
                if known.is_none() {
                    known = Some(references(db)?);
                }
                known
                    .as_ref()
                    .and_then(|by_reference| by_reference.get(&reference.to_lowercase()))
                    .copied()
            }
            (None, None) => None,
        };
        match (piece, counted.parse::<i64>()) {
            (Some(piece_id), Ok(counted)) if (0..=MAX_COUNTED).contains(&counted) => {
                if seen.insert(piece_id) {
                    lines.push(Counted { piece_id, counted });
                } else {
                    problems.push(format!("ligne {} : pièce en double.", row.line));
                }
            }
            (None, _) => problems.push(format!("ligne {} : pièce inconnue.", row.line)),
            _ => problems.push(format!(
                "ligne {} : quantité comptée invalide (entier de 0 à {MAX_COUNTED}).",
                row.line
            )),
        }
    }
    if lines.len() > MAX_SHEET_LINES {
        problems.push(format!("{MAX_SHEET_LINES} lignes au plus par fichier."));
    }
    checked(lines, problems)
}

/// The lines, or a 400 naming every bad one at once: all or nothing.
fn checked(lines: Vec<Counted>, problems: Vec<String>) -> Result<Vec<Counted>, kit::Error> {
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(kit::Error::Validation(BTreeMap::from([(
            "lines".to_owned(),
            problems,
        )])))
    }
}

/// Every piece's id by its reference, case aside.
fn references(db: &Connection) -> Result<HashMap<String, i64>, kit::Error> {
    let rows = db.execute("SELECT piece_id, reference FROM pieces", &[])?;
    Ok(rows
        .rows()
        .filter_map(|row| {
            Some((
                row.get::<&str>("reference")?.to_lowercase(),
                row.get::<i64>("piece_id")?,
            ))
        })
        .collect())
}

/// Closes an open count as `validated` (its trigger writes the
/// adjustments) or `cancelled`. A second validation finds it validated and
/// changes nothing. Anything else closed is a 409.
pub fn close(
    db: &Connection,
    id: i64,
    status: &str,
    author: &Author<'_>,
) -> Result<(), kit::Error> {
    let closed = db.execute(
        &format!(
            "UPDATE counts SET status = ?2, closed_by_id = ?3, closed_by = ?4, closed_at = {NOW} \
             WHERE id = ?1 AND status = 'open' RETURNING id"
        ),
        &[
            Value::Integer(id),
            Value::Text(status.to_owned()),
            Value::Integer(author.user_id),
            Value::Text(author.username.to_owned()),
        ],
    )?;
    if closed.rows().next().is_some() {
        return Ok(());
    }
    match current_status(db, id)? {
        Some(now) if now == status => Ok(()),
        Some(now) => Err(StockError::CountClosed { status: now }.into()),
        None => Err(kit::Error::NotFound),
    }
}

/// `GET /api/stock/counts/`: newest first, `status` and `location_id`
/// filters.
pub fn list(
    db: &Connection,
    request: &spin_sdk::http::Request,
    query: &Query,
) -> Result<Json, kit::Error> {
    let page = Page::from_query(query)?;
    let mut filter = String::from(" WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(status) = query.get("status") {
        if !matches!(status, "open" | "validated" | "cancelled") {
            return Err(kit::Error::field("status", "open, validated ou cancelled."));
        }
        params.push(Value::Text(status.to_owned()));
        filter.push_str(&format!(" AND c.status = ?{}", params.len()));
    }
    if let Some(location) = query.get("location_id") {
        let location = location
            .parse::<i64>()
            .map_err(|_| kit::Error::field("location_id", "Identifiant d'emplacement invalide."))?;
        params.push(Value::Integer(location));
        filter.push_str(&format!(" AND c.location_id = ?{}", params.len()));
    }
    let (count, rows) =
        page.select(db, &format!("{SELECT_COUNT}{filter}"), "c.id DESC", &params)?;
    page.document(
        request,
        count,
        rows.rows().map(|row| summary(&row)).collect(),
    )
}

/// A count with its lines: what was expected, what was counted, and while
/// it is open, what validating now would change; once validated, the
/// movement each line made.
pub fn one(db: &Connection, id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &format!("{SELECT_COUNT} WHERE c.id = ?1"),
        &[Value::Integer(id)],
    )?;
    let mut count = rows
        .rows()
        .next()
        .map(|row| summary(&row))
        .ok_or(kit::Error::NotFound)?;
    let open = count["status"] == "open";
    let lines = sheet(db, id)?;
    let lines: Vec<Json> = lines
        .rows()
        .map(|row| {
            let expected = row.get::<i64>("expected").unwrap_or(0);
            let counted = row.get::<i64>("counted");
            let current = row.get::<i64>("current").unwrap_or(0);
            let adjustment = counted
                .filter(|_| open)
                .map(|counted| (current + counted - expected).max(0) - current);
            json!({
                "piece_id": row.get::<i64>("piece_id"),
                "reference": row.get::<&str>("reference"),
                "name": row.get::<&str>("name"),
                "expected": expected,
                "counted": counted,
                "difference": counted.map(|counted| counted - expected),
                "current": current,
                "adjustment": adjustment,
                "counted_by": row.get::<&str>("counted_by"),
                "counted_at": row.get::<&str>("counted_at"),
                "movement_id": row.get::<i64>("movement_id"),
            })
        })
        .collect();
    count["differences"] = lines
        .iter()
        .filter(|line| line["difference"].as_i64().is_some_and(|d| d != 0))
        .count()
        .into();
    count["lines"] = lines.into();
    Ok(count)
}

/// The count sheet as CSV, by reference: what to count and, once counted,
/// how many.
pub fn export(db: &Connection, id: i64) -> Result<String, kit::Error> {
    if current_status(db, id)?.is_none() {
        return Err(kit::Error::NotFound);
    }
    let rows = sheet(db, id)?;
    let mut csv = String::new();
    kit::csv::write_record(&mut csv, &SHEET_COLUMNS);
    for row in rows.rows() {
        let number = |column: &str| {
            row.get::<i64>(column)
                .map(|n| n.to_string())
                .unwrap_or_default()
        };
        let text =
            |column: &str| kit::csv::text(row.get::<&str>(column).unwrap_or_default()).into_owned();
        kit::csv::write_record(
            &mut csv,
            &[
                number("piece_id"),
                text("reference"),
                text("name"),
                number("expected"),
                number("counted"),
            ],
        );
    }
    Ok(csv)
}

fn sheet(db: &Connection, id: i64) -> Result<spin_sdk::sqlite::QueryResult, kit::Error> {
    Ok(db.execute(
        "SELECT line.piece_id, p.reference, p.name, line.expected, line.counted, line.counted_by, \
            line.counted_at, COALESCE(here.quantity, 0) AS current, m.id AS movement_id \
         FROM count_lines AS line JOIN counts AS c ON c.id = line.count_id \
         JOIN pieces AS p ON p.piece_id = line.piece_id \
         LEFT JOIN location_levels AS here \
            ON here.piece_id = line.piece_id AND here.location_id = c.location_id \
         LEFT JOIN ledger AS m ON m.idempotency_key = 'count-' || c.id || '-' || line.piece_id \
         WHERE line.count_id = ?1 ORDER BY p.reference",
        &[Value::Integer(id)],
    )?)
}

fn require_open(db: &Connection, id: i64) -> Result<(), kit::Error> {
    match current_status(db, id)? {
        Some(status) if status == "open" => Ok(()),
        Some(status) => Err(StockError::CountClosed { status }.into()),
        None => Err(kit::Error::NotFound),
    }
}

fn current_status(db: &Connection, id: i64) -> Result<Option<String>, kit::Error> {
    let rows = db.execute(
        "SELECT status FROM counts WHERE id = ?1",
        &[Value::Integer(id)],
    )?;
    Ok(rows
        .rows()
        .next()
        .and_then(|row| row.get::<&str>("status").map(str::to_owned)))
}

fn summary(row: &Row<'_>) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "location_id": row.get::<i64>("location_id"),
        "location_code": row.get::<&str>("location_code"),
        "location_name": row.get::<&str>("location_name"),
        "status": row.get::<&str>("status"),
        "note": row.get::<&str>("note"),
        "opened_by": row.get::<&str>("opened_by"),
        "opened_at": row.get::<&str>("opened_at"),
        "closed_by": row.get::<&str>("closed_by"),
        "closed_at": row.get::<&str>("closed_at"),
        "lines_total": row.get::<i64>("lines"),
        "lines_counted": row.get::<i64>("counted"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(body: Json) -> Result<Vec<Counted>, kit::Error> {
        serde_json::from_value::<Lines>(body).unwrap().validate()
    }

    #[test]
    fn lines_need_a_piece_and_a_count_each_piece_once() {
        let ok =
            lines(json!({"lines": [{"piece_id": 2, "counted": 0}, {"piece_id": 3, "counted": 7}]}));
        assert_eq!(ok.unwrap().len(), 2);
        for bad in [
            json!({"lines": [{"piece_id": 2, "counted": -1}]}),
            json!({"lines": [{"piece_id": 0, "counted": 1}]}),
            json!({"lines": [{"piece_id": 2, "counted": 1.5}]}),
            json!({"lines": [{"piece_id": 2, "counted": 1}, {"piece_id": 2, "counted": 3}]}),
        ] {
            assert!(
                matches!(lines(bad.clone()), Err(kit::Error::Validation(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_opening_needs_a_location() {
        let opening = |body: Json| serde_json::from_value::<Opening>(body).unwrap().validate();
        assert_eq!(
            opening(json!({"location_id": 4, "note": " mars "})).unwrap(),
            (4, "mars".to_owned())
        );
        assert!(opening(json!({})).is_err());
        assert!(opening(json!({"location_id": "A"})).is_err());
    }
}
