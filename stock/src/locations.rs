//! `/api/stock/locations/`: where stock is kept, a tree (site, zone, bin).
//!
//! Each rule that two requests could race on is the `WHERE` of the one
//! statement that writes: a parent that is not a descendant (no cycle), a
//! location emptied (and not being counted) before it is archived, unused
//! before it is deleted. The default location
//! ([`DEFAULT_LOCATION`]) is never archived nor deleted: movements that
//! name no location go there.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Row, Value};

use crate::error::StockError;
use crate::order::DEFAULT_LOCATION;
use crate::statements::NOW;

const MAX_CODE_CHARS: usize = 40;
const MAX_NAME_CHARS: usize = 200;

/// The ids of the location named by `root` (an SQL expression) and of every
/// location below it.
pub fn subtree(root: &str) -> String {
    format!("{} SELECT id FROM subtree", with_subtree(root))
}

/// The table `subtree (id)` of [`subtree`], for a statement to follow.
fn with_subtree(root: &str) -> String {
    format!(
        "WITH RECURSIVE subtree (id) AS (SELECT {root} \
         UNION SELECT child.id FROM locations AS child JOIN subtree ON child.parent_id = subtree.id)"
    )
}

/// Each location with its path from the root (`Atelier / Étagère A`), its
/// depth, and how many pieces and units it holds itself.
fn select() -> String {
    "WITH RECURSIVE tree (id, path, depth) AS (\
        SELECT id, name, 0 FROM locations WHERE parent_id IS NULL \
        UNION ALL SELECT child.id, tree.path || ' / ' || child.name, tree.depth + 1 \
        FROM locations AS child JOIN tree ON child.parent_id = tree.id) \
     SELECT l.id, l.code, l.name, l.parent_id, l.archived, l.created_at, l.updated_at, \
        tree.path, tree.depth, \
        (SELECT COUNT(*) FROM location_levels AS h WHERE h.location_id = l.id AND h.quantity > 0) AS pieces, \
        (SELECT COALESCE(SUM(quantity), 0) FROM location_levels AS h WHERE h.location_id = l.id) AS quantity \
     FROM locations AS l JOIN tree USING (id)"
        .to_owned()
}

/// `GET /api/stock/locations/`: the whole tree, parents before children
/// (ordered by path); archived ones only with `archived=true`.
pub fn list(db: &Connection, archived: Option<&str>) -> Result<Json, kit::Error> {
    let filter = match archived {
        None | Some("false") => " WHERE l.archived = 0",
        Some("true") => "",
        Some(_) => return Err(kit::Error::field("archived", "true ou false.")),
    };
    let rows = db.execute(&format!("{}{filter} ORDER BY tree.path", select()), &[])?;
    Ok(Json::Array(rows.rows().map(|row| to_json(&row)).collect()))
}

pub fn one(db: &Connection, id: i64) -> Result<Json, kit::Error> {
    let rows = db.execute(
        &format!("{} WHERE l.id = ?1", select()),
        &[Value::Integer(id)],
    )?;
    rows.rows()
        .next()
        .map(|row| to_json(&row))
        .ok_or(kit::Error::NotFound)
}

/// What a location label encodes before the location's code.
pub const LABEL_PREFIX: &str = "EMPL:";

/// The label of a location as [`one`] shows it.
pub fn label(location: &Json) -> kit::labels::Label {
    let text = |name: &str| location[name].as_str().unwrap_or_default().to_owned();
    kit::labels::Label {
        code: format!("{LABEL_PREFIX}{}", text("code")),
        title: text("code"),
        lines: vec![text("name"), text("path")],
    }
}

/// The body of `POST` (every field but `archived`) and `PATCH` (any).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[serde(default, deserialize_with = "present")]
    code: Option<Json>,
    #[serde(default, deserialize_with = "present")]
    name: Option<Json>,
    /// Absent: unchanged (PATCH) or a root (POST); `null`: a root.
    #[serde(default, deserialize_with = "present")]
    parent_id: Option<Json>,
    #[serde(default, deserialize_with = "present")]
    archived: Option<Json>,
}

