//! Checks, for the services' tests, that a service's `openapi.json` and the
//! role table of `docs/ROLES.md` describe exactly what its route table
//! serves ([`crate::route::served`]): every route and nothing else, with the
//! credential each one takes.
//!
//! Only the shape of a path parameter is compared: `{id}` and `{piece}` are
//! alike. Built only with the `openapi-check` feature, which the services
//! enable for their tests alone: these checks panic, as tests do.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use spin_sdk::http::Method;

use crate::auth::Role;
use crate::route::Access;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn parse(openapi: &str) -> Value {
    serde_json::from_str(openapi).expect("openapi.json is JSON")
}

/// `{anything}` becomes `{}`: `{user}` and `{id}` name the same segment.
pub fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

fn documented(document: &Value) -> BTreeMap<String, (String, BTreeSet<String>)> {
    document["paths"]
        .as_object()
        .expect("`paths` is an object")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("a path item is an object")
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .cloned()
                .collect();
            (shape(path), (path.clone(), methods))
        })
        .collect()
}

/// The project's role table, which every service's routes must agree with.
const ROLES_TABLE: &str = include_str!("../../docs/ROLES.md");

/// Every check on a service: its route table against its document and
/// `docs/ROLES.md`. For each service's unit tests.
pub fn check_service(service: &crate::Service, routes: &[crate::route::Route]) {
    let served = crate::route::served(service, routes);
    check(&served, service.openapi, ROLES_TABLE);
}

/// Runs every check on what a service serves (`route::served`), its
/// document and the text of `docs/ROLES.md`; panics naming what is wrong.
pub fn check(served: &[(Method, String, Access)], openapi: &str, roles_table: &str) {
    let prefix = prefix_of(served);
    is_openapi_3_0(openapi);
    documents_every_route_and_nothing_else(served, openapi, &prefix);
    declares_parameters_and_fits_access(served, openapi, &prefix);
    resolves_every_reference(openapi);
    the_role_table_agrees(served, roles_table, &prefix);
}

/// `/api/<service>`, from the health route every service serves.
fn prefix_of(served: &[(Method, String, Access)]) -> String {
    served
        .iter()
        .find_map(|(_, path, _)| path.strip_suffix("/health/"))
        .expect("a health route")
        .to_owned()
}

fn operations_of(served: &[(Method, String, Access)]) -> BTreeMap<(String, String), Access> {
    let mut operations = BTreeMap::new();
    for (method, path, access) in served {
        let key = (method.to_string().to_lowercase(), shape(path));
        assert!(
            operations.insert(key, *access).is_none(),
            "{method} {path} is in the route table twice"
        );
    }
    operations
}

fn is_openapi_3_0(openapi: &str) {
    let document = parse(openapi);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0.")),
        "{}",
        document["openapi"]
    );
    assert!(document["info"]["title"].is_string());
    assert!(document["info"]["version"].is_string());
}

fn documents_every_route_and_nothing_else(
    served: &[(Method, String, Access)],
    openapi: &str,
    prefix: &str,
) {
    let mut by_path: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((method, path), _) in operations_of(served) {
        by_path.entry(path).or_default().insert(method);
    }
    let documented = documented(&parse(openapi));
    for (path, methods) in &by_path {
        let (_, documented_methods) = documented
            .get(path)
            .unwrap_or_else(|| panic!("{path} is served but not in openapi.json"));
        // HEAD is served wherever GET is and is not documented separately.
        assert_eq!(
            documented_methods, methods,
            "{path}: methods served and documented differ"
        );
    }
    for (shape, (path, _)) in &documented {
        assert!(
            by_path.contains_key(shape),
            "{path} is documented but the router does not serve it"
        );
    }
    assert!(by_path.contains_key(&format!("{prefix}/openapi.json")));
}

fn declares_parameters_and_fits_access(
    served: &[(Method, String, Access)],
    openapi: &str,
    prefix: &str,
) {
    let operations = operations_of(served);
    let document = parse(openapi);
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["bearer"]["bearerFormat"], "JWT");
    assert_eq!(schemes["internal"]["in"], "header");
    assert_eq!(
        schemes["internal"]["name"],
        crate::auth::INTERNAL_SECRET_HEADER
    );
    let internal = format!("{prefix}/internal/");
    for (path, item) in document["paths"].as_object().expect("paths") {
        let names: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        for (method, operation) in item.as_object().expect("path item") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            for name in &names {
                let declared = [&item["parameters"], &operation["parameters"]]
                    .iter()
                    .filter_map(|p| p.as_array())
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == *name && p["required"] == true);
                assert!(
                    declared,
                    "{method} {path}: path parameter {name} not declared"
                );
            }
            let security: Vec<String> = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no `security`"))
                .iter()
                .flat_map(|requirement| requirement.as_object().expect("requirement").keys())
                .cloned()
                .collect();
            let responses = operation["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: no responses"));
            let access = operations[&(method.clone(), shape(path))];
            assert_eq!(
                path.starts_with(&internal),
                access == Access::Internal,
                "{method} {path}: internal routes, and only they, live under {internal}"
            );
            let expected: &[&str] = match access {
                Access::Public => &[],
                Access::Token(_) => &["bearer"],
                Access::Internal => &["internal"],
            };
            assert_eq!(security, expected, "{method} {path} ({access:?})");
            if access != Access::Public {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
            // Every caller is at least a viewer: above it, a role can be
            // too low.
            let can_be_refused = matches!(access, Access::Token(role) if role > Role::Viewer);
            assert_eq!(
                responses.contains_key("403"),
                can_be_refused,
                "{method} {path} ({access:?}): a 403 is documented where, and only where, a role can be too low"
            );
        }
    }
}

