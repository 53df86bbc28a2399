//! Alerts and messages end to end: stock's threshold crossings reaching
//! notifications once each, who sees what, read state, retention.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::Workshop;

#[test]
fn threshold_crossings_make_one_alert_each_for_managers_only() {
    let w = Workshop::open();
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
            &w.team.manager
        } else {
            &w.team.operator
        };
        let reply = w.movement(
            token,
            json!({"piece_id": piece, "type": kind, "quantity": quantity, "reason": reason}),
        );
        assert_eq!(reply.status, 201, "{kind} {quantity}: {}", reply.body);
    }
    // Created at 0 under its minimum: the first thing to order, one alert.
    // Then 0 -> 10 is a first reception, 10 -> 4 low, 4 -> 3 nothing,
    // 3 -> 0 out, 0 -> 8 back. Each alert leaves right after the response
    // that caused it: no flush is needed, and the sidecar's finds nothing.
    let count = || {
        w.app
            .call("GET", "/api/notifications/", Some(&w.team.manager), None)
            .json()["count"]
            .as_i64()
    };
    let start = Instant::now();
    while count() != Some(4) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(), Some(4), "the four alerts arrive without a flush");
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
    let seen = alerts(&w.team.manager);
    assert_eq!(
        seen,
        ["back_in_stock", "out_of_stock", "low_stock", "out_of_stock"],
        "newest first"
    );
    assert_eq!(alerts(&second_manager), seen);
    assert!(
        alerts(&w.team.operator).is_empty(),
        "operators do not get stock alerts by default"
    );

    // Read state is per user.
    let unread = |token: &str| {
        w.app
            .call("GET", "/api/notifications/unread-count/", Some(token), None)
            .json()["unread"]
            .as_i64()
    };
    assert_eq!(unread(&w.team.manager), Some(4));
    let marked = w.app.json(
        "POST",
        "/api/notifications/mark-read/",
        Some(&w.team.manager),
        &json!({"all": true}),
    );
    assert_eq!(marked.json()["marked"], 4);
    assert_eq!(unread(&w.team.manager), Some(0));
    assert_eq!(unread(&second_manager), Some(4));
}

#[test]
fn a_redelivered_event_is_one_notification() {
    let w = Workshop::open();
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
        .call("GET", "/api/notifications/", Some(&w.team.manager), None)
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
        Some(&w.team.admin),
        &event,
    );
    assert_eq!(forged.status, 401);
}

#[test]
fn marking_someone_elses_notification_read_does_nothing() {
    let w = Workshop::open();
    let note = w.app.json(
        "POST",
        "/api/notifications/",
        Some(&w.team.manager),
        &json!({"title": "Inventaire", "message": "Vendredi 14 h", "role": "manager"}),
    );
    assert_eq!(note.status, 201, "{}", note.body);
    let id = note.json()["id"].as_i64().unwrap();
    let marked = w.app.json(
        "POST",
        "/api/notifications/mark-read/",
        Some(&w.team.operator),
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
            Some(&w.team.manager),
            None,
        )
        .json();
    assert_eq!(unread["unread"], 1);
    let bad = w.app.json(
        "POST",
        "/api/notifications/",
        Some(&w.team.manager),
        &json!({"title": "", "message": "x"}),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        w.app
            .json(
                "POST",
                "/api/notifications/",
                Some(&w.team.operator),
                &json!({"title": "a", "message": "b", "role": "viewer"})
            )
            .status,
        403
    );
}

#[test]
fn the_retention_purge_keeps_recent_notifications() {
    let w = Workshop::open();
    let sent = w.app.json(
        "POST",
        "/api/notifications/",
        Some(&w.team.manager),
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
            .call("GET", "/api/notifications/", Some(&w.team.viewer), None)
            .json()["count"],
        1
    );
    let without = w.app.post("/api/notifications/internal/purge/");
    assert_eq!(without.status, 401);
}

/// The alerts `token` sees, oldest first: `"type reference"` each.
fn seen_alerts(w: &Workshop, token: &str) -> Vec<String> {
    let list = w
        .app
        .call(
            "GET",
            "/api/notifications/?page_size=200",
            Some(token),
            None,
        )
        .json();
    let mut seen: Vec<String> = list["results"]
        .as_array()
        .expect("a page of notifications")
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["type"].as_str().unwrap_or(""),
                n["piece"]["reference"].as_str().unwrap_or("")
            )
        })
        .collect();
    seen.reverse();
    seen
}

fn user_id(w: &Workshop, username: &str) -> i64 {
    let page = w
        .app
        .call(
            "GET",
            &format!("/api/auth/users/?search={username}"),
            Some(&w.team.admin),
            None,
        )
        .json();
    page["results"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == username))
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("no user {username}: {page}"))
}

