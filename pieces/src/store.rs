//! Every SQL statement of the service. Each write is ONE statement, so it is
//! atomic on any Spin host without a transaction across `execute` calls:
//! an update checks the version in its own `WHERE`, an import upserts every
//! row from one JSON parameter (see README.md, « Atomicité »).

use serde_json::json;
use spin_sdk::sqlite::{Connection, QueryResult, Row, Value};

use kit::Error;
use kit::page::Page;

use crate::listing::{Filter, Query};
use crate::model::{Draft, FieldErrors, Piece};

const COLUMNS: &str = "id, reference, name, description, category, unit, price_cents, \
    min_stock, location, barcode, archived, version, created_at, updated_at, created_by";
/// UTC now as ISO 8601 with milliseconds; text of this shape sorts by time.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
/// The shortest search word the trigram index can find; shorter ones scan.
const TRIGRAM: usize = 3;

/// A page of pieces and how many match in all.
pub fn list(db: &Connection, query: &Query, page: &Page) -> Result<(i64, Vec<Piece>), Error> {
    let (filter_sql, params) = where_clause(&query.filter);
    let (count, rows) = page.select(
        db,
        &format!("SELECT {COLUMNS} FROM pieces WHERE {filter_sql}"),
        &query.order_by(),
        &params,
    )?;
    Ok((count, pieces(&rows)?))
}

/// Every piece the filter selects, in `order_by` order (the CSV export).
pub fn all(db: &Connection, query: &Query) -> Result<Vec<Piece>, Error> {
    let (filter_sql, params) = where_clause(&query.filter);
    let sql = format!(
        "SELECT {COLUMNS} FROM pieces WHERE {filter_sql} ORDER BY {}",
        query.order_by()
    );
    pieces(&db.execute(&sql, &params)?)
}

/// Non-empty categories with their number of pieces, by name.
pub fn categories(db: &Connection, filter: &Filter) -> Result<Vec<(String, i64)>, Error> {
    let (filter_sql, params) = where_clause(filter);
    let sql = format!(
        "SELECT category, count(*) FROM pieces WHERE category <> '' AND {filter_sql} \
         GROUP BY category ORDER BY category"
    );
    db.execute(&sql, &params)?
        .rows
        .iter()
        .map(|row| match (row.get::<&str>(0), row.get::<i64>(1)) {
            (Some(category), Some(count)) => Ok((category.to_owned(), count)),
            _ => Err(corrupt("categories")),
        })
        .collect()
}

pub fn get(db: &Connection, id: i64) -> Result<Option<Piece>, Error> {
    let result = db.execute(
        &format!("SELECT {COLUMNS} FROM pieces WHERE id = ?"),
        &[Value::Integer(id)],
    )?;
    Ok(pieces(&result)?.into_iter().next())
}

/// Field errors for what `draft` would duplicate: its reference (compared
/// case-insensitively) or its barcode, on a piece other than `except`.
/// The unique indexes stay the guard against a concurrent writer.
pub fn conflicts(
    db: &Connection,
    draft: &Draft,
    except: Option<i64>,
) -> Result<FieldErrors, Error> {
    let except = Value::Integer(except.unwrap_or(0));
    let mut errors = FieldErrors::new();
    let taken = db.execute(
        "SELECT reference FROM pieces WHERE reference_key = ? AND id <> ?",
        &[Value::Text(draft.reference_key()), except.clone()],
    )?;
    if let Some(other) = taken.rows.first().and_then(|row| row.get::<&str>(0)) {
        errors.insert(
            "reference".into(),
            vec![format!(
                "Cette référence existe déjà (« {other} »), sans tenir compte de la casse."
            )],
        );
    }
    if let Some(barcode) = &draft.barcode {
        let taken = db.execute(
            "SELECT reference FROM pieces WHERE barcode = ? AND id <> ?",
            &[Value::Text(barcode.clone()), except],
        )?;
        if let Some(other) = taken.rows.first().and_then(|row| row.get::<&str>(0)) {
            errors.insert(
                "barcode".into(),
                vec![format!(
                    "Ce code-barres est déjà celui de la pièce « {other} »."
                )],
            );
        }
    }
    Ok(errors)
}

pub fn insert(db: &Connection, draft: &Draft, created_by: &str) -> Result<Piece, Error> {
    let mut params = draft_params(draft);
    params.push(Value::Text(created_by.to_owned()));
    let sql = format!(
        "INSERT INTO pieces (reference, reference_key, name, name_key, description, category, \
         unit, price_cents, min_stock, location, barcode, archived, search, created_by, \
         created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW}, {NOW}) RETURNING {COLUMNS}"
    );
    let result = db.execute(&sql, &params).map_err(unique_violation)?;
    pieces(&result)?
        .into_iter()
        .next()
        .ok_or_else(|| corrupt("insert"))
}

