//! The served `openapi.json` and `docs/ROLES.md` describe exactly the
//! route table (see `kit::openapi`), and the document says what the code
//! checks.

use serde_json::{Map, Value, json};

use crate::model;

fn openapi() -> Value {
    serde_json::from_str(crate::SERVICE.openapi).expect("openapi.json is JSON")
}

#[test]
fn the_document_and_the_role_table_match_the_routes() {
    kit::openapi::check_service(&crate::SERVICE, crate::ROUTES);
}

#[test]
fn read_only_fields_are_documented_with_the_type_they_must_have() {
    let document = openapi();
    let properties = &document["components"]["schemas"]["PiecePatch"]["properties"];
    for (field, kind) in [
        ("id", "integer"),
        ("created_at", "string"),
        ("updated_at", "string"),
        ("created_by", "string"),
    ] {
        assert_eq!(properties[field]["type"], kind, "{field}");
        assert!(
            properties[field].get("readOnly").is_none(),
            "{field} is accepted"
        );
    }
}

#[test]
fn documented_text_lengths_are_the_enforced_ones() {
    let document = openapi();
    let properties = &document["components"]["schemas"]["PiecePatch"]["properties"];
    for field in [
        "reference",
        "name",
        "description",
        "category",
        "unit",
        "location",
        "barcode",
    ] {
        // `^spaces* first(?:inner{0,N} last)? spaces*$`: N + 2 characters once trimmed.
        let pattern = properties[field]["pattern"].as_str().expect(field);
        let longest = pattern
            .split("{0,")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .and_then(|n| n.parse::<usize>().ok())
            .expect("a {0,N} quantifier")
            + 2;
        let body = |length: usize| {
            let mut body = Map::new();
            body.insert("reference".into(), json!("R"));
            body.insert("name".into(), json!("N"));
            body.insert(
                field.into(),
                json!(format!(" \u{a0}{} ", "é".repeat(length))),
            );
            body
        };
        assert!(
            model::from_json(&body(longest), None).is_ok(),
            "{field}: {longest} characters"
        );
        assert!(
            model::from_json(&body(longest + 1), None).is_err(),
            "{field}: more than {longest} characters"
        );
    }
}