#[test]
fn an_admin_chooses_who_receives_each_kind_and_anyone_follows_pieces_and_categories() {
    let w = Workshop::open();
    let viewer_id = user_id(&w, "lecteur");
    let set = w.app.json(
        "PUT",
        "/api/notifications/audiences/",
        Some(&w.team.admin),
        &json!({
            "low_stock": {"role": "operator"},
            "out_of_stock": {"role": null, "users": [viewer_id, viewer_id]},
            "back_in_stock": {"role": "manager", "users": []},
        }),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        set.json()["out_of_stock"],
        json!({"role": null, "users": [viewer_id]})
    );
    let operator_prefs = w
        .app
        .call(
            "GET",
            "/api/notifications/preferences/",
            Some(&w.team.operator),
            None,
        )
        .json();
    assert_eq!(operator_prefs["audience"], json!(["low_stock"]));

    let make = |reference: &str, category: &str| -> i64 {
        let reply = w.app.json(
            "POST",
            "/api/pieces/",
            Some(&w.team.admin),
            &json!({"reference": reference, "name": reference, "category": category, "min_stock": 5}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["id"].as_i64().expect("an id")
    };
    let valve = make("VANNE", "Hydraulique");
    let bolt = make("BOULON", "Visserie");
    // Operators follow hydraulics; the manager follows the bolt.
    let chosen = w.app.json(
        "PUT",
        "/api/notifications/preferences/",
        Some(&w.team.operator),
        &json!({"stock_alerts": true, "categories": ["Hydraulique"]}),
    );
    assert_eq!(chosen.status, 200, "{}", chosen.body);
    for _ in 0..2 {
        let followed = w.app.call(
            "PUT",
            &format!("/api/notifications/follows/pieces/{bolt}/"),
            Some(&w.team.manager),
            None,
        );
        assert_eq!(followed.status, 200, "{}", followed.body);
        assert_eq!(followed.json()["pieces"], json!([bolt]), "followed once");
    }
    for (piece, kind, quantity) in [
        (valve, "IN", 10),
        (valve, "OUT", 6), // low
        (bolt, "IN", 10),
        (bolt, "OUT", 6), // low
        (bolt, "OUT", 4), // out
    ] {
        let reply = w.movement(
            &w.team.operator,
            json!({"piece_id": piece, "type": kind, "quantity": quantity}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    w.flush_outbox();
    // Each new piece under its minimum was an out-of-stock alert at once.
    let expect = |token: &str, alerts: &[&str], why: &str| {
        let start = Instant::now();
        while seen_alerts(&w, token) != alerts && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(seen_alerts(&w, token), alerts, "{why}");
    };
    expect(
        &w.team.viewer,
        &[
            "out_of_stock VANNE",
            "out_of_stock BOULON",
            "out_of_stock BOULON",
        ],
        "the viewer, named for out-of-stock alerts, gets those only",
    );
    expect(
        &w.team.operator,
        &["out_of_stock VANNE", "low_stock VANNE"],
        "operators get low-stock alerts, and only hydraulics as they chose; \
         the followed category brings its out-of-stock alert too",
    );
    expect(
        &w.team.manager,
        &[
            "out_of_stock BOULON",
            "low_stock VANNE",
            "low_stock BOULON",
            "out_of_stock BOULON",
        ],
        "the manager gets low-stock alerts (operators and up) and every alert of the bolt he follows",
    );
    let unfollowed = w.app.call(
        "DELETE",
        &format!("/api/notifications/follows/pieces/{bolt}/"),
        Some(&w.team.manager),
        None,
    );
    assert_eq!(unfollowed.json()["pieces"], json!([]));
    assert_eq!(
        seen_alerts(&w, &w.team.manager),
        ["low_stock VANNE", "low_stock BOULON"]
    );

    let bad = w.app.json(
        "PUT",
        "/api/notifications/audiences/",
        Some(&w.team.admin),
        &json!({
            "low_stock": {"role": "chef"},
            "out_of_stock": {"role": null, "users": [0]},
            "back_in_stock": {"role": "manager"},
        }),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let errors = bad.json();
    assert!(
        errors["low_stock"].is_array() && errors["out_of_stock"].is_array(),
        "each kind's error beside the detail: {}",
        bad.body
    );
    let kept = w
        .app
        .call(
            "GET",
            "/api/notifications/audiences/",
            Some(&w.team.admin),
            None,
        )
        .json();
    assert_eq!(
        kept["low_stock"]["role"], "operator",
        "nothing half written"
    );
}
