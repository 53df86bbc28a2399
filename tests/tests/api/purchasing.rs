//! Purchasing on one host, every component selected (as each runs in the
//! split stack): suppliers, offers, the reorder list, orders made from it,
//! and receipts that move stock exactly once.

use std::thread;

use serde_json::{Value, json};

use crate::helpers::{Reply, Workshop, eventually};

impl Workshop {
    /// A new supplier (as the manager); its id.
    fn supplier(&self, name: &str) -> i64 {
        let reply = self.app.json(
            "POST",
            "/api/purchasing/suppliers/",
            Some(&self.team.manager),
            &json!({ "name": name }),
        );
        assert_eq!(reply.status, 201, "create supplier: {}", reply.body);
        reply.json()["id"].as_i64().expect("a supplier id")
    }

    /// A new offer (as the manager); its id.
    fn offer(&self, body: Value) -> i64 {
        let reply = self.app.json(
            "POST",
            "/api/purchasing/offers/",
            Some(&self.team.manager),
            &body,
        );
        assert_eq!(reply.status, 201, "create offer: {}", reply.body);
        reply.json()["id"].as_i64().expect("an offer id")
    }

    /// Brings `piece` to `quantity` units (as the admin).
    fn stock(&self, piece: i64, quantity: i64) {
        let reply = self.movement(
            &self.team.admin,
            json!({"piece_id": piece, "type": "ADJUST", "quantity": quantity, "reason": "correction"}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    fn reorder(&self) -> Value {
        let reply = self.app.call(
            "GET",
            "/api/purchasing/reorder/",
            Some(&self.team.viewer),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// A sent order of `supplier` for `lines` (`[(piece, quantity)]`); its id.
    fn sent_order(&self, supplier: i64, lines: &[(i64, i64)]) -> i64 {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(piece, quantity)| json!({"piece_id": piece, "quantity": quantity, "unit_price_cents": 100}))
            .collect();
        let reply = self.app.json(
            "POST",
            "/api/purchasing/orders/",
            Some(&self.team.manager),
            &json!({"supplier_id": supplier, "lines": lines}),
        );
        assert_eq!(reply.status, 201, "create order: {}", reply.body);
        let id = reply.json()["id"].as_i64().expect("an order id");
        let sent = self.app.call(
            "POST",
            &format!("/api/purchasing/orders/{id}/send/"),
            Some(&self.team.manager),
            None,
        );
        assert_eq!(sent.status, 200, "{}", sent.body);
        id
    }

    fn receive(&self, order: i64, key: Option<&str>, body: &Value) -> Reply {
        let mut headers = vec![("authorization", format!("Bearer {}", self.team.operator))];
        if let Some(key) = key {
            headers.push(("idempotency-key", key.to_owned()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.app.call_with_headers_and_body(
            "POST",
            &format!("/api/purchasing/orders/{order}/receive/"),
            &headers,
            ("application/json", body.to_string()),
        )
    }

    fn order(&self, id: i64) -> Value {
        let reply = self.app.call(
            "GET",
            &format!("/api/purchasing/orders/{id}/"),
            Some(&self.team.viewer),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }
}

#[test]
fn suppliers_are_named_once_and_archived_once_something_names_them() {
    let shop = Workshop::open();
    let manager = Some(shop.team.manager.as_str());
    let supplier = shop.supplier("Würth");
    let twin = shop.app.json(
        "POST",
        "/api/purchasing/suppliers/",
        manager,
        &json!({"name": "würth"}),
    );
    assert_eq!(twin.status, 409, "{}", twin.body);
    for bad in [
        json!({"name": null}),
        json!({"name": "  "}),
        json!({}),
        json!({"name": "X", "archived": true}),
        json!({"name": "X", "email": "pas-une-adresse"}),
        json!({"name": "X", "color": "bleu"}),
    ] {
        let reply = shop
            .app
            .json("POST", "/api/purchasing/suppliers/", manager, &bad);
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert!(reply.json()["detail"].is_string());
    }
    let piece = shop.piece("VIS-1", 5);
    shop.offer(json!({"supplier_id": supplier, "piece_id": piece, "unit_price_cents": 12}));
    let delete = shop.app.call(
        "DELETE",
        &format!("/api/purchasing/suppliers/{supplier}/"),
        manager,
        None,
    );
    assert_eq!(delete.status, 409, "{}", delete.body);
    let archived = shop.app.json(
        "PATCH",
        &format!("/api/purchasing/suppliers/{supplier}/"),
        manager,
        &json!({"archived": true}),
    );
    assert_eq!(archived.json()["archived"], true, "{}", archived.body);
    let offer = shop.app.json(
        "POST",
        "/api/purchasing/offers/",
        manager,
        &json!({"supplier_id": supplier, "piece_id": piece, "unit_price_cents": 10}),
    );
    assert_eq!(
        offer.status, 409,
        "an archived supplier takes no offer: {}",
        offer.body
    );
    let unused = shop.supplier("Inutile");
    let delete = shop.app.call(
        "DELETE",
        &format!("/api/purchasing/suppliers/{unused}/"),
        manager,
        None,
    );
    assert_eq!(delete.status, 204, "{}", delete.body);
}

#[test]
fn offers_name_known_pieces_and_one_preferred_per_piece() {
    let shop = Workshop::open();
    let (a, b) = (shop.supplier("A"), shop.supplier("B"));
    let piece = shop.piece("FOR-1", 2);
    let unknown = shop.app.json(
        "POST",
        "/api/purchasing/offers/",
        Some(&shop.team.manager),
        &json!({"supplier_id": a, "piece_id": 999_999, "unit_price_cents": 1}),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(unknown.json()["piece_id"].is_array(), "{}", unknown.body);
    let first = shop.offer(
        json!({"supplier_id": a, "piece_id": piece, "unit_price_cents": 300, "preferred": true}),
    );
    let second = shop.offer(
        json!({"supplier_id": b, "piece_id": piece, "unit_price_cents": 200, "preferred": true}),
    );
    let twice = shop.app.json(
        "POST",
        "/api/purchasing/offers/",
        Some(&shop.team.manager),
        &json!({"supplier_id": a, "piece_id": piece, "unit_price_cents": 1}),
    );
    assert_eq!(twice.status, 409, "{}", twice.body);
    let view = shop
        .app
        .call(
            "GET",
            &format!("/api/purchasing/pieces/{piece}/"),
            Some(&shop.team.viewer),
            None,
        )
        .json();
    let preferred: Vec<i64> = view["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .filter(|o| o["preferred"] == true)
        .filter_map(|o| o["id"].as_i64())
        .collect();
    assert_eq!(
        preferred,
        [second],
        "the last chosen is the only preferred: {view}"
    );
    assert_ne!(first, second);
    assert_eq!(view["reorder_target"], Value::Null);
}

/// The list: below threshold, up to the target, net of open
/// orders, rounded to minimum and pack, by supplier; "create the orders"
/// makes one per supplier, and a second click makes none.
#[test]
fn the_reorder_list_orders_each_piece_once_up_to_its_target() {
    let shop = Workshop::open();
    let (s1, s2) = (shop.supplier("Alpha"), shop.supplier("Bêta"));
    let a = shop.piece("A-VIS", 10);
    let b = shop.piece("B-ECROU", 4);
    let c = shop.piece("C-RONDELLE", 3);
    let d = shop.piece("D-CLOU", 5);
    let e = shop.piece("E-SANS", 0);
    shop.stock(a, 2);
    shop.stock(c, 3);
    shop.stock(d, 9);
    let _ = e;
    // A: target 20, 2 held, 18 missing: 4 packs of 5.
    shop.offer(json!({"supplier_id": s1, "piece_id": a, "unit_price_cents": 50, "pack_size": 5, "preferred": true}));
    shop.offer(json!({"supplier_id": s2, "piece_id": a, "unit_price_cents": 10}));
    // B: target set to 10, none held; the cheaper offer, with its minimum 12.
    shop.offer(json!({"supplier_id": s1, "piece_id": b, "unit_price_cents": 900}));
    shop.offer(json!({"supplier_id": s2, "piece_id": b, "unit_price_cents": 500, "min_order_quantity": 12}));
    let target = shop.app.json(
        "PUT",
        &format!("/api/purchasing/pieces/{b}/"),
        Some(&shop.team.manager),
        &json!({"reorder_target": 10}),
    );
    assert_eq!(target.status, 200, "{}", target.body);

    let list = shop.reorder();
    assert_eq!(list["count"], 3, "{list}");
    let groups = list["groups"].as_array().expect("groups");
    let summary: Vec<(Value, Vec<(i64, i64)>)> = groups
        .iter()
        .map(|g| {
            let lines = g["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .map(|l| {
                    (
                        l["piece_id"].as_i64().unwrap(),
                        l["to_order"].as_i64().unwrap(),
                    )
                })
                .collect();
            (g["supplier_id"].clone(), lines)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(s1), vec![(a, 20)]),
            (json!(s2), vec![(b, 12)]),
            (Value::Null, vec![(c, 3)]),
        ],
        "{list}"
    );
    assert_eq!(groups[0]["total_cents"], 20 * 50);

    // Two clicks at once: each piece is ordered once.
    let create = || {
        shop.app.call(
            "POST",
            "/api/purchasing/reorder/orders/",
            Some(&shop.team.manager),
            None,
        )
    };
    let (first, second) = thread::scope(|scope| {
        let one = scope.spawn(create);
        let two = scope.spawn(create);
        (one.join().unwrap(), two.join().unwrap())
    });
    let mut created: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|reply| {
            reply.json()["created"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    created.sort_by_key(|o| o["supplier_id"].as_i64());
    assert_eq!(created.len(), 2, "{} / {}", first.body, second.body);
    assert_eq!(created[0]["supplier_id"], s1);
    assert_eq!(created[0]["lines"][0]["quantity"], 20);
    assert_eq!(created[0]["status"], "draft");
    assert_eq!(created[1]["lines"][0]["quantity"], 12);
    assert_eq!(created[1]["lines"][0]["unit_price_cents"], 500);

    // What is on order no longer needs ordering; the piece without a
    // supplier stays on the list.
    let list = shop.reorder();
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["groups"][0]["supplier_id"], Value::Null);
    let again = create();
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["created"], json!([]));
}

/// Receiving twice at once, with one key or with none, moves stock once;
/// more than ordered needs saying so; a drafted order receives nothing.
#[test]
fn a_receipt_moves_stock_once_whatever_the_retries() {
    let shop = Workshop::open();
    let supplier = shop.supplier("Gamma");
    let piece = shop.piece("REC-1", 5);
    let other = shop.piece("REC-2", 0);
    let order = shop.sent_order(supplier, &[(piece, 10), (other, 4)]);
    let location = shop.location("QUAI", "Quai de réception", None);
    let lines = shop.order(order)["lines"].clone();
    let line = lines[0]["id"].as_i64().unwrap();

    // A retried request: same key, same body, at the same time.
    let body = json!({"lines": [{"line_id": line, "quantity": 6}], "location_id": location});
    let (one, two) = thread::scope(|scope| {
        let one = scope.spawn(|| shop.receive(order, Some("bon-1"), &body));
        let two = scope.spawn(|| shop.receive(order, Some("bon-1"), &body));
        (one.join().unwrap(), two.join().unwrap())
    });
    let mut statuses = [one.status, two.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{} / {}", one.body, two.body);
    assert_eq!(shop.level(piece)["quantity"], 6);
    assert_eq!(shop.held(piece).get("QUAI"), Some(&6));
    let reused = shop.receive(
        order,
        Some("bon-1"),
        &json!({"lines": [{"line_id": line, "quantity": 1}]}),
    );
    assert_eq!(reused.status, 422, "{}", reused.body);

    // No key: two people receive the remaining 4 at once; one is refused.
    let rest = json!({"lines": [{"reference": "rec-1", "quantity": 4}]});
    let (one, two) = thread::scope(|scope| {
        let one = scope.spawn(|| shop.receive(order, None, &rest));
        let two = scope.spawn(|| shop.receive(order, None, &rest));
        (one.join().unwrap(), two.join().unwrap())
    });
    let mut statuses = [one.status, two.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} / {}", one.body, two.body);
    assert_eq!(shop.level(piece)["quantity"], 10);

    // Beyond the order only when said; a receipt is whole or nothing.
    let over = json!({"lines": [{"reference": "REC-1", "quantity": 1}, {"reference": "REC-2", "quantity": 4}]});
    let refused = shop.receive(order, None, &over);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        shop.level(other)["quantity"],
        0,
        "nothing of a refused receipt"
    );
    let mut allowed = over.clone();
    allowed["over_receipt"] = json!(true);
    let accepted = shop.receive(order, None, &allowed);
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    let done = shop.order(order);
    assert_eq!(done["status"], "received", "{done}");
    assert_eq!(done["lines"][0]["received"], 11);
    assert_eq!(shop.level(piece)["quantity"], 11);
    assert_eq!(shop.level(other)["quantity"], 4);
    let movements = shop.app.call(
        "GET",
        &format!("/api/stock/movements/?piece_id={piece}"),
        Some(&shop.team.viewer),
        None,
    );
    let movements = movements.json();
    assert_eq!(movements["count"], 3, "{movements}");
    assert!(
        movements["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["type"] == "IN" && m["reason"] == "reception" && m["user"] == "magasinier"),
        "{movements}"
    );

    // Bad receipts are 400s, a draft receives nothing.
    for bad in [
        json!({"lines": []}),
        json!({"lines": [{"reference": "INCONNU", "quantity": 1}]}),
        json!({"lines": [{"line_id": line, "reference": "REC-1", "quantity": 1}]}),
        json!({"lines": [{"line_id": line, "quantity": 0}]}),
        json!({"lines": [{"line_id": line, "quantity": 1}], "location_id": "quai"}),
    ] {
        let reply = shop.receive(order, None, &bad);
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    let draft = shop.app.json(
        "POST",
        "/api/purchasing/orders/",
        Some(&shop.team.manager),
        &json!({"supplier_id": supplier, "lines": [{"piece_id": piece, "quantity": 1, "unit_price_cents": 1}]}),
    );
    let draft = draft.json()["id"].as_i64().unwrap();
    let early = shop.receive(
        draft,
        None,
        &json!({"lines": [{"reference": "REC-1", "quantity": 1}]}),
    );
    assert_eq!(early.status, 409, "{}", early.body);
}

/// A receipt into a location stock refuses is not counted as received.
#[test]
fn a_receipt_stock_refuses_is_not_counted() {
    let shop = Workshop::open();
    let supplier = shop.supplier("Delta");
    let piece = shop.piece("REF-1", 1);
    let order = shop.sent_order(supplier, &[(piece, 3)]);
    let refused = shop.receive(
        order,
        None,
        &json!({"lines": [{"reference": "REF-1", "quantity": 3}], "location_id": 999}),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Emplacement inconnu"),
        "{}",
        refused.body
    );
    let order = shop.order(order);
    assert_eq!(order["status"], "sent", "{order}");
    assert_eq!(order["lines"][0]["received"], 0);
    assert_eq!(order["receptions"][0]["state"], "refused");
    assert_eq!(shop.level(piece)["quantity"], 0);
}

/// Receiving what was out of stock brings the back-in-stock alert.
#[test]
fn receiving_brings_a_piece_back_in_stock() {
    let shop = Workshop::open();
    let supplier = shop.supplier("Epsilon");
    let piece = shop.piece("ALR-1", 2);
    shop.stock(piece, 1);
    let out = shop.movement(
        &shop.team.operator,
        json!({"piece_id": piece, "type": "OUT", "quantity": 1}),
    );
    assert_eq!(out.status, 201, "{}", out.body);
    let order = shop.sent_order(supplier, &[(piece, 5)]);
    let received = shop.receive(
        order,
        None,
        &json!({"lines": [{"reference": "ALR-1", "quantity": 5}]}),
    );
    assert_eq!(received.status, 201, "{}", received.body);
    assert_eq!(received.json()["receptions"][0]["state"], "recorded");
    eventually("the back-in-stock alert reaches notifications", || {
        let list = shop.app.call(
            "GET",
            "/api/notifications/?type=back_in_stock",
            Some(&shop.team.manager),
            None,
        );
        list.json()["results"]
            .as_array()
            .is_some_and(|all| all.iter().any(|n| n["piece"]["id"] == piece))
    });
}
