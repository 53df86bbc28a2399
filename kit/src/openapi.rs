//! Checks, for the services' tests, that an `openapi.json` served on
//! `/api/<service>/openapi.json` documents every route the router serves,
//! and nothing else.
//!
//! The served routes are read from the arms of the `match` in `fn route`
//! (the service's own `lib.rs`, embedded in its test): a route added
//! there without being documented fails here, and so does a documented
//! route the router lost. Each arm `[...] =>` becomes a path in its
//! trailing-slash form (`["movements", id, "reverse"]` is
//! `/api/<service>/movements/{...}/reverse/`; a last segment with a dot,
//! such as `export.csv`, takes no slash), and the methods of the
//! `routing::allow(method, &[...])` call that follows become its
//! operations. Only the shape of a path parameter is compared: `{id}` and
//! `{piece_id}` are alike.
//!
//! Every operation must say who may call it: `internal` below
//! `/api/<service>/internal/`, nothing on health and on the document itself,
//! a bearer token everywhere else, unless the service names the path public
//! ([`check_with_public`]: a login route, for one, cannot ask for a token).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

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

/// Each arm of the router's `match`: path (OpenAPI spelling) and lowercase
/// methods.
fn served(source: &str, prefix: &str) -> BTreeMap<String, BTreeSet<String>> {
    let body = source
        .split_once("fn route(")
        .expect("lib.rs has a `fn route(`")
        .1;
    let body = &body[..body.find("\n}\n").expect("end of `fn route`")];
    let mut arms: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in body.lines().map(str::trim) {
        if line.starts_with('[') && line.contains("=>") {
            let pattern = line
                .strip_prefix('[')
                .and_then(|l| l.split_once("] =>"))
                .map(|(pattern, _)| pattern)
                .filter(|pattern| is_plain(pattern))
                .unwrap_or_else(|| {
                    panic!("arm `{line}` is not a plain slice pattern: teach this test to read it")
                });
            let segments: Vec<String> = pattern
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(
                    |s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                        Some(literal) => literal.to_owned(),
                        None => "{}".to_owned(),
                    },
                )
                .collect();
            let mut path = format!("{prefix}/{}", segments.join("/"));
            if !path.ends_with('/') && !segments.last().is_some_and(|s| s.contains('.')) {
                path.push('/');
            }
            arms.push((path, BTreeSet::new()));
        } else if let Some((_, rest)) = line.split_once("routing::allow(method, &[") {
            let list = rest.split(']').next().unwrap_or_default();
            let (_, methods) = arms
                .last_mut()
                .unwrap_or_else(|| panic!("`{line}` comes before any arm"));
            methods.extend(
                list.split(',')
                    .map(|m| m.trim().trim_start_matches("Method::").to_lowercase())
                    .filter(|m| !m.is_empty()),
            );
        }
    }
    assert!(
        arms.len() >= 2,
        "found {} arms in `fn route`: has the router changed shape?",
        arms.len()
    );
    let mut served = BTreeMap::new();
    for (path, methods) in arms {
        assert!(
            !methods.is_empty(),
            "{path}: no `routing::allow` found for this arm"
        );
        assert!(
            served.insert(path.clone(), methods).is_none(),
            "{path} is matched twice"
        );
    }
    served
}

