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