/// Replaces the fields of piece `id` if it is still at `version`, in one
/// statement (its audit row with it); `None` when it is not (changed
/// meanwhile, or gone).
pub fn update(
    db: &Connection,
    id: i64,
    version: i64,
    draft: &Draft,
    user: &str,
) -> Result<Option<Piece>, Error> {
    let mut params = draft_params(draft);
    params.extend([
        Value::Text(user.to_owned()),
        Value::Integer(id),
        Value::Integer(version),
    ]);
    let sql = format!(
        "UPDATE pieces SET reference = ?, reference_key = ?, name = ?, name_key = ?, \
         description = ?, category = ?, unit = ?, price_cents = ?, min_stock = ?, location = ?, \
         barcode = ?, archived = ?, search = ?, updated_by = ?, version = version + 1, \
         updated_at = {NOW} WHERE id = ? AND version = ? RETURNING {COLUMNS}"
    );
    let result = db.execute(&sql, &params).map_err(unique_violation)?;
    Ok(pieces(&result)?.into_iter().next())
}

/// Marks piece `id` archived (a new version); `None` if it is gone.
pub fn archive(db: &Connection, id: i64, user: &str) -> Result<Option<Piece>, Error> {
    let sql = format!(
        "UPDATE pieces SET archived = 1, updated_by = ?, version = version + 1, updated_at = {NOW} \
         WHERE id = ? RETURNING {COLUMNS}"
    );
    let params = [Value::Text(user.to_owned()), Value::Integer(id)];
    Ok(pieces(&db.execute(&sql, &params)?)?.into_iter().next())
}

/// Deletes piece `id`; whether there was one. Who deletes is written on
/// the row first (no new version: no audit row, nothing for stock), for
/// the deletion's audit row to name them.
pub fn delete(db: &Connection, id: i64, user: &str) -> Result<bool, Error> {
    db.execute(
        "UPDATE pieces SET updated_by = ? WHERE id = ?",
        &[Value::Text(user.to_owned()), Value::Integer(id)],
    )?;
    let result = db.execute(
        "DELETE FROM pieces WHERE id = ? RETURNING id",
        &[Value::Integer(id)],
    )?;
    Ok(!result.rows.is_empty())
}

/// For each barcode of `barcodes`, the reference key of the piece holding it.
pub fn barcode_owners(db: &Connection, barcodes: &[&str]) -> Result<Vec<(String, String)>, Error> {
    let result = db.execute(
        "SELECT barcode, reference_key FROM pieces \
         WHERE barcode IN (SELECT value FROM json_each(?))",
        &[Value::Text(json!(barcodes).to_string())],
    )?;
    result
        .rows
        .iter()
        .map(|row| match (row.get::<&str>(0), row.get::<&str>(1)) {
            (Some(barcode), Some(key)) => Ok((barcode.to_owned(), key.to_owned())),
            _ => Err(corrupt("barcode owners")),
        })
        .collect()
}

/// How an import changed the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
}

/// Inserts or updates every draft, matched by reference key, in ONE
/// statement: all rows are written or none is. A row identical to its piece
/// is left alone (no new version); `RETURNING version` tells the others apart,
/// since a new piece starts at version 1 and an updated one is above it.
pub fn upsert_all(db: &Connection, drafts: &[Draft], user: &str) -> Result<Imported, Error> {
    let rows: Vec<serde_json::Value> = drafts
        .iter()
        .map(|d| {
            json!({
                "reference": d.reference, "reference_key": d.reference_key(),
                "name": d.name, "name_key": d.name_key(), "description": d.description,
                "category": d.category, "unit": d.unit, "price_cents": d.price_cents,
                "min_stock": d.min_stock, "location": d.location, "barcode": d.barcode,
                "archived": d.archived, "search": d.search_text(),
            })
        })
        .collect();
    let field = |name: &str| format!("json_extract(value, '$.{name}')");
    let fields = [
        "reference",
        "reference_key",
        "name",
        "name_key",
        "description",
        "category",
        "unit",
        "price_cents",
        "min_stock",
        "location",
        "barcode",
        "archived",
        "search",
    ];
    let selected: Vec<String> = fields.iter().map(|f| field(f)).collect();
    let updates: Vec<String> = fields
        .iter()
        .filter(|f| **f != "reference_key")
        .map(|f| format!("{f} = excluded.{f}"))
        .collect();
    let changed: Vec<String> = fields
        .iter()
        .map(|f| format!("pieces.{f} IS NOT excluded.{f}"))
        .collect();
    // `WHERE true` is SQLite's documented way to tell an upsert's ON
    // CONFLICT from a join condition after `INSERT ... SELECT`.
    let sql = format!(
        "INSERT INTO pieces ({}, created_by, created_at, updated_at) \
         SELECT {}, ?, {NOW}, {NOW} FROM json_each(?) WHERE true \
         ON CONFLICT (reference_key) DO UPDATE SET {}, version = pieces.version + 1, \
         updated_at = excluded.updated_at, updated_by = excluded.created_by WHERE {} RETURNING version",
        fields.join(", "),
        selected.join(", "),
        updates.join(", "),
        changed.join(" OR "),
    );
    let result = db
        .execute(
            &sql,
            &[
                Value::Text(user.to_owned()),
                Value::Text(serde_json::Value::Array(rows).to_string()),
            ],
        )
        .map_err(unique_violation)?;
    let created = result
        .rows
        .iter()
        .filter(|row| row.get::<i64>(0) == Some(1))
        .count();
    Ok(Imported {
        created,
        updated: result.rows.len() - created,
    })
}