/// Literal strings and identifiers only (a dot inside a literal is fine).
fn is_plain(pattern: &str) -> bool {
    pattern.split(',').map(str::trim).all(|s| {
        (s.starts_with('"') && s.ends_with('"') && s.len() >= 2 && !s[1..s.len() - 1].contains('"'))
            || s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
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

/// Runs every check on a service's router source (its `lib.rs`) and its
/// document; panics naming what is wrong. For the services' tests.
pub fn check(router_source: &str, openapi: &str, prefix: &str) {
    check_with_public(router_source, openapi, prefix, &[]);
}

/// As [`check`], for a service some of whose routes need no token: `public`
/// lists their paths as the document spells them (`/api/auth/login/`); each
/// must be documented, with an empty `security` on every operation.
pub fn check_with_public(router_source: &str, openapi: &str, prefix: &str, public: &[&str]) {
    is_openapi_3_0(openapi);
    documents_every_route_and_nothing_else(router_source, openapi, prefix);
    declares_parameters_and_fits_security(openapi, prefix, public);
    resolves_every_reference(openapi);
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

fn documents_every_route_and_nothing_else(source: &str, openapi: &str, prefix: &str) {
    let served = served(source, prefix);
    let documented = documented(&parse(openapi));
    for (path, methods) in &served {
        let (_, documented_methods) = documented
            .get(&shape(path))
            .unwrap_or_else(|| panic!("{path} is served but not in openapi.json"));
        // HEAD is served wherever GET is and is not documented separately.
        assert_eq!(
            documented_methods, methods,
            "{path}: methods served and documented differ"
        );
    }
    for (shape, (path, _)) in &documented {
        assert!(
            served.contains_key(shape),
            "{path} is documented but the router does not serve it"
        );
    }
    assert!(served.contains_key(&format!("{prefix}/openapi.json")));
    assert!(served.contains_key(&format!("{prefix}/health/")));
}

fn declares_parameters_and_fits_security(openapi: &str, prefix: &str, public: &[&str]) {
    let document = parse(openapi);
    for path in public {
        assert!(
            document["paths"][*path].is_object(),
            "{path} is named public but not documented"
        );
        assert!(
            !path.starts_with(&format!("{prefix}/internal/")),
            "{path}: an internal route is never public"
        );
    }
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
            if path.starts_with(&internal) {
                assert_eq!(security, ["internal"], "{method} {path}");
            } else if path.ends_with("/health/")
                || path.ends_with("/openapi.json")
                || public.contains(&path.as_str())
            {
                assert!(security.is_empty(), "{method} {path} is public");
            } else {
                assert_eq!(security, ["bearer"], "{method} {path}");
            }
            if !security.is_empty() {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
        }
    }
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
    fn the_route_reader_reads_slice_patterns() {
        assert_eq!(
            shape("/api/x/{piece_id}/reverse/{id}/"),
            "/api/x/{}/reverse/{}/"
        );
        assert!(is_plain(r#""movements", "export.csv""#));
        assert!(is_plain(r#""internal", "usage", id"#));
        assert!(!is_plain(r#""a" | "b""#));
    }

    const ROUTER: &str = "fn route(request: &Request) -> Result<Response, Error> {
    match segments.as_slice() {
        [\"health\"] => {
            routing::allow(method, &[Method::Get])?;
        }
        [\"openapi.json\"] => {
            routing::allow(method, &[Method::Get])?;
        }
        [\"login\"] => {
            routing::allow(method, &[Method::Post])?;
        }
        _ => Err(Error::NotFound),
    }
}
";

    fn document(login_security: &str) -> String {
        let public = r#"{"security": [], "responses": {"200": {"description": "ok"}}}"#;
        format!(
            r#"{{"openapi": "3.0.3", "info": {{"title": "x", "version": "1"}},
            "paths": {{
                "/api/x/health/": {{"get": {public}}},
                "/api/x/openapi.json": {{"get": {public}}},
                "/api/x/login/": {{"post": {{"security": {login_security},
                    "responses": {{"200": {{"description": "ok"}}, "401": {{"description": "no"}}}}}}}}
            }},
            "components": {{"securitySchemes": {{
                "bearer": {{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
                "internal": {{"type": "apiKey", "in": "header", "name": "x-internal-secret"}}
            }}}}}}"#
        )
    }

    #[test]
    fn a_route_named_public_needs_no_token() {
        check_with_public(ROUTER, &document("[]"), "/api/x", &["/api/x/login/"]);
        check(ROUTER, &document(r#"[{"bearer": []}]"#), "/api/x");
    }

    #[test]
    #[should_panic(expected = "post /api/x/login/")]
    fn a_route_not_named_public_needs_a_token() {
        check(ROUTER, &document("[]"), "/api/x");
    }

    #[test]
    #[should_panic(expected = "post /api/x/login/ is public")]
    fn a_route_named_public_takes_no_token() {
        check_with_public(
            ROUTER,
            &document(r#"[{"bearer": []}]"#),
            "/api/x",
            &["/api/x/login/"],
        );
    }

    #[test]
    #[should_panic(expected = "named public but not documented")]
    fn a_public_path_must_be_documented() {
        check_with_public(ROUTER, &document("[]"), "/api/x", &["/api/x/logn/"]);
    }
}
