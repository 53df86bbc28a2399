//! Locations, what each holds, and transfers between them, against the
//! real host serving every component.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::Workshop;

const DEFAULT: i64 = 1;

fn held(entries: &[(&str, i64)]) -> BTreeMap<String, i64> {
    entries
        .iter()
        .map(|(code, n)| (code.to_string(), *n))
        .collect()
}

#[test]
fn locations_form_a_tree_with_unique_codes_and_no_loops() {
    let w = Workshop::open();
    let (manager, operator) = (&w.team.manager, &w.team.operator);
    let listed = w
        .app
        .call("GET", "/api/stock/locations/", Some(&w.team.viewer), None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.json()[0]["id"],
        DEFAULT,
        "the default location exists"
    );

    let workshop = w.location("ATELIER", "Atelier", None);
    let shelf = w.location("ETAGERE-A", "Étagère A", Some(workshop));
    let bin = w.location("BAC-A1", "Bac A1", Some(shelf));
    let one = w.app.call(
        "GET",
        &format!("/api/stock/locations/{bin}/"),
        Some(operator),
        None,
    );
    assert_eq!(one.json()["path"], "Atelier / Étagère A / Bac A1");
    assert_eq!(one.json()["depth"], 2);

    let new = |token: &str, body: serde_json::Value| {
        w.app
            .json("POST", "/api/stock/locations/", Some(token), &body)
    };
    assert_eq!(new(operator, json!({"code": "X", "name": "X"})).status, 403);
    let duplicate = new(manager, json!({"code": "atelier", "name": "Autre"}));
    assert_eq!(duplicate.status, 409, "codes are unique, case aside");
    let spaced = new(manager, json!({"code": "A 1", "name": "Bac"}));
    assert_eq!(spaced.status, 400);
    assert!(spaced.json()["code"].is_array(), "{}", spaced.body);
    let orphan = new(
        manager,
        json!({"code": "ORPHELIN", "name": "Orphelin", "parent_id": 999}),
    );
    assert_eq!(orphan.status, 400);
    assert!(orphan.json()["parent_id"].is_array(), "{}", orphan.body);

    let patch = |id: i64, body: serde_json::Value| {
        w.app.json(
            "PATCH",
            &format!("/api/stock/locations/{id}/"),
            Some(manager),
            &body,
        )
    };
    for parent in [bin, workshop] {
        let looped = patch(workshop, json!({"parent_id": parent}));
        assert_eq!(looped.status, 400, "under {parent}: {}", looped.body);
        assert!(looped.json()["parent_id"].is_array(), "{}", looped.body);
    }
    let moved = patch(bin, json!({"parent_id": workshop, "name": "Bac A1 bis"}));
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.json()["path"], "Atelier / Bac A1 bis");
    let rooted = patch(bin, json!({"parent_id": null}));
    assert_eq!(rooted.json()["parent_id"], serde_json::Value::Null);

    assert_eq!(patch(DEFAULT, json!({"archived": true})).status, 409);
    let url = |id: i64| format!("/api/stock/locations/{id}/");
    assert_eq!(
        w.app
            .call("DELETE", &url(DEFAULT), Some(manager), None)
            .status,
        409
    );
    assert_eq!(
        w.app
            .call("DELETE", &url(workshop), Some(manager), None)
            .status,
        409,
        "a location with children stays"
    );
    assert_eq!(
        w.app.call("DELETE", &url(bin), Some(operator), None).status,
        403
    );
    assert_eq!(
        w.app.call("DELETE", &url(bin), Some(manager), None).status,
        204
    );
    assert_eq!(
        w.app.call("GET", &url(bin), Some(manager), None).status,
        404
    );

    assert_eq!(patch(shelf, json!({"archived": true})).status, 200);
    let active = w
        .app
        .call("GET", "/api/stock/locations/", Some(operator), None)
        .json();
    assert!(active.as_array().unwrap().iter().all(|l| l["id"] != shelf));
    let all = w.app.call(
        "GET",
        "/api/stock/locations/?archived=true",
        Some(operator),
        None,
    );
    assert!(
        all.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == shelf)
    );
    let under_archived = new(
        manager,
        json!({"code": "SOUS", "name": "Sous", "parent_id": shelf}),
    );
    assert_eq!(under_archived.status, 400, "{}", under_archived.body);
}

