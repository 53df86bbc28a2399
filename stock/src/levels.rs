//! `GET /api/stock/` and `GET /api/stock/{piece_id}/`: each catalogue
//! piece's level and status, 0 until its first movement, and what each
//! location holds of it. Statuses compare the total with the minimum.

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::locations::subtree;
use crate::pieces::Piece;
use crate::schema::STATUS_SQL;
use kit::page::{Page, Query};

const ORDERINGS: &[(&str, &str)] = &[
    ("reference", "reference"),
    ("name", "name"),
    ("quantity", "quantity"),
    ("updated_at", "updated_at"),
];

/// A level as the API shows it, from a source of the columns
/// `piece_id, reference, name, quantity, min_stock, updated_at, archived,
/// here` (what the filtered location holds, or NULL).
fn levels_from(source: &str) -> String {
    format!(
        "SELECT piece_id, reference, name, quantity, min_stock, {STATUS_SQL} AS status, updated_at, \
                archived, here \
         FROM ({source})"
    )
}

/// Every known piece with its level (0 before its first movement), or,
/// given the parameter naming a location, only the pieces held in it or
/// below it, with what they hold there; filters append `AND ...` to it.
fn select(location: Option<&str>) -> String {
    // A location's pieces are read from what it holds, then sorted: a
    // `CROSS JOIN` keeps SQLite from walking the whole catalogue in order
    // instead, probing each piece.
    let (here, pieces) = match location {
        None => ("NULL".to_owned(), "pieces AS p".to_owned()),
        Some(parameter) => (
            "h.here".to_owned(),
            format!(
                "(SELECT piece_id, SUM(quantity) AS here FROM location_levels \
                  WHERE quantity > 0 AND location_id IN ({}) GROUP BY piece_id) AS h \
                 CROSS JOIN pieces AS p ON p.piece_id = h.piece_id",
                subtree(parameter)
            ),
        ),
    };
    format!(
        "{} WHERE 1 = 1",
        levels_from(&format!(
            "SELECT p.piece_id, p.reference, p.name, COALESCE(l.quantity, 0) AS quantity, p.min_stock, \
                    l.updated_at, p.archived, {here} AS here \
             FROM {pieces} LEFT JOIN levels AS l ON l.piece_id = p.piece_id"
        ))
    )
}

/// Appends `value` to `params` and names it in SQL.
fn bind(params: &mut Vec<Value>, value: Value) -> String {
    params.push(value);
    format!("?{}", params.len())
}

/// Longest accepted search, well beyond any reference or name.
const MAX_SEARCH_CHARS: usize = 200;

pub fn list(db: &Connection, request: &Request, query: &Query) -> Result<Json, kit::Error> {
    let page = Page::from_query(query)?;
    let mut filter = String::new();
    let mut params = Vec::new();
    let location = match query.get("location") {
        None => None,
        Some(id) => {
            let id = id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                kit::Error::field("location", "Identifiant d'emplacement invalide.")
            })?;
            Some(bind(&mut params, Value::Integer(id)))
        }
    };
    if let Some(search) = query.get("search") {
        if search.chars().count() > MAX_SEARCH_CHARS {
            // Nothing that long is stored; SQLite also caps LIKE patterns.
            return Err(kit::Error::field(
                "search",
                format!("Recherche trop longue : {MAX_SEARCH_CHARS} caractères au plus."),
            ));
        }
        // Folded text against folded text (`kit::text::fold`, as pieces'
        // search): `écrou` finds `Écrou`, `ECROU` and `ecrou`.
        let pattern = bind(&mut params, Value::Text(search_pattern(search)));
        let unfolded = bind(
            &mut params,
            Value::Text(json!(unfolded_matches(db, search)?).to_string()),
        );
        filter.push_str(&format!(
            " AND (piece_id IN (SELECT piece_id FROM pieces_folded \
                                WHERE reference LIKE {pattern} ESCAPE '\\' \
                                   OR name LIKE {pattern} ESCAPE '\\') \
                   OR piece_id IN (SELECT value FROM json_each({unfolded})))"
        ));
    }
    // An archived piece leaves the list (its level and ledger stay, and
    // `?archived=true` lists them).
    match query.get("archived") {
        None | Some("false") => filter.push_str(" AND archived = 0"),
        Some("true") => filter.push_str(" AND archived = 1"),
        Some(_) => return Err(kit::Error::field("archived", "true ou false.")),
    }
    if let Some(status) = query.get("status") {
        if !matches!(status, "ok" | "low" | "out") {
            return Err(kit::Error::field(
                "status",
                "Statut inconnu : ok, low ou out.",
            ));
        }
        let status = bind(&mut params, Value::Text(status.to_owned()));
        filter.push_str(&format!(" AND ({STATUS_SQL}) = {status}"));
    }
    let order = ordering(query.get("ordering"))?;
    let (count, rows) = page.select(
        db,
        &format!("{}{filter}", select(location.as_deref())),
        &format!("{order}, piece_id"),
        &params,
    )?;
    let results = rows.rows().map(|row| to_json(&row)).collect();
    page.document(request, count, results)
}

