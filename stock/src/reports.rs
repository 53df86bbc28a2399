//! The reports: what was used (by week or month, by category or piece),
//! what the stock is worth (now, or as the ledger says it was at a past
//! instant), the pieces used most, the stock that has not moved, the
//! pieces out of stock longest. Each is JSON, or CSV with `?format=csv`
//! (the same rows, amounts in currency units).
//!
//! "Used" is what OUT movements took, less the OUT movements reversed
//! since: a mistaken exit that was undone was not used. A level's
//! `updated_at` is its piece's last movement (the ledger's trigger sets
//! it), so dormant stock is read from `levels` alone.

use serde_json::{Map, Value as Json, json};
use spin_sdk::http::Response;
use spin_sdk::sqlite::{Connection, QueryResult, Value};

use kit::page::Query;

/// Rows a JSON answer holds at most (its default is each report's own);
/// a CSV export holds every row up to [`CSV_ROWS`].
const JSON_ROWS: i64 = 1000;
const CSV_ROWS: i64 = 100_000;
/// The longest period a report covers, in days (ten years).
const MAX_DAYS: f64 = 3653.0;

/// The common table `name (created_at, piece_id, quantity)`: what was used
/// in the period (`?1` and `?2` its first and last day), each OUT no
/// reversal names, and minus each reversed one, on its own date; only of
/// the pieces in table `among` if given.
fn used(name: &str, among: Option<&str>) -> String {
    let only = |column: &str| {
        among.map_or(String::new(), |table| {
            format!(" AND {column} IN (SELECT piece_id FROM {table})")
        })
    };
    // A period's OUT movements from the index that holds just them; a few
    // pieces' from the index by piece; the reversals first (`CROSS JOIN`
    // keeps that order), the few rows `reverses` names.
    let index = if among.is_some() {
        "ledger_by_piece"
    } else {
        "ledger_used"
    };
    format!(
        "{name} (created_at, piece_id, quantity) AS (\
             SELECT created_at, piece_id, quantity FROM ledger INDEXED BY {index} \
             WHERE type = 'OUT' AND reverses IS NULL AND created_at >= ?1 \
               AND created_at < date(?2, '+1 day'){} \
             UNION ALL \
             SELECT o.created_at, o.piece_id, -o.quantity FROM ledger AS r CROSS JOIN ledger AS o ON o.id = r.reverses \
             WHERE r.reverses IS NOT NULL AND o.type = 'OUT' \
               AND o.created_at >= ?1 AND o.created_at < date(?2, '+1 day'){})",
        only("piece_id"),
        only("o.piece_id")
    )
}

/// One report, ready to answer either way.
pub struct Report {
    /// What the rows are about: the period, the totals.
    summary: Map<String, Json>,
    rows: QueryResult,
    /// The CSV file's name, without extension.
    name: &'static str,
}

