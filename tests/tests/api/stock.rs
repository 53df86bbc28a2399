//! Stock levels, movements and the ledger, and the alerts they raise,
//! against the real host serving every component, each selected as the
//! split stack's hosts select theirs (so that the internal routes the
//! sidecar calls answer here too).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, database_file, spawn_app_selecting_each_component};

struct Workshop {
    app: TestApp,
    admin: String,
    manager: String,
    operator: String,
    viewer: String,
}

fn workshop() -> Workshop {
    let app = spawn_app_selecting_each_component();
    let admin = app.admin_token();
    let manager = app.user_token("gerante", "manager");
    let operator = app.user_token("magasinier", "operator");
    let viewer = app.user_token("lecteur", "viewer");
    Workshop {
        app,
        admin,
        manager,
        operator,
        viewer,
    }
}

impl Workshop {
    fn piece(&self, reference: &str, min_stock: i64) -> i64 {
        let reply = self.app.json(
            "POST",
            "/api/pieces/",
            Some(&self.admin),
            &json!({ "reference": reference, "name": format!("Pièce {reference}"), "min_stock": min_stock }),
        );
        assert_eq!(reply.status, 201, "create piece: {}", reply.body);
        reply.json()["id"].as_i64().expect("a piece id")
    }

    fn movement(&self, token: &str, body: Value) -> crate::helpers::Reply {
        self.app
            .json("POST", "/api/stock/movement/", Some(token), &body)
    }