#[test]
fn stock_lives_in_locations_and_transfers_keep_the_total() {
    let w = Workshop::open();
    let (operator, manager) = (&w.team.operator, &w.team.manager);
    let workshop = w.location("ATELIER", "Atelier", None);
    let bin = w.location("BAC-A1", "Bac A1", Some(workshop));
    let piece = w.piece("ROUL-6204", 5);
    let other = w.piece("ROUL-6205", 0);

    // A body from before locations goes to the default location.
    let old = w.movement(
        operator,
        json!({"piece_id": piece, "type": "IN", "quantity": 10}),
    );
    assert_eq!(old.status, 201, "{}", old.body);
    assert_eq!(
        (
            old.json()["location_id"].as_i64(),
            old.json()["location_code"].as_str()
        ),
        (Some(DEFAULT), Some("DEFAUT"))
    );
    let into_bin = w.movement(
        operator,
        json!({"piece_id": piece, "type": "IN", "quantity": 7, "location_id": bin}),
    );
    assert_eq!(into_bin.json()["level_after"], 17, "{}", into_bin.body);
    w.movement(
        operator,
        json!({"piece_id": other, "type": "IN", "quantity": 3}),
    );
    assert_eq!(w.held(piece), held(&[("BAC-A1", 7), ("DEFAUT", 10)]));
    assert_eq!(w.level(piece)["quantity"], 17);

    let too_many = w.movement(
        operator,
        json!({"piece_id": piece, "type": "OUT", "quantity": 8, "location_id": bin}),
    );
    assert_eq!(too_many.status, 409);
    assert_eq!(too_many.json()["available"], 7, "what the location holds");

    let transfer = |quantity: i64, from: i64, to: i64| {
        w.movement(
            operator,
            json!({"piece_id": piece, "type": "TRANSFER", "quantity": quantity,
                   "from_location_id": from, "to_location_id": to}),
        )
    };
    let moved = transfer(4, DEFAULT, bin);
    assert_eq!(moved.status, 201, "{}", moved.body);
    let moved = moved.json();
    assert_eq!(
        (moved["delta"].as_i64(), moved["level_after"].as_i64()),
        (Some(0), Some(17))
    );
    assert_eq!(moved["to_location_code"], "BAC-A1");
    assert_eq!(w.held(piece), held(&[("BAC-A1", 11), ("DEFAUT", 6)]));
    let beyond = transfer(12, bin, DEFAULT);
    assert_eq!(
        (beyond.status, beyond.json()["available"].as_i64()),
        (409, Some(11))
    );
    let nowhere = transfer(1, bin, 999);
    assert_eq!(nowhere.status, 400);
    assert!(
        nowhere.json()["to_location_id"].is_array(),
        "{}",
        nowhere.body
    );
    assert_eq!(transfer(1, bin, bin).status, 400);

    let reversed = w.app.call(
        "POST",
        &format!("/api/stock/movements/{}/reverse/", moved["id"]),
        Some(manager),
        None,
    );
    assert_eq!(reversed.status, 201, "{}", reversed.body);
    assert_eq!(reversed.json()["type"], "TRANSFER");
    assert_eq!(w.held(piece), held(&[("BAC-A1", 7), ("DEFAUT", 10)]));

    // A location's list holds what it and the locations below it hold.
    let list = |location: i64| {
        let reply = w.app.call(
            "GET",
            &format!("/api/stock/?location={location}"),
            Some(operator),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|level| {
                (
                    level["piece_id"].as_i64().unwrap(),
                    level["location_quantity"].as_i64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(list(workshop), [(piece, 7)]);
    assert_eq!(list(DEFAULT), [(piece, 10), (other, 3)]);
    assert_eq!(
        w.app
            .call("GET", "/api/stock/?location=x", Some(operator), None)
            .status,
        400
    );
    let ledger = w.app.call(
        "GET",
        &format!("/api/stock/movements/?location_id={bin}"),
        Some(operator),
        None,
    );
    assert_eq!(
        ledger.json()["count"],
        3,
        "the IN and both transfers: {}",
        ledger.body
    );

    // A location that holds stock is neither archived nor deleted; one
    // that the ledger names is archived, not deleted.
    let url = format!("/api/stock/locations/{bin}/");
    assert_eq!(w.app.call("DELETE", &url, Some(manager), None).status, 409);
    let archive = json!({"archived": true});
    assert_eq!(
        w.app.json("PATCH", &url, Some(manager), &archive).status,
        409
    );
    assert_eq!(transfer(7, bin, DEFAULT).status, 201);
    assert_eq!(
        w.app.json("PATCH", &url, Some(manager), &archive).status,
        200
    );
    let into_archived = w.movement(
        operator,
        json!({"piece_id": piece, "type": "IN", "quantity": 1, "location_id": bin}),
    );
    assert_eq!(into_archived.status, 409, "{}", into_archived.body);
    assert_eq!(w.app.call("DELETE", &url, Some(manager), None).status, 409);
    assert_eq!(w.held(piece), held(&[("DEFAUT", 17)]));
    assert_eq!(w.level(piece)["quantity"], 17);
}

/// A store kept by the version before locations (stock's database as that
/// version left it: three pieces, five movements, an idempotency key)
/// upgrades in place: every unit in the default location, the ledger whole
/// and still reversible, the key still replaying.
#[test]
fn a_store_from_before_locations_keeps_its_stock_in_the_default_location() {
    let app = crate::helpers::spawn_app_on(&[(
        "stock",
        include_str!("../../fixtures/stock-before-locations.sql"),
    )]);
    let w = Workshop {
        team: app.team(),
        app,
    };
    // The catalogue again, under the same ids: movements read it.
    let (screws, nuts) = (w.piece("OLD-VIS", 5), w.piece("OLD-ECROU", 0));
    assert_eq!((screws, nuts, w.piece("OLD-NEUF", 2)), (1, 2, 3));
    assert_eq!(w.held(screws), held(&[("DEFAUT", 4)]));
    assert_eq!(w.held(nuts), held(&[("DEFAUT", 2)]));
    assert_eq!(w.level(screws)["status"], "low");
    let listed = w
        .app
        .call("GET", "/api/stock/", Some(&w.team.viewer), None)
        .json();
    assert_eq!(listed["count"], 3, "{listed}");

    let ledger = w
        .app
        .call("GET", "/api/stock/movements/", Some(&w.team.viewer), None)
        .json();
    assert_eq!(ledger["count"], 5, "{ledger}");
    assert!(
        ledger["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["location_code"] == "DEFAUT"),
        "{ledger}"
    );
    // The admin who received 20 screws with this key is user 1 here too.
    let replayed = w.app.request(
        "POST",
        "/api/stock/movement/",
        Some(&w.team.admin),
        &[("idempotency-key", "reception-1")],
        Some((
            "application/json",
            r#"{"piece_id": 1, "type": "IN", "quantity": 20}"#,
        )),
    );
    assert_eq!(replayed.status, 201, "{}", replayed.body);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.json()["id"], 1);

    let reversal = w
        .app
        .post_as("/api/stock/movements/2/reverse/", &w.team.manager);
    assert_eq!(reversal.status, 201, "{}", reversal.body);
    assert_eq!(reversal.json()["id"], 6, "ids go on after the old ledger's");
    assert_eq!(w.held(screws), held(&[("DEFAUT", 20)]));
    let out = w.movement(
        &w.team.operator,
        json!({"piece_id": nuts, "type": "OUT", "quantity": 2}),
    );
    assert_eq!(out.json()["level_after"], 0, "{}", out.body);
}