impl Report {
    /// JSON (`rows` beside the summary), or CSV when `?format=csv`.
    pub fn respond(self, query: &Query) -> Result<Response, kit::Error> {
        if Format::of(query)? == Format::Csv {
            return Ok(Response::builder()
                .status(200)
                .header("content-type", "text/csv; charset=utf-8")
                .header(
                    "content-disposition",
                    format!("attachment; filename=\"{}.csv\"", self.name),
                )
                .body(csv(&self.rows))
                .build());
        }
        let mut document = self.summary;
        document.insert("rows".into(), Json::Array(objects(&self.rows)));
        Ok(kit::route::json(200, &Json::Object(document)))
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Format {
    Json,
    Csv,
}

impl Format {
    fn of(query: &Query) -> Result<Self, kit::Error> {
        match query.get("format") {
            None | Some("json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some(_) => Err(kit::Error::field("format", "Format : json ou csv.")),
        }
    }

    /// How many rows the answer holds: `?limit=`, else `default` for JSON
    /// and every row for CSV.
    fn rows(self, query: &Query, default: i64) -> Result<i64, kit::Error> {
        let (default, most) = match self {
            Self::Json => (default, JSON_ROWS),
            Self::Csv => (CSV_ROWS, CSV_ROWS),
        };
        Ok(query.integer("limit", 1..=most)?.unwrap_or(default))
    }
}

/// `GET /api/stock/reports/consumption/`: what was used per week or month
/// (`by`), per category or for the most used pieces (`group`), optionally
/// of one `category` or one `piece_id`.
pub fn consumption(db: &Connection, query: &Query) -> Result<Report, kit::Error> {
    let (from, to) = period(db, query)?;
    let bucket = match query.get("by") {
        // The ledger writes ISO 8601 UTC: its first 7 characters are the month.
        None | Some("month") => ("month", "substr(created_at, 1, 7)"),
        Some("week") => ("week", "date(created_at, 'weekday 0', '-6 days')"),
        Some(_) => return Err(kit::Error::field("by", "Regroupement : week ou month.")),
    };
    let category = query.get("category").map(|c| Value::Text(c.to_owned()));
    let piece = query.integer("piece_id", 1..=i64::MAX)?.map(Value::Integer);
    // Checked whatever the grouping, as every parameter is.
    let pieces = query.integer("pieces", 1..=50)?.unwrap_or(10);
    let filters = "(?3 IS NULL OR p.category = ?3) AND (?4 IS NULL OR p.piece_id = ?4)";
    let (group, sql) = match query.get("group") {
        // Summed by piece before the pieces are read: one read per piece
        // and period rather than one per movement.
        None | Some("category") => (
            "category",
            format!(
                "WITH {}, by_piece AS (SELECT {} AS period, piece_id, sum(quantity) AS quantity \
                     FROM used GROUP BY 1, 2) \
                 SELECT b.period, p.category, sum(b.quantity) AS quantity \
                 FROM by_piece AS b JOIN pieces AS p USING (piece_id) WHERE {filters} \
                 GROUP BY b.period, p.category HAVING sum(b.quantity) <> 0 \
                 ORDER BY b.period, p.category",
                used("used", None),
                bucket.1
            ),
        ),
        // The most used pieces first, then their own movements only.
        Some("piece") => (
            "piece",
            format!(
                "WITH {}, top AS (SELECT p.piece_id, sum(u.quantity) AS total \
                     FROM used AS u JOIN pieces AS p USING (piece_id) WHERE {filters} \
                     GROUP BY p.piece_id HAVING total > 0 ORDER BY total DESC, p.piece_id LIMIT ?5), \
                 {} \
                 SELECT {} AS period, p.piece_id, p.reference, p.name, p.category, \
                     sum(u.quantity) AS quantity \
                 FROM chosen AS u JOIN top USING (piece_id) JOIN pieces AS p USING (piece_id) \
                 GROUP BY period, p.piece_id HAVING sum(u.quantity) <> 0 \
                 ORDER BY period, top.total DESC, p.piece_id",
                used("used", None),
                used("chosen", Some("top")),
                bucket.1
            ),
        ),
        Some(_) => {
            return Err(kit::Error::field(
                "group",
                "Par catégorie (category) ou par pièce (piece).",
            ));
        }
    };
    let mut params = vec![
        Value::Text(from.clone()),
        Value::Text(to.clone()),
        category.unwrap_or(Value::Null),
        piece.unwrap_or(Value::Null),
    ];
    if group == "piece" {
        params.push(Value::Integer(pieces));
    }
    let rows = db.execute(&sql, &params)?;
    let total: i64 = column(&rows, "quantity").sum();
    Ok(Report {
        summary: summary(json!({
            "date_from": from, "date_to": to, "by": bucket.0, "group": group, "quantity": total,
        })),
        rows,
        name: "consommation",
    })
}

/// `GET /api/stock/reports/movers/`: the pieces used most in the period.
pub fn movers(db: &Connection, query: &Query) -> Result<Report, kit::Error> {
    let (from, to) = period(db, query)?;
    let limit = Format::of(query)?.rows(query, 20)?;
    let rows = db.execute(
        &format!(
            "WITH {} SELECT t.piece_id, p.reference, p.name, p.category, t.used AS quantity, \
                 t.movements, COALESCE(lv.quantity, 0) AS level \
             FROM (SELECT piece_id, sum(quantity) AS used, \
                       sum(CASE WHEN quantity > 0 THEN 1 ELSE -1 END) AS movements \
                   FROM used GROUP BY piece_id HAVING used > 0 \
                   ORDER BY used DESC, piece_id LIMIT ?3) AS t \
             JOIN pieces AS p USING (piece_id) LEFT JOIN levels AS lv USING (piece_id) \
             ORDER BY t.used DESC, t.piece_id",
            used("used", None)
        ),
        &[
            Value::Text(from.clone()),
            Value::Text(to.clone()),
            Value::Integer(limit),
        ],
    )?;
    Ok(Report {
        summary: summary(json!({ "date_from": from, "date_to": to })),
        rows,
        name: "plus-utilisees",
    })
}

/// `GET /api/stock/reports/value/`: the stock's worth per category, at the
/// catalogue's prices, now or (`?at=`) as the ledger says it stood then.
pub fn value(db: &Connection, query: &Query) -> Result<Report, kit::Error> {
    let at = query.get("at").map(instant).transpose()?;
    // Each piece's level then is the total its last movement up to that
    // instant left; ids grow with time, so the cut is one id.
    let levels = match at {
        None => "levels",
        Some(_) => {
            "(SELECT last.piece_id, m.level_after AS quantity \
              FROM (SELECT piece_id, max(id) AS id FROM ledger \
                    WHERE id <= (SELECT id FROM cut) GROUP BY piece_id) AS last \
              JOIN ledger AS m ON m.id = last.id)"
        }
    };
    let rows = db.execute(
        &format!(
            "WITH cut (id) AS (SELECT COALESCE((SELECT id FROM ledger WHERE created_at <= ?1 \
                 ORDER BY created_at DESC, id DESC LIMIT 1), 0)) \
             SELECT p.category, count(*) AS pieces, sum(lv.quantity) AS quantity, \
                 sum(lv.quantity * COALESCE(c.price_cents, 0)) AS value_cents, \
                 sum(COALESCE(c.price_cents, 0) = 0) AS unpriced \
             FROM {levels} AS lv JOIN pieces AS p USING (piece_id) \
                 LEFT JOIN catalogue AS c USING (piece_id) \
             WHERE lv.quantity > 0 GROUP BY p.category ORDER BY value_cents DESC, p.category"
        ),
        &[at.clone().map_or(Value::Null, Value::Text)],
    )?;
    let total = |name| column(&rows, name).sum::<i64>();
    let summary = summary(json!({
        "at": at,
        "pieces": total("pieces"),
        "quantity": total("quantity"),
        "value_cents": total("value_cents"),
        "unpriced": total("unpriced"),
    }));
    Ok(Report {
        summary,
        rows,
        name: "valeur-du-stock",
    })
}

/// `GET /api/stock/reports/dormant/`: pieces in stock that no movement
/// touched for `days` days (90 by default), the most valuable first.
pub fn dormant(db: &Connection, query: &Query) -> Result<Report, kit::Error> {
    let days = query.integer("days", 1..=3650)?.unwrap_or(90);
    let limit = Format::of(query)?.rows(query, 100)?;
    let rows = db.execute(
        "SELECT p.piece_id, p.reference, p.name, p.category, lv.quantity, c.price_cents, \
             lv.quantity * COALESCE(c.price_cents, 0) AS value_cents, \
             lv.updated_at AS last_movement_at, \
             CAST(julianday('now') - julianday(lv.updated_at) AS INTEGER) AS days, \
             count(*) OVER () AS all_count, \
             sum(lv.quantity * COALESCE(c.price_cents, 0)) OVER () AS all_value \
         FROM levels AS lv JOIN pieces AS p USING (piece_id) \
             LEFT JOIN catalogue AS c USING (piece_id) \
         WHERE lv.quantity > 0 \
           AND lv.updated_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?1 || ' days') \
         ORDER BY value_cents DESC, lv.updated_at, p.piece_id LIMIT ?2",
        &[Value::Integer(days), Value::Integer(limit)],
    )?;
    let first = |name| column(&rows, name).next().unwrap_or(0);
    let summary = summary(json!({
        "days": days, "count": first("all_count"), "value_cents": first("all_value"),
    }));
    Ok(Report {
        summary,
        rows,
        name: "stock-dormant",
    })
}

/// `GET /api/stock/reports/out-of-stock/`: active pieces at 0, the longest
/// out first, then those never in stock (`since` null: stock has no level
/// for them, or one no movement ever changed).
pub fn out_of_stock(db: &Connection, query: &Query) -> Result<Report, kit::Error> {
    let limit = Format::of(query)?.rows(query, 100)?;
    let rows = db.execute(
        "SELECT piece_id, reference, name, category, min_stock, since, \
             CAST(julianday('now') - julianday(since) AS INTEGER) AS days, \
             since IS NOT NULL AS ever_stocked, count(*) OVER () AS all_count \
         FROM (SELECT p.piece_id, p.reference, p.name, p.category, p.min_stock, \
                   (SELECT m.created_at FROM ledger AS m WHERE m.piece_id = p.piece_id \
                    ORDER BY m.id DESC LIMIT 1) AS since \
               FROM pieces AS p LEFT JOIN levels AS lv USING (piece_id) \
               WHERE COALESCE(lv.quantity, 0) = 0 AND p.archived = 0) \
         ORDER BY since IS NULL, since, piece_id LIMIT ?1",
        &[Value::Integer(limit)],
    )?;
    let count = column(&rows, "all_count").next().unwrap_or(0);
    Ok(Report {
        summary: summary(json!({ "count": count })),
        rows,
        name: "ruptures",
    })
}

/// The period `date_from`..=`date_to` (dates), by default the year up to
/// today; at most [`MAX_DAYS`] long.
fn period(db: &Connection, query: &Query) -> Result<(String, String), kit::Error> {
    let date = |field| {
        query
            .get(field)
            .map(|raw| kit::page::date(field, raw).map(|d| Value::Text(d.to_owned())))
            .transpose()
            .map(|d| d.unwrap_or(Value::Null))
    };
    let result = db.execute(
        "SELECT f, t, julianday(t) - julianday(f) AS days FROM (SELECT \
             COALESCE(?1, date(COALESCE(?2, date('now')), '-1 year', '+1 day')) AS f, \
             COALESCE(?2, date('now')) AS t)",
        &[date("date_from")?, date("date_to")?],
    )?;
    let row = result
        .rows()
        .next()
        .ok_or_else(|| kit::Error::Internal("the period query answered nothing".into()))?;
    let days = row.get::<f64>("days").unwrap_or(0.0);
    if days < 0.0 {
        return Err(kit::Error::field(
            "date_from",
            "La période commence après sa fin.",
        ));
    }
    if days > MAX_DAYS {
        return Err(kit::Error::field(
            "date_from",
            "Une période de dix ans au plus.",
        ));
    }
    let text = |name| row.get::<&str>(name).unwrap_or_default().to_owned();
    Ok((text("f"), text("t")))
}

/// `at` as the ledger's timestamps sort: a date is its last millisecond,
/// an instant `YYYY-MM-DDTHH:MM:SS[.fff]Z` keeps its own (UTC only).
fn instant(raw: &str) -> Result<String, kit::Error> {
    let invalid = || {
        kit::Error::field(
            "at",
            "Date AAAA-MM-JJ ou instant AAAA-MM-JJTHH:MM:SS[.mmm]Z attendu.",
        )
    };
    let (day, time) = raw.split_once('T').unwrap_or((raw, ""));
    let day = kit::page::date("at", day)?;
    if time.is_empty() {
        return Ok(format!("{day}T23:59:59.999Z"));
    }
    let time = time.strip_suffix('Z').ok_or_else(invalid)?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let parts: Vec<u32> = clock
        .split(':')
        .map(|part| {
            (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    let valid_clock = matches!(parts[..], [h, m, s] if h < 24 && m < 60 && s < 60);
    let valid_fraction = fraction.len() <= 3 && fraction.bytes().all(|b| b.is_ascii_digit());
    if !valid_clock || !valid_fraction || (time.contains('.') && fraction.is_empty()) {
        return Err(invalid());
    }
    Ok(format!("{day}T{clock}.{fraction:0<3}Z"))
}

fn summary(fields: Json) -> Map<String, Json> {
    match fields {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// The integers of column `name`, row by row.
fn column<'a>(rows: &'a QueryResult, name: &'a str) -> impl Iterator<Item = i64> + 'a {
    rows.rows().filter_map(move |row| row.get::<i64>(name))
}

/// Columns a window adds for the summary, not part of a row.
fn is_row_column(name: &str) -> bool {
    !name.starts_with("all_")
}

/// Each row as an object, column by column; `ever_stocked` as a boolean.
fn objects(rows: &QueryResult) -> Vec<Json> {
    rows.rows
        .iter()
        .map(|row| {
            let fields = rows
                .columns
                .iter()
                .zip(&row.values)
                .filter(|(name, _)| is_row_column(name))
                .map(|(name, value)| {
                    let value = match (name.as_str(), value) {
                        ("ever_stocked", Value::Integer(flag)) => json!(*flag != 0),
                        (_, value) => json_of(value),
                    };
                    (name.clone(), value)
                });
            Json::Object(fields.collect())
        })
        .collect()
}

fn json_of(value: &Value) -> Json {
    match value {
        Value::Integer(n) => json!(n),
        Value::Real(x) => json!(x),
        Value::Text(s) => json!(s),
        Value::Blob(_) | Value::Null => Json::Null,
    }
}

/// The rows as CSV: a header of the column names, amounts in cents written
/// in currency units under their name without `_cents`.
fn csv(rows: &QueryResult) -> String {
    let columns: Vec<(usize, &str)> = rows
        .columns
        .iter()
        .enumerate()
        .filter(|(_, name)| is_row_column(name))
        .map(|(index, name)| (index, name.as_str()))
        .collect();
    let mut out = String::new();
    let header: Vec<&str> = columns
        .iter()
        .map(|(_, name)| name.strip_suffix("_cents").unwrap_or(name))
        .collect();
    kit::csv::write_record(&mut out, &header);
    for row in &rows.rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|&(index, name)| match &row.values[index] {
                Value::Integer(cents) if name.ends_with("_cents") => units(*cents),
                value => kit::csv::json_cell(&json_of(value)),
            })
            .collect();
        kit::csv::write_record(&mut out, &cells);
    }
    out
}

/// Cents as a decimal amount, `1234` as `12.34`.
fn units(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_sorts_as_the_ledger_writes_time() {
        assert_eq!(instant("2026-11-30").unwrap(), "2026-11-30T23:59:59.999Z");
        assert_eq!(
            instant("2026-11-30T08:05:09Z").unwrap(),
            "2026-11-30T08:05:09.000Z"
        );
        assert_eq!(
            instant("2026-11-30T08:05:09.5Z").unwrap(),
            "2026-11-30T08:05:09.500Z"
        );
        for bad in [
            "2026-11-31",
            "2026-11-30T08:05:09",
            "2026-11-30T24:00:00Z",
            "2026-11-30T08:05Z",
            "2026-11-30T08:05:09.Z",
            "2026-11-30T08:05:09.1234Z",
            "2026-11-30T08:05:09+01:00",
            "2026-11-30T8:05:09Z",
        ] {
            assert!(instant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_written_in_currency_units() {
        assert_eq!(units(123_456), "1234.56");
        assert_eq!(units(5), "0.05");
        assert_eq!(units(-250), "-2.50");
    }

    #[test]
    fn csv_lists_the_row_columns_and_converts_cents() {
        let rows = QueryResult {
            columns: vec!["category".into(), "value_cents".into(), "all_count".into()],
            rows: vec![spin_sdk::sqlite::RowResult {
                values: vec![
                    Value::Text("=1+1".into()),
                    Value::Integer(1050),
                    Value::Integer(1),
                ],
            }],
        };
        assert_eq!(csv(&rows), "category,value\r\n'=1+1,10.50\r\n");
        assert_eq!(
            objects(&rows),
            vec![json!({"category": "=1+1", "value_cents": 1050})]
        );
    }

    #[test]
    fn format_and_limit_are_checked() {
        assert_eq!(
            Format::of(&Query::parse("format=csv")).unwrap(),
            Format::Csv
        );
        assert!(Format::of(&Query::parse("format=xml")).is_err());
        assert_eq!(Format::Json.rows(&Query::parse(""), 20).unwrap(), 20);
        assert_eq!(Format::Csv.rows(&Query::parse(""), 20).unwrap(), CSV_ROWS);
        assert!(Format::Json.rows(&Query::parse("limit=1001"), 20).is_err());
        assert!(Format::Json.rows(&Query::parse("limit=0"), 20).is_err());
    }
}