    fn level(&self, piece: i64) -> Value {
        let reply = self.app.call(
            "GET",
            &format!("/api/stock/{piece}/"),
            Some(&self.viewer),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// What the sidecar does every second in the stack.
    fn flush_outbox(&self) -> Value {
        let reply = self.app.call_with_headers(
            "POST",
            "/api/stock/internal/outbox/flush/",
            &[("x-internal-secret", &self.app.internal_secret())],
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }
}

#[test]
fn movements_follow_the_rules_and_the_ledger_sums_to_the_level() {
    let w = workshop();
    let piece = w.piece("ECR-M6", 5);
    let reply = w.movement(
        &w.operator,
        json!({"piece_id": piece, "type": "IN", "quantity": 10, "reason": "reception"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let movement = reply.json();
    assert_eq!(
        (movement["level_after"].as_i64(), movement["user"].as_str()),
        (Some(10), Some("magasinier"))
    );
    assert!(
        movement["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    assert_eq!(
        w.movement(
            &w.operator,
            json!({"piece_id": piece, "type": "OUT", "quantity": 4})
        )
        .status,
        201
    );
    let refused = w.movement(
        &w.operator,
        json!({"piece_id": piece, "type": "OUT", "quantity": 7}),
    );
    assert_eq!(refused.status, 409);
    assert_eq!(refused.json()["available"], 6);
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("6 disponible")
    );

    // ADJUST is a manager's, with a reason; the quantity is the counted level.
    assert_eq!(
        w.movement(
            &w.operator,
            json!({"piece_id": piece, "type": "ADJUST", "quantity": 8, "reason": "inventory"})
        )
        .status,
        403
    );
    let no_reason = w.movement(
        &w.manager,
        json!({"piece_id": piece, "type": "ADJUST", "quantity": 8}),
    );
    assert_eq!(no_reason.status, 400);
    assert!(no_reason.json()["reason"].is_array(), "{}", no_reason.body);
    let adjust = w.movement(
        &w.manager,
        json!({"piece_id": piece, "type": "ADJUST", "quantity": 8, "reason": "inventory"}),
    );
    assert_eq!(
        (adjust.status, adjust.json()["delta"].as_i64()),
        (201, Some(2))
    );

    let level = w.level(piece);
    assert_eq!(
        (level["quantity"].as_i64(), level["status"].as_str()),
        (Some(8), Some("ok"))
    );
    let ledger = w
        .app
        .call(
            "GET",
            &format!("/api/stock/movements/?piece_id={piece}"),
            Some(&w.viewer),
            None,
        )
        .json();
    assert_eq!(ledger["count"], 3);
    let deltas: i64 = ledger["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["delta"].as_i64().unwrap())
        .sum();
    assert_eq!(deltas, 8, "the ledger sums to the level");
    assert_eq!(ledger["results"][0]["type"], "ADJUST", "newest first");
}

#[test]
fn bad_movements_get_field_errors_and_change_nothing() {
    let w = workshop();
    let piece = w.piece("VIS-10", 0);
    for body in [
        json!({"piece_id": piece, "type": "OUT", "quantity": 0}),
        json!({"piece_id": piece, "type": "OUT", "quantity": -1}),
        json!({"piece_id": piece, "type": "SIDEWAYS", "quantity": 1}),
        json!({"piece_id": piece, "type": "IN", "quantity": "3"}),
        json!({"piece_id": 999_999, "type": "IN", "quantity": 1}),
        json!({"piece_id": piece, "type": "IN", "quantity": 1, "level": 99}),
    ] {
        let reply = w.movement(&w.operator, body.clone());
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.json()["detail"].is_string());
    }
    let not_json = w.app.call(
        "POST",
        "/api/stock/movement/",
        Some(&w.operator),
        Some(("text/plain", "IN 3".into())),
    );
    assert_eq!(not_json.status, 415);
    assert_eq!(
        w.app
            .json("POST", "/api/stock/movement/", None, &json!({}))
            .status,
        401
    );
    assert_eq!(
        w.movement(
            &w.viewer,
            json!({"piece_id": piece, "type": "IN", "quantity": 1})
        )
        .status,
        403
    );
    assert_eq!(w.level(piece)["quantity"], 0);
}

#[test]
fn parallel_withdrawals_succeed_exactly_as_often_as_the_level_allows() {
    let w = workshop();
    let piece = w.piece("JOINT-8", 0);
    assert_eq!(
        w.movement(
            &w.operator,
            json!({"piece_id": piece, "type": "IN", "quantity": 15})
        )
        .status,
        201
    );
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40)
            .map(|_| {
                s.spawn(|| {
                    w.movement(
                        &w.operator,
                        json!({"piece_id": piece, "type": "OUT", "quantity": 1}),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        25,
        "{statuses:?}"
    );
    assert_eq!(w.level(piece)["quantity"], 0);
    let outs = w.app.call(
        "GET",
        &format!("/api/stock/movements/?piece_id={piece}&type=OUT"),
        Some(&w.viewer),
        None,
    );
    assert_eq!(outs.json()["count"], 15);
}

#[test]
fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let w = workshop();
    let piece = w.piece("RLT-6204", 0);
    let body = json!({"piece_id": piece, "type": "IN", "quantity": 3}).to_string();
    let send = |body: &str| {
        w.app.call_with_headers_and_body(
            "POST",
            "/api/stock/movement/",
            &[
                ("authorization", &format!("Bearer {}", w.operator)),
                ("idempotency-key", "reception-42"),
            ],
            ("application/json", body.to_owned()),
        )
    };
    let first = send(&body);
    let again = send(&body);
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.json()["id"], again.json()["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(w.level(piece)["quantity"], 3, "counted once");
    let other = send(&json!({"piece_id": piece, "type": "IN", "quantity": 4}).to_string());
    assert_eq!(other.status, 422);
    assert_eq!(w.level(piece)["quantity"], 3);
}

#[test]
fn a_movement_is_reversed_once_by_a_manager() {
    let w = workshop();
    let piece = w.piece("FILT-2", 0);
    w.movement(
        &w.operator,
        json!({"piece_id": piece, "type": "IN", "quantity": 9}),
    );
    let out = w
        .movement(
            &w.operator,
            json!({"piece_id": piece, "type": "OUT", "quantity": 4}),
        )
        .json();
    let path = format!("/api/stock/movements/{}/reverse/", out["id"]);
    assert_eq!(
        w.app.call("POST", &path, Some(&w.operator), None).status,
        403
    );
    let reversal = w.app.call("POST", &path, Some(&w.manager), None);
    assert_eq!(reversal.status, 201, "{}", reversal.body);
    assert_eq!(
        (
            reversal.json()["type"].as_str(),
            reversal.json()["reverses"].as_i64()
        ),
        (Some("IN"), out["id"].as_i64())
    );
    assert_eq!(w.level(piece)["quantity"], 9);
    assert_eq!(
        w.app.call("POST", &path, Some(&w.manager), None).status,
        409,
        "only once"
    );
    assert_eq!(w.level(piece)["quantity"], 9);
}

#[test]
fn threshold_crossings_make_one_alert_each_for_managers_only() {
    let w = workshop();
    let second_manager = w.app.user_token("chef", "manager");
    let piece = w.piece("COUR-A12", 5);
    for (kind, quantity, reason) in [
        ("IN", 10, None),
        ("OUT", 6, None),
        ("OUT", 1, None),
        ("OUT", 3, None),
        ("ADJUST", 8, Some("found")),
    ] {
        let token = if kind == "ADJUST" {
            &w.manager
        } else {
            &w.operator
        };
        let reply = w.movement(
            token,
            json!({"piece_id": piece, "type": kind, "quantity": quantity, "reason": reason}),
        );
        assert_eq!(reply.status, 201, "{kind} {quantity}: {}", reply.body);
    }
    // 0 -> 10 is a first reception, 10 -> 4 low, 4 -> 3 nothing, 3 -> 0 out, 0 -> 8 back.
    // Each movement delivers its alert itself, right after its response:
    // no flush is needed, and the sidecar's finds nothing left.
    let count = || {
        w.app
            .call("GET", "/api/notifications/", Some(&w.manager), None)
            .json()["count"]
            .as_i64()
    };
    let start = Instant::now();
    while count() != Some(3) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(), Some(3), "the three alerts arrive without a flush");
    assert_eq!(
        w.flush_outbox(),
        json!({"delivered": 0, "pending": 0}),
        "delivered once"
    );

    let alerts = |token: &str| -> Vec<String> {
        let list = w
            .app
            .call(
                "GET",
                "/api/notifications/?type=low_stock",
                Some(token),
                None,
            )
            .json();
        assert!(list["results"].is_array(), "{list}");
        let all = w
            .app
            .call("GET", "/api/notifications/", Some(token), None)
            .json();
        all["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let seen = alerts(&w.manager);
    assert_eq!(
        seen,
        ["back_in_stock", "out_of_stock", "low_stock"],
        "newest first"
    );
    assert_eq!(alerts(&second_manager), seen);
    assert!(
        alerts(&w.operator).is_empty(),
        "operators do not get stock alerts by default"
    );

    // Read state is per user.
    let unread = |token: &str| {
        w.app
            .call("GET", "/api/notifications/unread-count/", Some(token), None)
            .json()["unread"]
            .as_i64()
    };
    assert_eq!(unread(&w.manager), Some(3));
    let marked = w.app.json(
        "POST",
        "/api/notifications/mark-read/",
        Some(&w.manager),
        &json!({"all": true}),
    );
    assert_eq!(marked.json()["marked"], 3);
    assert_eq!(unread(&w.manager), Some(0));
    assert_eq!(unread(&second_manager), Some(3));
}

#[test]
fn a_redelivered_event_is_one_notification() {
    let w = workshop();
    let event = json!({
        "event_id": "movement-77", "type": "low_stock",
        "piece": {"id": 3, "reference": "X-1", "name": "Écrou", "category": ""},
        "quantity": 2, "previous_quantity": 6, "min_stock": 5, "movement_id": 77, "occurred_at": "2026-11-25T10:00:00Z"
    });
    let secret = w.app.internal_secret();
    let statuses: Vec<u16> = (0..20)
        .map(|_| {
            w.app
                .call_with_headers_and_body(
                    "POST",
                    "/api/notifications/internal/events/",
                    &[
                        ("x-internal-secret", &secret),
                        ("idempotency-key", "movement-77"),
                    ],
                    ("application/json", event.to_string()),
                )
                .status
        })
        .collect();
    assert_eq!(statuses[0], 201);
    assert!(statuses[1..].iter().all(|s| *s == 200), "{statuses:?}");
    let list = w
        .app
        .call("GET", "/api/notifications/", Some(&w.manager), None)
        .json();
    assert_eq!(list["count"], 1);
    assert!(
        list["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Écrou")
    );
    // Without the service credential, nothing gets in.
    let forged = w.app.json(
        "POST",
        "/api/notifications/internal/events/",
        Some(&w.admin),
        &event,
    );
    assert_eq!(forged.status, 401);
}

#[test]
fn marking_someone_elses_notification_read_does_nothing() {
    let w = workshop();
    let note = w.app.json(
        "POST",
        "/api/notifications/",
        Some(&w.manager),
        &json!({"title": "Inventaire", "message": "Vendredi 14 h", "role": "manager"}),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let id = note.json()["id"].as_i64().unwrap();
    let marked = w.app.json(
        "POST",
        "/api/notifications/mark-read/",
        Some(&w.operator),
        &json!({"ids": [id]}),
    );
    assert_eq!(
        (marked.status, marked.json()["marked"].as_i64()),
        (200, Some(0))
    );
    let unread = w
        .app
        .call(
            "GET",
            "/api/notifications/unread-count/",
            Some(&w.manager),
            None,
        )
        .json();
    assert_eq!(unread["unread"], 1);
    let bad = w.app.json(
        "POST",
        "/api/notifications/",
        Some(&w.manager),
        &json!({"title": "", "message": "x"}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        w.app
            .json(
                "POST",
                "/api/notifications/",
                Some(&w.operator),
                &json!({"title": "a", "message": "b", "role": "viewer"})
            )
            .status,
        403
    );
}

#[test]
fn a_used_piece_is_archived_not_deleted_and_then_takes_no_movement() {
    let w = workshop();
    let used = w.piece("USAGE-1", 0);
    let unused = w.piece("NEUF-1", 0);
    assert_eq!(
        w.movement(
            &w.operator,
            json!({"piece_id": used, "type": "IN", "quantity": 2})
        )
        .status,
        201
    );

    let archived = w.app.call(
        "DELETE",
        &format!("/api/pieces/{used}/"),
        Some(&w.admin),
        None,
    );
    assert_eq!(archived.status, 200, "{}", archived.body);
    assert_eq!(archived.json()["archived"], true);
    let refused = w.movement(
        &w.operator,
        json!({"piece_id": used, "type": "OUT", "quantity": 1}),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("archivée")
    );
    assert_eq!(w.level(used)["quantity"], 2, "nothing moved");

    let deleted = w.app.call(
        "DELETE",
        &format!("/api/pieces/{unused}/"),
        Some(&w.admin),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(
        w.app
            .call(
                "GET",
                &format!("/api/pieces/{unused}/"),
                Some(&w.viewer),
                None
            )
            .status,
        404
    );
}

#[test]
fn a_changed_minimum_applies_from_the_next_movement() {
    let w = workshop();
    let piece = w.piece("TUYAU-3", 0);
    w.movement(
        &w.operator,
        json!({"piece_id": piece, "type": "IN", "quantity": 10}),
    );
    assert_eq!(w.level(piece)["status"], "ok");
    let patched = w.app.json(
        "PATCH",
        &format!("/api/pieces/{piece}/"),
        Some(&w.admin),
        &json!({"min_stock": 20}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    w.movement(
        &w.operator,
        json!({"piece_id": piece, "type": "OUT", "quantity": 1}),
    );
    let level = w.level(piece);
    assert_eq!(
        (level["min_stock"].as_i64(), level["status"].as_str()),
        (Some(20), Some("low"))
    );
}

#[test]
fn a_movement_rewrites_stock_copy_of_its_piece_only_when_it_changed() {
    let w = workshop();
    let piece = w.piece("JOINT-7", 2);
    let stock_db = rusqlite::Connection::open(database_file(w.app.data_dir.path(), "stock"))
        .expect("stock's database");
    let copy = || -> (String, String) {
        stock_db
            .query_row(
                "SELECT name, refreshed_at FROM pieces WHERE piece_id = ?1",
                [piece],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .expect("stock's copy of the piece")
    };
    let move_one = || {
        let reply = w.movement(
            &w.operator,
            json!({"piece_id": piece, "type": "IN", "quantity": 1}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    move_one();
    let first = copy();
    move_one();
    assert_eq!(copy(), first, "an unchanged piece was rewritten");
    stock_db
        .execute(
            "UPDATE pieces SET name = 'copie périmée' WHERE piece_id = ?1",
            [piece],
        )
        .expect("a stale copy");
    move_one();
    let (name, refreshed_at) = copy();
    assert_eq!(name, "Pièce JOINT-7");
    assert!(refreshed_at > first.1, "{refreshed_at} after {}", first.1);
}

#[test]
fn the_retention_purge_keeps_recent_notifications() {
    let w = workshop();
    let sent = w.app.json(
        "POST",
        "/api/notifications/",
        Some(&w.manager),
        &json!({"title": "Rappel", "message": "Inventaire", "role": "viewer"}),
    );
    assert_eq!(sent.status, 201);
    let secret = w.app.internal_secret();
    let purge = w.app.call_with_headers(
        "POST",
        "/api/notifications/internal/purge/",
        &[("x-internal-secret", &secret)],
    );
    assert_eq!(purge.status, 200, "{}", purge.body);
    assert_eq!(
        (
            purge.json()["purged"].as_i64(),
            purge.json()["retention_days"].as_i64()
        ),
        (Some(0), Some(90))
    );
    assert_eq!(
        w.app
            .call("GET", "/api/notifications/", Some(&w.viewer), None)
            .json()["count"],
        1
    );
    let without = w.app.post("/api/notifications/internal/purge/");
    assert_eq!(without.status, 401);
}

/// What stock's list shows follows pieces' changes and nobody's page views:
/// reading an unseen piece's level stores nothing, a piece renamed, given a
/// new minimum, archived or deleted in pieces is shown so at once, and the
/// search folds case and accents as pieces' does.
#[test]
fn the_stock_list_follows_pieces_and_nothing_else() {
    let w = workshop();
    let listed = |query: &str| -> Vec<Value> {
        let reply = w
            .app
            .call("GET", &format!("/api/stock/{query}"), Some(&w.viewer), None);
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        reply.json()["results"].as_array().expect("results").clone()
    };
    let ids = |query: &str| -> Vec<i64> {
        listed(query)
            .iter()
            .map(|level| level["piece_id"].as_i64().expect("an id"))
            .collect()
    };

    // 1. Reading the level of a piece stock has never seen writes nothing.
    let unseen = w.piece("VU-1", 4);
    let level = w.level(unseen);
    assert_eq!(
        (
            level["quantity"].as_i64(),
            level["min_stock"].as_i64(),
            level["status"].as_str(),
            level["reference"].as_str(),
            level["archived"].as_bool(),
        ),
        (Some(0), Some(4), Some("out"), Some("VU-1"), Some(false)),
        "{level}"
    );
    assert!(level["updated_at"].is_null(), "{level}");
    assert_eq!(ids(""), Vec::<i64>::new(), "a page view is not a movement");
    let unknown = w
        .app
        .call("GET", "/api/stock/987654/", Some(&w.viewer), None);
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // 3. The search folds case and accents, NFD included.
    let nut = w.piece("ÉCR-M8", 2);
    let renamed = w.app.json(
        "PATCH",
        &format!("/api/pieces/{nut}/"),
        Some(&w.admin),
        &json!({"name": "Écrou à œillet"}),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let stocked = w.movement(
        &w.operator,
        json!({"piece_id": nut, "type": "IN", "quantity": 5}),
    );
    assert_eq!(stocked.status, 201, "{}", stocked.body);
    for search in [
        "%C3%A9crou",  // écrou
        "%C3%89CROU",  // ÉCROU
        "ecrou",       // no accent
        "e%CC%81crou", // e + combining acute (NFD)
        "OEILLET",     // the ligature spelled out
        "ecr-m",       // the reference, folded too
    ] {
        assert_eq!(ids(&format!("?search={search}")), [nut], "search={search}");
    }
    assert_eq!(ids("?search=boulon"), Vec::<i64>::new());
    assert_eq!(ids("?search=%25"), Vec::<i64>::new(), "% is literal");

    // 2. Pieces tells stock of a change: name, minimum...
    let patched = w.app.json(
        "PATCH",
        &format!("/api/pieces/{nut}/"),
        Some(&w.admin),
        &json!({"name": "Boulon tête H", "min_stock": 10}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    let level = &listed("")[0];
    assert_eq!(
        (
            level["name"].as_str(),
            level["min_stock"].as_i64(),
            level["status"].as_str(),
        ),
        (Some("Boulon tête H"), Some(10), Some("low")),
        "without a movement: {level}"
    );
    assert_eq!(ids("?search=TETE"), [nut], "the new name is searchable");
    assert_eq!(
        ids("?search=ecrou"),
        Vec::<i64>::new(),
        "the old one is not"
    );

    // ... an archiving (a used piece)...
    let archived = w.app.call(
        "DELETE",
        &format!("/api/pieces/{nut}/"),
        Some(&w.admin),
        None,
    );
    assert_eq!(archived.status, 200, "{}", archived.body);
    let level = &listed("")[0];
    assert_eq!(
        (level["piece_id"].as_i64(), level["archived"].as_bool()),
        (Some(nut), Some(true)),
        "{level}"
    );
    assert_eq!(w.level(nut)["archived"], true);

    // ... and a deletion (a piece stock saw, with neither stock nor movement).
    let tried = w.piece("ESSAI-1", 0);
    let refused = w.movement(
        &w.operator,
        json!({"piece_id": tried, "type": "OUT", "quantity": 1}),
    );
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(ids("?ordering=-quantity"), [nut, tried], "both are listed");
    let deleted = w.app.call(
        "DELETE",
        &format!("/api/pieces/{tried}/"),
        Some(&w.admin),
        None,
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(ids(""), [nut], "a deleted piece leaves the list");
    let gone = w.app.call(
        "GET",
        &format!("/api/stock/{tried}/"),
        Some(&w.viewer),
        None,
    );
    assert_eq!(gone.status, 404, "{}", gone.body);
}