/// Tells a `null` apart from an absent field: `Some(Json::Null)`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(deserializer).map(Some)
}

/// A checked change: each field `None` when not given.
#[derive(Debug, Default, PartialEq)]
pub struct Change {
    code: Option<String>,
    name: Option<String>,
    /// `Some(None)`: becomes a root.
    parent: Option<Option<i64>>,
    archived: Option<bool>,
}

impl Input {
    /// Every field checked, every problem reported at once; a new location
    /// needs a code and a name, and is never created archived.
    pub fn validate(self, creating: bool) -> Result<Change, kit::Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut fail = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_default().push(message);
        };
        let code = match self.code {
            None if creating => {
                fail("code", "Code requis.".into());
                None
            }
            None => None,
            Some(Json::String(code)) => {
                if code.is_empty()
                    || code.chars().count() > MAX_CODE_CHARS
                    || code.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    fail(
                        "code",
                        format!("1 à {MAX_CODE_CHARS} caractères, sans espace."),
                    );
                }
                Some(code)
            }
            Some(_) => {
                fail("code", "Texte attendu.".into());
                None
            }
        };
        let name = match self.name {
            None if creating => {
                fail("name", "Nom requis.".into());
                None
            }
            None => None,
            Some(Json::String(name)) => {
                if name.trim().is_empty()
                    || name.chars().count() > MAX_NAME_CHARS
                    || name.chars().any(char::is_control)
                {
                    fail("name", format!("1 à {MAX_NAME_CHARS} caractères."));
                }
                Some(name.trim().to_owned())
            }
            Some(_) => {
                fail("name", "Texte attendu.".into());
                None
            }
        };
        let parent = match self.parent_id {
            None => None,
            Some(Json::Null) => Some(None),
            Some(value) => match value.as_i64() {
                Some(id) if id > 0 => Some(Some(id)),
                _ => {
                    fail(
                        "parent_id",
                        "Identifiant d'emplacement (entier positif) ou null.".into(),
                    );
                    None
                }
            },
        };
        let archived = match self.archived {
            None => None,
            Some(_) if creating => {
                fail(
                    "archived",
                    "Un emplacement se crée actif ; archivez-le ensuite.".into(),
                );
                None
            }
            Some(Json::Bool(archived)) => Some(archived),
            Some(_) => {
                fail("archived", "true ou false.".into());
                None
            }
        };
        if !errors.is_empty() {
            return Err(kit::Error::Validation(errors));
        }
        Ok(Change {
            code,
            name,
            parent,
            archived,
        })
    }
}

/// `POST /api/stock/locations/`: under an existing, active parent.
pub fn create(db: &Connection, change: &Change) -> Result<i64, kit::Error> {
    let parent = change.parent.flatten();
    let inserted = db
        .execute(
            &format!(
                "INSERT INTO locations (code, name, parent_id, created_at, updated_at) \
                 SELECT ?1, ?2, ?3, {NOW}, {NOW} \
                 WHERE ?3 IS NULL OR EXISTS (SELECT 1 FROM locations WHERE id = ?3 AND archived = 0) \
                 RETURNING id"
            ),
            &[
                Value::Text(change.code.clone().unwrap_or_default()),
                Value::Text(change.name.clone().unwrap_or_default()),
                parent.map_or(Value::Null, Value::Integer),
            ],
        )
        .map_err(duplicate_code)?;
    inserted
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("id"))
        .ok_or_else(|| StockError::UnknownLocation("parent_id").into())
}

