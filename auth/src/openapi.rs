//! The served `openapi.json` documents exactly the routes of `fn route`
//! (see `kit::openapi`), and agrees with `docs/ROLES.md` on who may call each.

use std::collections::BTreeSet;

use kit::openapi::shape;
use serde_json::Value;

const PREFIX: &str = "/api/auth";
const ROLES_TABLE: &str = include_str!("../../docs/ROLES.md");

fn document() -> Value {
    serde_json::from_str(crate::OPENAPI).expect("openapi.json is JSON")
}

/// The table's auth rows: (lowercase method, path shape, minimum role).
fn table() -> BTreeSet<(String, String, String)> {
    let rows: BTreeSet<(String, String, String)> = ROLES_TABLE
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains('`'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            (
                cells[0].to_lowercase(),
                shape(cells[1].trim_matches('`')),
                cells[2].to_owned(),
            )
        })
        .filter(|(_, path, _)| path.starts_with(&format!("{PREFIX}/")))
        .collect();
    assert!(rows.len() > 10, "docs/ROLES.md lists auth's routes");
    rows
}

/// Every documented operation: (lowercase method, path shape, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if method != "parameters" {
                operations.push((method.clone(), shape(path), operation.clone()));
            }
        }
    }
    operations
}

#[test]
fn the_document_matches_the_router() {
    let document = document();
    // Public: the paths docs/ROLES.md says anyone may call.
    let public_shapes: BTreeSet<String> = table()
        .into_iter()
        .filter(|(_, _, role)| role == "public")
        .map(|(_, path, _)| path)
        .collect();
    let public: Vec<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .filter(|path| public_shapes.contains(&shape(path)))
        .map(String::as_str)
        .collect();
    assert!(public.contains(&"/api/auth/login/"), "{public:?}");
    kit::openapi::check_with_public(include_str!("lib.rs"), crate::OPENAPI, PREFIX, &public);
}

#[test]
fn the_document_and_docs_roles_list_the_same_operations() {
    let documented: BTreeSet<(String, String)> = operations(&document())
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let tabled: BTreeSet<(String, String)> = table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    assert_eq!(documented, tabled);
}

#[test]
fn a_403_is_documented_where_a_role_can_be_too_low() {
    let roles = table();
    for (method, path, operation) in operations(&document()) {
        let (_, _, minimum) = roles
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .unwrap_or_else(|| panic!("{method} {path} is not in docs/ROLES.md"));
        // Every caller is at least a viewer: below admin, nobody is refused
        // for their role.
        let can_be_refused = minimum != "public" && minimum != "viewer";
        assert_eq!(
            operation["responses"].get("403").is_some(),
            can_be_refused,
            "{method} {path} ({minimum})"
        );
    }
}

#[test]
fn every_body_is_json_and_closed_as_the_code_denies_unknown_fields() {
    let document = document();
    for (method, path, operation) in operations(&document) {
        let Some(body) = operation.get("requestBody") else {
            continue;
        };
        let content = body["content"].as_object().expect("content");
        assert_eq!(
            content.keys().collect::<Vec<_>>(),
            ["application/json"],
            "{method} {path}"
        );
        let reference = content["application/json"]["schema"]["$ref"]
            .as_str()
            .expect("a $ref");
        let schema = document
            .pointer(reference.trim_start_matches('#'))
            .expect("resolves");
        assert_eq!(
            schema["additionalProperties"],
            Value::Bool(false),
            "{method} {path}"
        );
        // `kit::body::json`: 415 unless the body says it is JSON.
        assert!(
            operation["responses"].get("415").is_some(),
            "{method} {path}: no 415"
        );
        assert!(
            operation["responses"].get("400").is_some(),
            "{method} {path}: no 400"
        );
    }
}

#[test]
fn the_documented_rules_are_the_code_s() {
    use crate::password::{MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS};
    use kit::auth::Role;

    let document = document();
    let schemas = &document["components"]["schemas"];
    let username = &schemas["NewUser"]["properties"]["username"];
    assert_eq!(username["maxLength"], MAX_USERNAME_CHARS);
    for password in [
        &schemas["NewUser"]["properties"]["password"],
        &schemas["UserChange"]["properties"]["password"],
        &schemas["PasswordChange"]["properties"]["new_password"],
    ] {
        assert_eq!(password["minLength"], MIN_PASSWORD_CHARS);
        assert_eq!(password["maxLength"], MAX_PASSWORD_CHARS);
    }
    let roles: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
    let labels: Vec<&str> = Role::ALL.iter().map(|role| role.label_fr()).collect();
    assert_eq!(
        schemas["User"]["properties"]["role"]["enum"],
        serde_json::json!(roles)
    );
    assert_eq!(
        schemas["User"]["properties"]["role_label"]["enum"],
        serde_json::json!(labels)
    );
    assert_eq!(
        schemas["NewUser"]["properties"]["role"]["enum"],
        serde_json::json!(roles)
    );
    let ordering = document["paths"]["/api/auth/users/"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "ordering")
        .expect("ordering")["schema"]["enum"]
        .clone();
    let known: Vec<&str> = crate::users::ORDERINGS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(ordering, serde_json::json!(known));
}
