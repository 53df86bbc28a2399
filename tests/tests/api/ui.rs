use crate::helpers::{spawn_app, spawn_app_with};

#[test]
fn the_root_is_the_french_index_page() {
    let app = spawn_app();
    let reply = app.get("/");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    assert!(reply.body.contains(r#"<html lang="fr">"#), "{}", reply.body);
}

#[test]
fn scripts_are_served_as_javascript() {
    let app = spawn_app();
    let reply = app.get("/app.js");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
}

#[test]
fn path_traversal_is_refused() {
    let app = spawn_app();
    // Sent raw: the client must not normalise the `..` away first.
    let status = app.get("/static/../../Cargo.toml").status;
    assert!(matches!(status, 400 | 404), "got {status}");
}

#[test]
fn without_an_edge_the_ui_calls_its_own_origin() {
    let app = spawn_app();
    let script = app.get("/config.js").body;
    assert!(
        script.contains("export const API_BASE = self.location.origin;"),
        "{script}"
    );
    let policy = app
        .get("/")
        .header("content-security-policy")
        .map(str::to_owned)
        .expect("the index has a content security policy");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
}

#[test]
fn the_api_base_comes_from_the_spin_variable() {
    let app = spawn_app_with(&[("SPIN_VARIABLE_API_BASE", "http://127.0.0.1:8090")]);
    let reply = app.get("/config.js");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(
        reply
            .body
            .contains(r#"export const API_BASE = "http://127.0.0.1:8090";"#),
        "{}",
        reply.body
    );
}

#[test]
fn pages_only_run_their_own_scripts_and_only_call_the_edge() {
    let app = spawn_app_with(&[("SPIN_VARIABLE_API_BASE", "http://127.0.0.1:8090")]);
    let policy = app
        .get("/")
        .header("content-security-policy")
        .map(str::to_owned);
    let policy = policy.expect("the index has a content security policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(
        policy.contains("connect-src http://127.0.0.1:8090"),
        "{policy}"
    );
}
