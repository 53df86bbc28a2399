use crate::helpers::{services, spawn_app};

#[test]
fn an_unknown_path_is_404() {
    let app = spawn_app();
    assert_eq!(app.get("/nope").status, 404);
}

#[test]
fn an_unknown_path_under_a_service_is_a_problem_json_404() {
    let app = spawn_app();
    for service in services() {
        let path = format!("/api/{service}/nope/");
        let reply = app.get(&path);
        assert_eq!(reply.status, 404, "GET {path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "GET {path}"
        );
        assert_eq!(
            reply.json(),
            serde_json::json!({ "detail": "Introuvable." }),
            "GET {path}"
        );
    }
}

#[test]
fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app();
    for service in services() {
        let path = format!("/api/{service}/health/");
        let reply = app.post(&path);
        assert_eq!(reply.status, 405, "POST {path}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"), "POST {path}");
        assert_eq!(
            reply.json(),
            serde_json::json!({ "detail": "Méthode « POST » non autorisée." }),
            "POST {path}"
        );
    }
}