/// `docs/ROLES.md` lists every route a token or nobody may call, with its
/// minimum role (`public` for none); internal routes are not listed.
fn the_role_table_agrees(served: &[(Method, String, Access)], roles_table: &str, prefix: &str) {
    let tabled: BTreeMap<(String, String), String> = roles_table
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains('`'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            (
                (cells[0].to_lowercase(), shape(cells[1].trim_matches('`'))),
                cells[2].to_owned(),
            )
        })
        .filter(|((_, path), _)| path.starts_with(&format!("{prefix}/")))
        .collect();
    let served: BTreeMap<(String, String), String> = operations_of(served)
        .into_iter()
        .filter_map(|(key, access)| match access {
            Access::Public => Some((key, "public".to_owned())),
            Access::Token(role) => Some((key, role.as_str().to_owned())),
            Access::Internal => None,
        })
        .collect();
    assert_eq!(
        tabled, served,
        "docs/ROLES.md and the route table of {prefix} differ"
    );
}

fn resolves_every_reference(openapi: &str) {
    fn walk(document: &Value, value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                    let pointer = target
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("{at}: external $ref {target}"));
                    assert!(
                        document.pointer(pointer).is_some(),
                        "{at}: $ref {target} does not resolve"
                    );
                }
                for (key, child) in map {
                    walk(document, child, &format!("{at}/{key}"));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(document, child, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    let document = parse(openapi);
    walk(&document, &document, "#");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_compare_by_shape() {
        assert_eq!(
            shape("/api/x/{piece_id}/reverse/{id}/"),
            "/api/x/{}/reverse/{}/"
        );
    }

    fn served() -> Vec<(Method, String, Access)> {
        vec![
            (Method::Get, "/api/x/health/".into(), Access::Public),
            (Method::Get, "/api/x/openapi.json".into(), Access::Public),
            (Method::Post, "/api/x/login/".into(), Access::Public),
            (
                Method::Get,
                "/api/x/{id}/".into(),
                Access::Token(Role::Manager),
            ),
        ]
    }

    const ROLES: &str = "| GET | `/api/x/health/` | public |
| GET | `/api/x/openapi.json` | public |
| POST | `/api/x/login/` | public |
| GET | `/api/x/{piece}/` | manager |
| GET | `/api/y/` | viewer |
";

    fn document(login_security: &str, item_responses: &str) -> String {
        let public = r#"{"security": [], "responses": {"200": {"description": "ok"}}}"#;
        format!(
            r#"{{"openapi": "3.0.3", "info": {{"title": "x", "version": "1"}},
            "paths": {{
                "/api/x/health/": {{"get": {public}}},
                "/api/x/openapi.json": {{"get": {public}}},
                "/api/x/login/": {{"post": {{"security": {login_security},
                    "responses": {{"200": {{"description": "ok"}}}}}}}},
                "/api/x/{{piece}}/": {{"get": {{"security": [{{"bearer": []}}],
                    "parameters": [{{"in": "path", "name": "piece", "required": true}}],
                    "responses": {item_responses}}}}}
            }},
            "components": {{"securitySchemes": {{
                "bearer": {{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
                "internal": {{"type": "apiKey", "in": "header", "name": "x-internal-secret"}}
            }}}}}}"#
        )
    }

    const FULL: &str = r#"{"200": {"description": "ok"}, "401": {"description": "no"}, "403": {"description": "no"}}"#;

    #[test]
    fn a_document_that_fits_the_table_passes() {
        check(&served(), &document("[]", FULL), ROLES);
    }

    #[test]
    #[should_panic(expected = "post /api/x/login/ (Public)")]
    fn a_public_route_takes_no_token() {
        check(&served(), &document(r#"[{"bearer": []}]"#, FULL), ROLES);
    }

    #[test]
    #[should_panic(expected = "a 403 is documented where")]
    fn a_route_above_viewer_documents_its_403() {
        let responses = r#"{"200": {"description": "ok"}, "401": {"description": "no"}}"#;
        check(&served(), &document("[]", responses), ROLES);
    }

    #[test]
    #[should_panic(expected = "is served but not in openapi.json")]
    fn a_served_route_must_be_documented() {
        let mut served = served();
        served.push((Method::Delete, "/api/x/other/".into(), Access::Public));
        check(&served, &document("[]", FULL), ROLES);
    }

    #[test]
    #[should_panic(expected = "docs/ROLES.md and the route table")]
    fn the_role_table_must_agree() {
        let roles = ROLES.replace("| manager |", "| operator |");
        check(&served(), &document("[]", FULL), &roles);
    }
}
