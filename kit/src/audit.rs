//! What an audit trail (pieces', users') shows of one change: the fields
//! that differ between the object before and after it.

use serde_json::{Map, Value as Json, json};

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
