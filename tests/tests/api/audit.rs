//! The audit trails: every change of a piece and of an account, with who,
//! when and the fields before and after, after a scripted sequence; the
//! trail refuses to be rewritten.

use serde_json::{Value, json};

use crate::helpers::Workshop;

/// `(action, user, changed fields)` of each entry, oldest first.
fn trail(entries: &Value, user_field: &str) -> Vec<(String, String, Vec<String>)> {
    let mut rows: Vec<(String, String, Vec<String>)> = entries["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap_or_default().to_owned(),
                entry[user_field].as_str().unwrap_or_default().to_owned(),
                entry["changes"]
                    .as_object()
                    .map(|changes| changes.keys().cloned().collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    rows.reverse();
    rows
}

#[test]
fn each_change_of_a_piece_is_recorded_with_who_and_what() {
    let shop = Workshop::open();
    let (admin, manager) = (shop.team.admin.as_str(), shop.team.manager.as_str());
    let piece = shop.piece("AUD-1", 2);
    let renamed = shop.app.json(
        "PATCH",
        &format!("/api/pieces/{piece}/"),
        Some(manager),
        &json!({"name": "Vis auditée", "min_stock": 3}),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let import = "reference,name,description,category,unit,price,min_stock,location,barcode,archived\n\
                  AUD-1,Vis auditée,,,pcs,0.00,4,,,false\n";
    let imported = shop.app.call(
        "POST",
        "/api/pieces/import/",
        Some(manager),
        Some(("text/csv", import.to_owned())),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    let moved = shop.movement(
        admin,
        json!({"piece_id": piece, "type": "IN", "quantity": 1}),
    );
    assert_eq!(moved.status, 201, "{}", moved.body);
    // Used in stock: DELETE archives it.
    let archived = shop.app.call(
        "DELETE",
        &format!("/api/pieces/{piece}/"),
        Some(manager),
        None,
    );
    assert_eq!(archived.status, 200, "{}", archived.body);
    let unused = shop.piece("AUD-2", 0);
    let deleted = shop.app.call(
        "DELETE",
        &format!("/api/pieces/{unused}/"),
        Some(manager),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    let read = |query: &str| {
        let reply = shop.app.call(
            "GET",
            &format!("/api/pieces/audit/?{query}"),
            Some(&shop.team.viewer),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    let first = read(&format!("piece_id={piece}"));
    assert_eq!(
        trail(&first, "user"),
        [
            (
                "create".into(),
                "admin".into(),
                [
                    "archived",
                    "min_stock",
                    "name",
                    "price_cents",
                    "reference",
                    "unit"
                ]
                .map(String::from)
                .to_vec()
            ),
            (
                "update".into(),
                "gerante".into(),
                vec!["min_stock".to_owned(), "name".to_owned()]
            ),
            (
                "update".into(),
                "gerante".into(),
                vec!["min_stock".to_owned()]
            ),
            (
                "archive".into(),
                "gerante".into(),
                vec!["archived".to_owned()]
            ),
        ]
    );
    let rename = &first["results"][2]["changes"];
    assert_eq!(
        rename["name"],
        json!({"before": "Pièce AUD-1", "after": "Vis auditée"})
    );
    assert_eq!(rename["min_stock"], json!({"before": 2, "after": 3}));
    let gone = read(&format!("piece_id={unused}"));
    assert_eq!(gone["results"][0]["action"], "delete");
    assert_eq!(gone["results"][0]["user"], "gerante");
    assert_eq!(gone["results"][0]["reference"], "AUD-2");
    assert_eq!(read("user=gerante")["count"], 4);
    assert_eq!(read("date_from=2000-01-01&date_to=2000-12-31")["count"], 0);
    for bad in ["piece_id=x", "date_from=2026-02-30", "date_to=hier"] {
        let reply = shop.app.call(
            "GET",
            &format!("/api/pieces/audit/?{bad}"),
            Some(&shop.team.viewer),
            None,
        );
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
}

#[test]
fn each_change_of_an_account_is_recorded_and_passwords_only_as_changed() {
    let shop = Workshop::open();
    let admin = Some(shop.team.admin.as_str());
    let created = shop.app.json(
        "POST",
        "/api/auth/users/",
        admin,
        &json!({"username": "suivie", "password": "suivie-password", "role": "viewer"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_i64().expect("an id");
    for change in [
        json!({"role": "operator"}),
        json!({"password": "nouveau-mot-de-passe"}),
        json!({}),
    ] {
        let reply = shop
            .app
            .json("PATCH", &format!("/api/auth/users/{id}/"), admin, &change);
        assert_eq!(reply.status, 200, "{change}: {}", reply.body);
    }
    let token = shop.app.login("suivie", "nouveau-mot-de-passe")["access"]
        .as_str()
        .expect("a token")
        .to_owned();
    let own = shop.app.json(
        "POST",
        "/api/auth/password/",
        Some(&token),
        &json!({"old_password": "nouveau-mot-de-passe", "new_password": "le-mien-a-moi"}),
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let gone = shop
        .app
        .call("DELETE", &format!("/api/auth/users/{id}/"), admin, None);
    assert_eq!(gone.status, 204, "{}", gone.body);

    let reply = shop.app.call(
        "GET",
        &format!("/api/auth/audit/?user_id={id}"),
        admin,
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let entries = reply.json();
    assert_eq!(
        trail(&entries, "actor"),
        [
            (
                "create".into(),
                "admin".into(),
                vec![
                    "is_active".to_owned(),
                    "role".to_owned(),
                    "username".to_owned()
                ]
            ),
            ("update".into(), "admin".into(), vec!["role".to_owned()]),
            ("update".into(), "admin".into(), vec!["password".to_owned()]),
            (
                "update".into(),
                "suivie".into(),
                vec!["password".to_owned()]
            ),
            (
                "update".into(),
                "admin".into(),
                vec!["is_active".to_owned()]
            ),
        ],
        "the empty change leaves no trace: {entries}"
    );
    assert!(
        !entries.to_string().contains("argon2"),
        "no hash in the trail"
    );
    let viewer = shop
        .app
        .call("GET", "/api/auth/audit/", Some(&shop.team.viewer), None);
    assert_eq!(viewer.status, 403);
    let mut auth_db = rusqlite::Connection::open(crate::helpers::database_file(
        shop.app.data_dir.path(),
        "auth",
    ))
    .expect("auth's database");
    let rewritten = auth_db
        .transaction()
        .and_then(|tx| tx.execute("UPDATE user_audit SET actor = 'personne'", []));
    assert!(rewritten.is_err(), "the trail is never rewritten");
}
