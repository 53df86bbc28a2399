//! Reading an audit trail (pieces', accounts'): its filters — the object,
//! who made the change, the days — and what one change shows, the fields
//! that differ between the object before and after it. Each trail is a
//! table with an `at` timestamp and `before`/`after` JSON snapshots.

use serde_json::{Map, Value as Json, json};
use spin_sdk::sqlite::{Row, Value};

use crate::Error;
use crate::page::Query;

/// `AND ...` conditions and their parameters for `?{object}=`, `?{author}=`
/// (each a `(parameter, column)`), `date_from` and `date_to` (inclusive).
pub fn filters(
    query: &Query,
    (object, object_column): (&str, &str),
    (author, author_column): (&str, &str),
) -> Result<(String, Vec<Value>), Error> {
    let mut sql = String::new();
    let mut params = Vec::new();
    if let Some(raw) = query.get(object) {
        let id = raw
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Error::field(object, "Identifiant (entier positif) attendu."))?;
        sql.push_str(&format!(" AND {object_column} = ?"));
        params.push(Value::Integer(id));
    }
    if let Some(name) = query.get(author) {
        sql.push_str(&format!(" AND {author_column} = ?"));
        params.push(Value::Text(name.to_owned()));
    }
    if let Some(from) = query.get("date_from") {
        sql.push_str(" AND at >= ?");
        params.push(Value::Text(
            crate::page::date("date_from", from)?.to_owned(),
        ));
    }
    if let Some(to) = query.get("date_to") {
        // Inclusive: every instant of that day sorts before the next one.
        sql.push_str(" AND at < date(?, '+1 day')");
        params.push(Value::Text(crate::page::date("date_to", to)?.to_owned()));
    }
    Ok((sql, params))
}

/// The JSON object of a snapshot column; empty when there is none.
pub fn snapshot(row: &Row, column: &str) -> Map<String, Json> {
    row.get::<&str>(column)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// `{field: {"before", "after"}}` for each field that differs; a field a
/// creation leaves empty (or a deletion found empty) is not a change.
pub fn changes(before: &Map<String, Json>, after: &Map<String, Json>) -> Json {
    let blank = |value: &Json| value.is_null() || value.as_str() == Some("");
    let fields = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    let mut changed = Map::new();
    for field in fields {
        let (old, new) = (
            before.get(field).unwrap_or(&Json::Null),
            after.get(field).unwrap_or(&Json::Null),
        );
        let appears_or_goes_blank =
            (before.is_empty() && blank(new)) || (after.is_empty() && blank(old));
        if old != new && !appears_or_goes_blank {
            changed.insert(field.clone(), json!({ "before": old, "after": new }));
        }
    }
    Json::Object(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Json) -> Map<String, Json> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn only_changed_fields_are_listed() {
        let before = map(json!({"name": "Vis", "min_stock": 5, "barcode": null}));
        let after = map(json!({"name": "Vis M6", "min_stock": 5, "barcode": "123"}));
        assert_eq!(
            changes(&before, &after),
            json!({"name": {"before": "Vis", "after": "Vis M6"}, "barcode": {"before": null, "after": "123"}})
        );
    }

    #[test]
    fn a_creation_lists_what_it_filled_in() {
        let after =
            map(json!({"reference": "A", "description": "", "barcode": null, "min_stock": 0}));
        assert_eq!(
            changes(&Map::new(), &after),
            json!({"reference": {"before": null, "after": "A"}, "min_stock": {"before": null, "after": 0}})
        );
    }
}