/// `PATCH /api/stock/locations/{id}/`: one `UPDATE` whose `WHERE` holds
/// every rule, then, if it matched nothing, the reason.
pub fn update(db: &Connection, id: i64, change: &Change) -> Result<(), kit::Error> {
    if id == DEFAULT_LOCATION && change.archived == Some(true) {
        return Err(StockError::DefaultLocation.into());
    }
    let (parent_given, parent) = match change.parent {
        None => (0, Value::Null),
        Some(parent) => (1, parent.map_or(Value::Null, Value::Integer)),
    };
    let updated = db
        .execute(
            &format!(
                "UPDATE locations SET code = COALESCE(?2, code), name = COALESCE(?3, name), \
                    parent_id = CASE WHEN ?4 THEN ?5 ELSE parent_id END, \
                    archived = COALESCE(?6, archived), updated_at = {NOW} \
                 WHERE id = ?1 \
                   AND (NOT ?4 OR ?5 IS NULL OR (EXISTS (SELECT 1 FROM locations WHERE id = ?5 AND archived = 0) \
                        AND ?5 NOT IN ({}))) \
                   AND (COALESCE(?6, 0) = 0 OR (NOT EXISTS \
                        (SELECT 1 FROM location_levels WHERE location_id = ?1 AND quantity > 0) \
                        AND NOT EXISTS (SELECT 1 FROM counts WHERE location_id = ?1 AND status = 'open'))) \
                 RETURNING id",
                subtree("?1")
            ),
            &[
                Value::Integer(id),
                change.code.clone().map_or(Value::Null, Value::Text),
                change.name.clone().map_or(Value::Null, Value::Text),
                Value::Integer(parent_given),
                parent,
                change.archived.map_or(Value::Null, |a| Value::Integer(a.into())),
            ],
        )
        .map_err(duplicate_code)?;
    if updated.rows().next().is_some() {
        return Ok(());
    }
    let current = one(db, id)?;
    if change.archived == Some(true) {
        if current["quantity"].as_i64().unwrap_or(0) > 0 {
            return Err(StockError::LocationHoldsStock.into());
        }
        if being_counted(db, id)? {
            return Err(StockError::LocationBeingCounted.into());
        }
    }
    if let Some(Some(parent)) = change.parent {
        return Err(if parent == id || is_below(db, parent, id)? {
            StockError::LocationCycle.into()
        } else {
            StockError::UnknownLocation("parent_id").into()
        });
    }
    Err(kit::Error::Conflict(
        "L'emplacement a changé entre-temps ; réessayez.".into(),
    ))
}

/// `DELETE /api/stock/locations/{id}/`: only a location that holds
/// nothing, has no child, and that no movement or count names (archive it
/// instead).
pub fn delete(db: &Connection, id: i64) -> Result<(), kit::Error> {
    if id == DEFAULT_LOCATION {
        return Err(StockError::DefaultLocation.into());
    }
    let deleted = db.execute(
        "DELETE FROM locations WHERE id = ?1 \
         AND NOT EXISTS (SELECT 1 FROM location_levels WHERE location_id = ?1 AND quantity > 0) \
         AND NOT EXISTS (SELECT 1 FROM locations WHERE parent_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM ledger WHERE location_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM ledger WHERE to_location_id = ?1) \
         AND NOT EXISTS (SELECT 1 FROM counts WHERE location_id = ?1) \
         RETURNING id",
        &[Value::Integer(id)],
    )?;
    if deleted.rows().next().is_some() {
        // Rows at 0 left by past movements: none can be added any more.
        db.execute(
            "DELETE FROM location_levels WHERE location_id = ?1",
            &[Value::Integer(id)],
        )?;
        return Ok(());
    }
    let current = one(db, id)?;
    Err(if current["quantity"].as_i64().unwrap_or(0) > 0 {
        StockError::LocationHoldsStock.into()
    } else {
        StockError::LocationInUse.into()
    })
}

/// Whether a location `id` exists and takes movements (not archived):
/// `Err` naming `field` otherwise.
pub fn usable(db: &Connection, id: i64, field: &'static str) -> Result<(), kit::Error> {
    let rows = db.execute(
        "SELECT archived FROM locations WHERE id = ?1",
        &[Value::Integer(id)],
    )?;
    match rows
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("archived"))
    {
        Some(0) => Ok(()),
        Some(_) => Err(StockError::ArchivedLocation(field).into()),
        None => Err(StockError::UnknownLocation(field).into()),
    }
}