/// The level of a piece stock does not know, from the pieces service's data:
/// 0, never moved. Computed, not stored (a read does not make a piece known);
/// through SQL all the same, so that the status follows `STATUS_SQL`.
pub fn unseen(db: &Connection, piece: &Piece) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &levels_from(
            "SELECT ?1 AS piece_id, ?2 AS reference, ?3 AS name, 0 AS quantity, ?4 AS min_stock, \
                    NULL AS updated_at, ?5 AS archived, NULL AS here",
        ),
        &[
            Value::Integer(piece.id),
            Value::Text(piece.reference.clone()),
            Value::Text(piece.name.clone()),
            Value::Integer(piece.min_stock),
            Value::Integer(piece.archived.into()),
        ],
    )?;
    let mut level = rows
        .rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or_else(|| kit::Error::Internal("a one-row SELECT returned nothing".into()))?;
    level["locations"] = json!([]);
    Ok(level)
}

/// Active pieces purchasing may reorder: each with a minimum and held at
/// or below it, at most [`MAX_REORDER`] of them, lowest id first.
pub fn below_minimum(db: &Connection) -> Result<Json, kit::Error> {
    let rows = db.execute(
        "SELECT p.piece_id, p.reference, p.name, COALESCE(l.quantity, 0) AS quantity, p.min_stock \
         FROM pieces AS p LEFT JOIN levels AS l ON l.piece_id = p.piece_id \
         WHERE p.archived = 0 AND p.min_stock > 0 AND COALESCE(l.quantity, 0) <= p.min_stock \
         ORDER BY p.piece_id LIMIT ?1",
        &[Value::Integer(MAX_REORDER)],
    )?;
    Ok(Json::Array(
        rows.rows()
            .map(|row| {
                json!({
                    "piece_id": row.get::<i64>("piece_id"),
                    "reference": row.get::<&str>("reference"),
                    "name": row.get::<&str>("name"),
                    "quantity": row.get::<i64>("quantity"),
                    "min_stock": row.get::<i64>("min_stock"),
                })
            })
            .collect(),
    ))
}

/// More pieces below their minimum than a buyer reads in one list.
pub const MAX_REORDER: i64 = 5000;

/// A piece's level, with what each location holding some of it holds.
pub fn one(db: &Connection, piece_id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &format!("{} AND piece_id = ?1", select(None)),
        &[Value::Integer(piece_id)],
    )?;
    let mut level = rows
        .rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(kit::Error::NotFound)?;
    let held = db.execute(
        "SELECT h.location_id, l.code, l.name, h.quantity \
         FROM location_levels AS h JOIN locations AS l ON l.id = h.location_id \
         WHERE h.piece_id = ?1 AND h.quantity > 0 ORDER BY l.code",
        &[Value::Integer(piece_id)],
    )?;
    level["locations"] = held
        .rows()
        .map(|row| {
            json!({
                "location_id": row.get::<i64>("location_id"),
                "code": row.get::<&str>("code"),
                "name": row.get::<&str>("name"),
                "quantity": row.get::<i64>("quantity"),
            })
        })
        .collect();
    Ok(level)
}

