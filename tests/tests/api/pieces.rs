//! The parts catalogue end to end, on the real host: roles, validation,
//! concurrency, search, pagination, CSV and the call to stock on delete.
//!
//! Archive-versus-delete needs stock's internal usage route; its tests
//! belong with the stock service, which implements that route.

use std::net::TcpListener;

use serde_json::{Value, json};

use crate::helpers::{
    Reply, TestApp, spawn_app, spawn_app_selecting_each_component, spawn_app_with,
};

const PIECES: &str = "/api/pieces/";

fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    app.request("GET", path, Some(token), &[], None)
}

fn send_json(app: &TestApp, method: &str, path: &str, token: &str, body: &Value) -> Reply {
    app.request(
        method,
        path,
        Some(token),
        &[],
        Some(("application/json", &body.to_string())),
    )
}

fn create(app: &TestApp, token: &str, piece: Value) -> Value {
    let reply = send_json(app, "POST", PIECES, token, &piece);
    assert_eq!(reply.status, 201, "create {piece}: {}", reply.body);
    reply.json()
}

fn count(app: &TestApp, token: &str) -> i64 {
    get(app, PIECES, token).json()["count"]
        .as_i64()
        .expect("a count")
}

#[test]
fn crud_follows_the_roles() {
    let app = spawn_app();
    let t = app.team();

    let anonymous = app.request("GET", PIECES, None, &[], None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let viewer_write = send_json(
        &app,
        "POST",
        PIECES,
        &t.viewer,
        &json!({"reference": "R", "name": "N"}),
    );
    assert_eq!(viewer_write.status, 403, "{}", viewer_write.body);
    let operator_write = send_json(
        &app,
        "POST",
        PIECES,
        &t.operator,
        &json!({"reference": "R", "name": "N"}),
    );
    assert_eq!(operator_write.status, 403, "{}", operator_write.body);

    let reply = send_json(
        &app,
        "POST",
        PIECES,
        &t.manager,
        &json!({"reference": "ECR-M8", "name": "Écrou M8 zingué", "price": "0.35", "min_stock": 100,
                "category": "Visserie", "unit": "pcs", "barcode": "3760000000017"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let piece = reply.json();
    let id = piece["id"].as_i64().expect("an id");
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/pieces/{id}/").as_str())
    );
    assert_eq!(piece["price"], "0.35");
    assert_eq!(piece["created_by"], "gerante");
    assert_eq!(piece["version"], 1);
    assert!(
        piece["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{piece}"
    );

    let item = format!("/api/pieces/{id}/");
    for token in [&t.viewer, &t.operator, &t.manager, &t.admin] {
        let reply = get(&app, &item, token);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["name"], "Écrou M8 zingué");
    }
    let bare = get(&app, &format!("/api/pieces/{id}"), &t.viewer);
    assert_eq!(bare.status, 200, "{}", bare.body);

    let patched = send_json(&app, "PATCH", &item, &t.viewer, &json!({"min_stock": 5}));
    assert_eq!(patched.status, 403, "{}", patched.body);
    let patched = app.request(
        "PATCH",
        &item,
        Some(&t.manager),
        &[("if-match", "\"1\"")],
        Some(("application/json", &json!({"min_stock": 5}).to_string())),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.header("etag"), Some("\"2\""));
    assert_eq!(patched.json()["min_stock"], 5);
    assert_eq!(
        patched.json()["price"],
        "0.35",
        "PATCH keeps what it does not name"
    );

    let put = send_json(
        &app,
        "PUT",
        &item,
        &t.admin,
        &json!({"reference": "ECR-M8", "name": "Écrou M8", "version": 2}),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let put = put.json();
    assert_eq!(put["version"], 3);
    assert_eq!(put["min_stock"], 0, "PUT replaces the whole piece");
    assert_eq!(put["barcode"], Value::Null);

    for token in [&t.viewer, &t.operator] {
        let reply = app.request("DELETE", &item, Some(token), &[], None);
        assert_eq!(reply.status, 403, "{}", reply.body);
    }
    assert_eq!(get(&app, &item, &t.viewer).status, 200);
}

#[test]
fn bad_input_is_a_4xx_with_field_errors_and_writes_nothing() {
    let app = spawn_app();
    let t = app.team();
    let cases = [
        (json!({"reference": "", "name": "N"}), "reference"),
        (
            json!({"reference": "x".repeat(65), "name": "N"}),
            "reference",
        ),
        (json!({"reference": "R"}), "name"),
        (
            json!({"reference": "R", "name": "N", "price": "abc"}),
            "price",
        ),
        (
            json!({"reference": "R", "name": "N", "price": "1.234"}),
            "price",
        ),
        (
            json!({"reference": "R", "name": "N", "price": "-1"}),
            "price",
        ),
        (
            json!({"reference": "R", "name": "N", "min_stock": -1}),
            "min_stock",
        ),
        (
            json!({"reference": "R", "name": "N", "min_stock": "3"}),
            "min_stock",
        ),
        (json!({"reference": 12, "name": "N"}), "reference"),
        (
            json!({"reference": "R", "name": "N", "archived": "oui"}),
            "archived",
        ),
        (
            json!({"reference": "R", "name": "N", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let reply = send_json(&app, "POST", PIECES, &t.manager, &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        let problem = reply.json();
        assert!(problem["detail"].is_string(), "{}", reply.body);
        assert!(
            problem[field].is_array(),
            "{body}: no {field} in {}",
            reply.body
        );
    }
    let malformed = app.request(
        "POST",
        PIECES,
        Some(&t.manager),
        &[],
        Some(("application/json", "{\"reference\":")),
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    let not_json = app.request(
        "POST",
        PIECES,
        Some(&t.manager),
        &[],
        Some(("text/plain", "reference=R")),
    );
    assert_eq!(not_json.status, 415, "{}", not_json.body);
    for path in ["/api/pieces/999/", "/api/pieces/abc/", "/api/pieces/-1/"] {
        let reply = get(&app, path, &t.viewer);
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
    }
    let bad_query = get(&app, "/api/pieces/?ordering=price", &t.viewer);
    assert_eq!(bad_query.status, 400, "{}", bad_query.body);
    assert!(bad_query.json()["ordering"].is_array());
    assert_eq!(count(&app, &t.viewer), 0, "nothing was written");
}

#[test]
fn references_are_unique_whatever_their_case_and_stale_writes_change_nothing() {
    let app = spawn_app();
    let t = app.team();
    let piece = create(
        &app,
        &t.manager,
        json!({"reference": "Vis-10", "name": "Vis", "barcode": "111"}),
    );
    let duplicate = send_json(
        &app,
        "POST",
        PIECES,
        &t.manager,
        &json!({"reference": " VIS-10 ", "name": "Autre"}),
    );
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    assert!(
        duplicate.json()["reference"].is_array(),
        "{}",
        duplicate.body
    );
    let same_barcode = send_json(
        &app,
        "POST",
        PIECES,
        &t.manager,
        &json!({"reference": "V2", "name": "V", "barcode": "111"}),
    );
    assert_eq!(same_barcode.status, 409, "{}", same_barcode.body);
    assert!(
        same_barcode.json()["barcode"].is_array(),
        "{}",
        same_barcode.body
    );
    assert_eq!(count(&app, &t.viewer), 1);

    let item = format!("/api/pieces/{}/", piece["id"]);
    let first = app.request(
        "PATCH",
        &item,
        Some(&t.manager),
        &[("if-match", "\"1\"")],
        Some(("application/json", r#"{"name": "Vis A"}"#)),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let stale = app.request(
        "PATCH",
        &item,
        Some(&t.manager),
        &[("if-match", "\"1\"")],
        Some(("application/json", r#"{"name": "Vis B"}"#)),
    );
    assert_eq!(stale.status, 412, "{}", stale.body);
    let stale = send_json(
        &app,
        "PUT",
        &item,
        &t.manager,
        &json!({"reference": "Vis-10", "name": "Vis C", "version": 1}),
    );
    assert_eq!(stale.status, 409, "{}", stale.body);
    let now = get(&app, &item, &t.viewer);
    assert_eq!(now.json()["name"], "Vis A", "stale writes changed nothing");
    assert_eq!(now.json()["version"], 2);
    assert_eq!(now.header("etag"), Some("\"2\""));
}

#[test]
fn search_ignores_case_and_accents() {
    let app = spawn_app();
    let t = app.team();
    create(
        &app,
        &t.manager,
        json!({"reference": "E-1", "name": "ECROU M8"}),
    );
    create(
        &app,
        &t.manager,
        json!({"reference": "E-2", "name": "écrou à oreilles", "description": "Zingué"}),
    );
    create(
        &app,
        &t.manager,
        json!({"reference": "R-1", "name": "Rondelle", "barcode": "3760123"}),
    );
    let found = |search: &str| -> Vec<String> {
        let reply = get(&app, &format!("/api/pieces/?search={search}"), &t.viewer);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|p| p["reference"].as_str().expect("a reference").to_owned())
            .collect()
    };
    assert_eq!(found("%C3%A9crou"), ["E-1", "E-2"], "écrou finds ECROU");
    assert_eq!(found("ECROU"), ["E-1", "E-2"], "ECROU finds écrou");
    assert_eq!(found("ZINGUE"), ["E-2"]);
    assert_eq!(found("crou+m8"), ["E-1"], "every word must match");
    assert_eq!(found("m8"), ["E-1"], "short words are found too");
    assert_eq!(found("60123"), ["R-1"], "the barcode is searched");
    assert!(found("vis").is_empty());
    let filtered = get(
        &app,
        "/api/pieces/?search=ecrou&ordering=-reference",
        &t.viewer,
    );
    assert_eq!(filtered.json()["results"][0]["reference"], "E-2");
}

#[test]
fn pages_link_to_each_other_and_page_size_is_capped() {
    let app = spawn_app();
    let t = app.team();
    let mut csv = String::from(
        "reference,name,description,category,unit,price,min_stock,location,barcode,archived\n",
    );
    for n in 0..205 {
        let category = if n % 2 == 0 { "Pair" } else { "Impair" };
        csv.push_str(&format!(
            "P-{n:03},Pièce {n},,{category},pcs,1.00,0,,,false\n"
        ));
    }
    let imported = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.manager),
        &[],
        Some(("text/csv", &csv)),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(imported.json()["created"], 205);

    let first = get(&app, "/api/pieces/?page_size=1000", &t.viewer).json();
    assert_eq!(first["count"], 205);
    assert_eq!(
        first["results"].as_array().map(Vec::len),
        Some(200),
        "page_size is capped at 200"
    );
    assert_eq!(first["previous"], Value::Null);
    let next = first["next"].as_str().expect("a next page");
    let next_path = next
        .find("/api/")
        .map(|start| &next[start..])
        .expect("a path");
    let second = get(&app, next_path, &t.viewer).json();
    assert_eq!(second["results"].as_array().map(Vec::len), Some(5));
    assert_eq!(second["results"][0]["reference"], "P-200");
    assert_eq!(second["next"], Value::Null);
    assert!(second["previous"].is_string());
    assert_eq!(get(&app, "/api/pieces/?page=9", &t.viewer).status, 404);

    let categories = get(&app, "/api/pieces/categories/", &t.viewer);
    assert_eq!(categories.status, 200, "{}", categories.body);
    assert_eq!(
        categories.json(),
        json!([{"category": "Impair", "count": 102}, {"category": "Pair", "count": 103}])
    );
    let pairs = get(&app, "/api/pieces/?category=Pair&page_size=1", &t.viewer).json();
    assert_eq!(pairs["count"], 103);
}

#[test]
fn csv_export_then_import_round_trips() {
    let app = spawn_app();
    let t = app.team();
    create(
        &app,
        &t.manager,
        json!({"reference": "A-1", "name": "Écrou, \"papillon\"", "description": "deux\nlignes", "price": "12.5", "min_stock": 3, "barcode": "42"}),
    );
    create(
        &app,
        &t.manager,
        json!({"reference": "B-2", "name": "Rondelle", "category": "Visserie", "archived": true}),
    );

    let export = get(&app, "/api/pieces/export.csv", &t.viewer);
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(
        export.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert!(export.body.starts_with(
        "reference,name,description,category,unit,price,min_stock,location,barcode,archived\r\n"
    ));
    assert!(
        export.body.contains("\"Écrou, \"\"papillon\"\"\""),
        "{}",
        export.body
    );
    let filtered = get(&app, "/api/pieces/export.csv?archived=true", &t.viewer);
    assert_eq!(filtered.body.lines().count(), 2, "{}", filtered.body);

    let unchanged = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.manager),
        &[],
        Some(("text/csv", &export.body)),
    );
    assert_eq!(unchanged.status, 200, "{}", unchanged.body);
    assert_eq!(
        unchanged.json(),
        json!({"created": 0, "updated": 0, "unchanged": 2})
    );

    let modified =
        export.body.replace("Rondelle", "Rondelle plate") + "c-3,Clou,,,pcs,0.10,0,,,false\r\n";
    let imported = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.manager),
        &[],
        Some(("text/csv", &modified)),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(
        imported.json(),
        json!({"created": 1, "updated": 1, "unchanged": 1})
    );
    let again = get(&app, "/api/pieces/export.csv", &t.viewer);
    assert_eq!(again.body, modified, "the export is what was imported");
    let rondelle = get(&app, "/api/pieces/?search=rondelle", &t.viewer).json();
    assert_eq!(rondelle["results"][0]["name"], "Rondelle plate");
    assert_eq!(rondelle["results"][0]["version"], 2);
    let forbidden = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.viewer),
        &[],
        Some(("text/csv", &modified)),
    );
    assert_eq!(forbidden.status, 403);
}

#[test]
fn an_import_with_bad_rows_reports_their_lines_and_writes_nothing() {
    let app = spawn_app();
    let t = app.team();
    create(
        &app,
        &t.manager,
        json!({"reference": "KEEP", "name": "Existante", "barcode": "999"}),
    );
    let csv = "reference,name,description,category,unit,price,min_stock,location,barcode,archived\n\
               OK-1,Bonne,,,pcs,1.00,0,,,false\n\
               BAD-1,Mauvais prix,,,pcs,1.234,0,,,false\n\
               OK-2,Bonne,\"Sur\ndeux lignes\",,pcs,2,1,,,false\n\
               ok-1,Doublon,,,pcs,1,0,,,false\n\
               BAD-2,Négatif,,,pcs,1,-4,,,false\n\
               BAD-3,Code pris,,,pcs,1,0,,999,false\n";
    let reply = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.manager),
        &[],
        Some(("text/csv", csv)),
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    let problem = reply.json();
    assert!(
        problem["ligne 3"][0]
            .as_str()
            .is_some_and(|m| m.starts_with("price")),
        "{problem}"
    );
    assert!(
        problem["ligne 6"][0]
            .as_str()
            .is_some_and(|m| m.starts_with("reference")),
        "{problem}"
    );
    assert!(
        problem["ligne 7"][0]
            .as_str()
            .is_some_and(|m| m.starts_with("min_stock")),
        "{problem}"
    );
    assert!(
        problem["ligne 8"][0]
            .as_str()
            .is_some_and(|m| m.starts_with("barcode")),
        "{problem}"
    );
    assert!(
        problem.get("ligne 2").is_none() && problem.get("ligne 4").is_none(),
        "{problem}"
    );
    assert_eq!(count(&app, &t.viewer), 1, "nothing was written");

    let not_csv = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.manager),
        &[],
        Some(("application/json", "{}")),
    );
    assert_eq!(not_csv.status, 400, "{}", not_csv.body);
    let bad_header = app.request(
        "POST",
        "/api/pieces/import/",
        Some(&t.manager),
        &[],
        Some(("text/csv", "reference,name\nA,B\n")),
    );
    assert_eq!(bad_header.status, 400, "{}", bad_header.body);
}

#[test]
fn delete_is_refused_with_503_when_stock_cannot_answer() {
    // A port nothing listens on: stock is down.
    let dead = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .to_string();
    let app = spawn_app_with(&[("SPIN_VARIABLE_STOCK_URL", &dead)]);
    let t = app.team();
    let piece = create(
        &app,
        &t.manager,
        json!({"reference": "D-1", "name": "À garder"}),
    );
    let item = format!("/api/pieces/{}/", piece["id"]);
    let reply = app.request("DELETE", &item, Some(&t.manager), &[], None);
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(
        reply.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("stock")),
        "{}",
        reply.body
    );
    let after = get(&app, &item, &t.viewer);
    assert_eq!(after.status, 200, "the piece is still there");
    assert_eq!(after.json(), piece, "and unchanged");

    // An edit tells stock once it is written; stock being down changes
    // nothing of it (stock reads the piece again at its next movement).
    let edited = send_json(
        &app,
        "PATCH",
        &item,
        &t.manager,
        &json!({"name": "Renommée"}),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(get(&app, &item, &t.viewer).json()["name"], "Renommée");
}

#[test]
fn the_internal_route_needs_the_service_secret() {
    let app = spawn_app_selecting_each_component();
    let t = app.team();
    let piece = create(
        &app,
        &t.manager,
        json!({"reference": "I-1", "name": "Interne", "min_stock": 4}),
    );
    let path = format!("/api/pieces/internal/pieces/{}/", piece["id"]);
    let secret = app.internal_secret();
    assert_eq!(app.request("GET", &path, None, &[], None).status, 401);
    assert_eq!(
        app.request("GET", &path, None, &[("x-internal-secret", "wrong")], None)
            .status,
        401
    );
    let user_token = app.request("GET", &path, Some(&t.admin), &[], None);
    assert_eq!(
        user_token.status, 401,
        "a user token is not the service secret"
    );
    let reply = app.request("GET", &path, None, &[("x-internal-secret", &secret)], None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"id": piece["id"], "reference": "I-1", "name": "Interne", "category": "", "unit": "pcs",
               "min_stock": 4, "price_cents": 0, "archived": false, "version": 1})
    );
    let unknown = app.request(
        "GET",
        "/api/pieces/internal/pieces/999/",
        None,
        &[("x-internal-secret", &secret)],
        None,
    );
    assert_eq!(unknown.status, 404);
}

#[test]
fn the_openapi_document_is_served() {
    let app = spawn_app();
    let reply = app.get("/api/pieces/openapi.json");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.json()["paths"]["/api/pieces/{id}/"]["patch"].is_object());
}
