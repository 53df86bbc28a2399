//! The served `openapi.json` and `docs/ROLES.md` describe exactly the
//! route table (see `kit::openapi`), and the document says what the code
//! checks.

use kit::openapi::shape;
use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(crate::SERVICE.openapi).expect("openapi.json is JSON")
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
fn the_document_and_the_role_table_match_the_routes() {
    kit::openapi::check_service(&crate::SERVICE, crate::ROUTES);
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