/// `ordering=name` or `-name`; anything outside the whitelist is refused.
fn ordering(requested: Option<&str>) -> Result<String, kit::Error> {
    let Some(requested) = requested else {
        return Ok("reference".into());
    };
    let (field, direction) = match requested.strip_prefix('-') {
        Some(field) => (field, " DESC"),
        None => (requested, ""),
    };
    ORDERINGS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, column)| format!("{column}{direction}"))
        .ok_or_else(|| {
            kit::Error::field(
                "ordering",
                "Tri possible sur reference, name, quantity, updated_at.",
            )
        })
}

/// The `LIKE` pattern `search` is matched with against the folded text of
/// `pieces_folded`: folded the same way, `%` and `_` taken literally.
fn search_pattern(search: &str) -> String {
    format!("%{}%", escape_like(&kit::text::fold(search)))
}

/// The pieces matching `search` among those without a row in
/// `pieces_folded` (remembered before stock folded text, or whose folding
/// write failed), folded here and now; none, usually. Stored text is folded
/// on the write paths only: a read writes nothing.
fn unfolded_matches(db: &Connection, search: &str) -> Result<Vec<i64>, kit::Error> {
    let search = kit::text::fold(search);
    let rows = db.execute(
        "SELECT piece_id, reference, name FROM pieces \
         WHERE piece_id NOT IN (SELECT piece_id FROM pieces_folded)",
        &[],
    )?;
    Ok(rows
        .rows()
        .filter(|row| {
            ["reference", "name"]
                .into_iter()
                .any(|column| contains_folded(row.get::<&str>(column).unwrap_or_default(), &search))
        })
        .filter_map(|row| row.get::<i64>("piece_id"))
        .collect())
}

/// Whether `text`, folded, contains `folded`: what `search_pattern` asks
/// of stored folded text.
fn contains_folded(text: &str, folded: &str) -> bool {
    kit::text::fold(text).contains(folded)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn to_json(row: &Row<'_>) -> Json {
    let mut level = json!({
        "piece_id": row.get::<i64>("piece_id"),
        "reference": row.get::<&str>("reference"),
        "name": row.get::<&str>("name"),
        "quantity": row.get::<i64>("quantity"),
        "min_stock": row.get::<i64>("min_stock"),
        "status": row.get::<&str>("status"),
        "updated_at": row.get::<&str>("updated_at"),
        "archived": row.get::<i64>("archived").is_some_and(|a| a != 0),
    });
    if let Some(here) = row.get::<i64>("here") {
        level["location_quantity"] = here.into();
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_is_whitelisted() {
        assert_eq!(ordering(Some("-quantity")).unwrap(), "quantity DESC");
        assert_eq!(ordering(None).unwrap(), "reference");
        assert!(ordering(Some("quantity; DROP TABLE levels")).is_err());
    }

    #[test]
    fn the_search_limit_is_documented() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("the document");
        let search = document["paths"]["/api/stock/"]["get"]["parameters"]
            .as_array()
            .and_then(|parameters| parameters.iter().find(|p| p["name"] == "search"))
            .expect("the search parameter");
        assert_eq!(search["schema"]["maxLength"], MAX_SEARCH_CHARS);
    }

    #[test]
    fn like_wildcards_in_searches_are_literal() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
        assert_eq!(search_pattern("50%_A"), "%50\\%\\_a%");
    }

    #[test]
    fn searches_fold_case_and_accents_as_pieces_does() {
        for search in ["écrou", "ÉCROU", "Ecrou", "e\u{301}crou"] {
            assert_eq!(search_pattern(search), "%ecrou%", "{search}");
        }
        assert_eq!(search_pattern("Œillet"), "%oeillet%");
        assert!(contains_folded(
            "Écrou à œillet",
            &kit::text::fold("OEILLET")
        ));
        assert!(contains_folded("ECR-M8", &kit::text::fold("écr-m")));
        assert!(!contains_folded("Boulon", &kit::text::fold("écrou")));
    }
}