/// The writable columns of `draft`, in the order `insert` and `update` list them.
fn draft_params(d: &Draft) -> Vec<Value> {
    vec![
        Value::Text(d.reference.clone()),
        Value::Text(d.reference_key()),
        Value::Text(d.name.clone()),
        Value::Text(d.name_key()),
        Value::Text(d.description.clone()),
        Value::Text(d.category.clone()),
        Value::Text(d.unit.clone()),
        Value::Integer(d.price_cents),
        Value::Integer(d.min_stock),
        Value::Text(d.location.clone()),
        d.barcode.clone().map_or(Value::Null, Value::Text),
        Value::Integer(i64::from(d.archived)),
        Value::Text(d.search_text()),
    ]
}

/// The `WHERE` condition of `filter` (never empty) and its parameters.
/// Words of three characters or more go through the trigram index; shorter
/// ones, which it cannot find, fall back to `LIKE` on the same folded text.
fn where_clause(filter: &Filter) -> (String, Vec<Value>) {
    let mut conditions = vec!["1".to_owned()];
    let mut params = Vec::new();
    let (indexed, short): (Vec<&String>, Vec<&String>) = filter
        .words
        .iter()
        .partition(|word| word.chars().count() >= TRIGRAM);
    if !indexed.is_empty() {
        // Each word as an FTS5 string (quotes doubled): matched literally,
        // never read as query syntax; juxtaposed strings must all match.
        let expression: Vec<String> = indexed
            .iter()
            .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
            .collect();
        conditions.push("id IN (SELECT rowid FROM pieces_fts WHERE pieces_fts MATCH ?)".into());
        params.push(Value::Text(expression.join(" ")));
    }
    for word in short {
        conditions.push("search LIKE ? ESCAPE '\\'".into());
        let escaped = word
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        params.push(Value::Text(format!("%{escaped}%")));
    }
    if let Some(category) = &filter.category {
        conditions.push("category = ?".into());
        params.push(Value::Text(category.clone()));
    }
    if let Some(archived) = filter.archived {
        conditions.push("archived = ?".into());
        params.push(Value::Integer(i64::from(archived)));
    }
    (conditions.join(" AND "), params)
}

fn pieces(result: &QueryResult) -> Result<Vec<Piece>, Error> {
    result.rows().map(|row| piece(&row)).collect()
}

fn piece(row: &Row<'_>) -> Result<Piece, Error> {
    let text = |name: &str| {
        row.get::<&str>(name)
            .map(str::to_owned)
            .ok_or_else(|| corrupt(name))
    };
    let integer = |name: &str| row.get::<i64>(name).ok_or_else(|| corrupt(name));
    Ok(Piece {
        id: integer("id")?,
        draft: Draft {
            reference: text("reference")?,
            name: text("name")?,
            description: text("description")?,
            category: text("category")?,
            unit: text("unit")?,
            price_cents: integer("price_cents")?,
            min_stock: integer("min_stock")?,
            location: text("location")?,
            barcode: row.get::<&str>("barcode").map(str::to_owned),
            archived: integer("archived")? != 0,
        },
        version: integer("version")?,
        created_at: text("created_at")?,
        updated_at: text("updated_at")?,
        created_by: text("created_by")?,
    })
}

/// A row that breaks the schema's own rules: ours to fix, so a 500.
fn corrupt(what: &str) -> Error {
    Error::Internal(format!("unexpected row shape in pieces ({what})").into())
}

/// A unique index refusing a write, which the pre-checks let through only
/// when another writer got there in between: a 409 naming the field, as the
/// pre-check would have. Any other failure stays a database error.
fn unique_violation(error: spin_sdk::sqlite::Error) -> Error {
    for (column, field) in [
        ("pieces.reference_key", "reference"),
        ("pieces.barcode", "barcode"),
    ] {
        if kit::constraint::is_unique_violation(&error, column) {
            return conflict(FieldErrors::from([(
                field.to_owned(),
                vec!["Cette valeur vient d'être prise par une autre pièce.".to_owned()],
            )]));
        }
    }
    Error::Database(error)
}

/// 409 naming the fields another piece already holds.
pub fn conflict(fields: FieldErrors) -> Error {
    Error::ConflictWith {
        detail: "Une autre pièce a déjà cette valeur.".into(),
        members: fields
            .into_iter()
            .map(|(field, messages)| (field, json!(messages)))
            .collect(),
    }
}

pub fn refuse_conflicts(fields: FieldErrors) -> Result<(), Error> {
    if fields.is_empty() {
        Ok(())
    } else {
        Err(conflict(fields))
    }
}