/// Whether a count of location `id` is open: its validation would put
/// stock back there.
fn being_counted(db: &Connection, id: i64) -> Result<bool, kit::Error> {
    let rows = db.execute(
        "SELECT EXISTS (SELECT 1 FROM counts WHERE location_id = ?1 AND status = 'open') AS open",
        &[Value::Integer(id)],
    )?;
    Ok(rows
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("open"))
        .is_some_and(|open| open != 0))
}

/// Whether `candidate` is below `ancestor` in the tree.
fn is_below(db: &Connection, candidate: i64, ancestor: i64) -> Result<bool, kit::Error> {
    let rows = db.execute(
        &format!(
            "{} SELECT EXISTS (SELECT 1 FROM subtree WHERE id = ?2) AS below",
            with_subtree("?1")
        ),
        &[Value::Integer(ancestor), Value::Integer(candidate)],
    )?;
    Ok(rows
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("below"))
        .is_some_and(|below| below != 0))
}

fn duplicate_code(error: spin_sdk::sqlite::Error) -> kit::Error {
    if kit::constraint::is_unique_violation(&error, "locations.code") {
        StockError::DuplicateLocationCode.into()
    } else {
        error.into()
    }
}

fn to_json(row: &Row<'_>) -> Json {
    json!({
        "id": row.get::<i64>("id"),
        "code": row.get::<&str>("code"),
        "name": row.get::<&str>("name"),
        "parent_id": row.get::<i64>("parent_id"),
        "path": row.get::<&str>("path"),
        "depth": row.get::<i64>("depth"),
        "archived": row.get::<i64>("archived").is_some_and(|a| a != 0),
        "pieces": row.get::<i64>("pieces"),
        "quantity": row.get::<i64>("quantity"),
        "created_at": row.get::<&str>("created_at"),
        "updated_at": row.get::<&str>("updated_at"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(body: Json, creating: bool) -> Result<Change, kit::Error> {
        serde_json::from_value::<Input>(body)
            .unwrap()
            .validate(creating)
    }

    fn fields(result: Result<Change, kit::Error>) -> Vec<String> {
        match result {
            Err(kit::Error::Validation(errors)) => errors.into_keys().collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_new_location_needs_a_code_without_spaces_and_a_name() {
        assert_eq!(fields(change(json!({}), true)), ["code", "name"]);
        assert_eq!(
            fields(change(json!({"code": "A 1", "name": "Bac"}), true)),
            ["code"]
        );
        assert_eq!(
            fields(change(
                json!({"code": "A1", "name": "Bac", "archived": true}),
                true
            )),
            ["archived"]
        );
        assert_eq!(
            fields(change(json!({"code": " A1", "name": "Bac"}), true)),
            ["code"]
        );
        let bin = change(
            json!({"code": "A-01", "name": " Bac ", "parent_id": 3}),
            true,
        )
        .unwrap();
        assert_eq!(
            (bin.code.as_deref(), bin.name.as_deref(), bin.parent),
            (Some("A-01"), Some("Bac"), Some(Some(3)))
        );
    }

    #[test]
    fn only_the_parent_may_be_null() {
        for field in ["code", "name", "archived"] {
            assert_eq!(
                fields(change(json!({ field: null }), false)),
                [field],
                "{field}"
            );
        }
    }

    #[test]
    fn a_patch_tells_a_null_parent_from_an_absent_one() {
        assert_eq!(change(json!({}), false).unwrap(), Change::default());
        assert_eq!(
            change(json!({"parent_id": null}), false).unwrap().parent,
            Some(None)
        );
        assert_eq!(
            fields(change(json!({"parent_id": 0}), false)),
            ["parent_id"]
        );
    }

    #[test]
    fn the_subtree_starts_at_its_root() {
        assert!(subtree("?4").starts_with("WITH RECURSIVE subtree (id) AS (SELECT ?4 UNION"));
    }
}
