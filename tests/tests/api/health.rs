use crate::helpers::{database_file, services, spawn_app};

#[test]
fn every_service_health_route_answers_ok_with_and_without_trailing_slash() {
    let app = spawn_app();
    for service in services() {
        for path in [
            format!("/api/{service}/health/"),
            format!("/api/{service}/health"),
        ] {
            let reply = app.get(&path);
            assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
            assert_eq!(
                reply.header("content-type"),
                Some("application/json"),
                "GET {path}"
            );
            assert_eq!(
                reply.json(),
                serde_json::json!({
                    "service": service,
                    "version": env!("CARGO_PKG_VERSION"),
                    "database": "ok",
                }),
                "GET {path}"
            );
        }
    }
}

#[test]
fn each_service_creates_its_own_database_file() {
    let app = spawn_app();
    for service in services() {
        let reply = app.get(&format!("/api/{service}/health/"));
        assert_eq!(reply.status, 200, "{service}: {}", reply.body);
        let file = database_file(app.data_dir.path(), service);
        assert!(file.is_file(), "{} was not created", file.display());
    }
}
