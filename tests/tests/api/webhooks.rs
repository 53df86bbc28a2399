//! Outgoing webhooks against a real receiver: an HTTP server this test runs
//! on a free port, which refuses the first deliveries it gets. Every event
//! reaches it acknowledged once, signed with the webhook's secret, whatever
//! was retried on the way; the delivery log says what happened.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{Team, TestApp, spawn_app_selecting_each_component_with};
use crate::receiver::Receiver;

fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// What the sidecar does every second in the stack: stock's outbox, then
/// notifications' deliveries.
fn flush(app: &TestApp) {
    let secret = app.internal_secret();
    for path in [
        "/api/stock/internal/outbox/flush/",
        "/api/notifications/internal/webhooks/flush/",
    ] {
        let reply = app.call_with_headers("POST", path, &[("x-internal-secret", &secret)]);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
}

#[test]
fn every_event_reaches_a_failing_receiver_once_signed_after_retries() {
    let receiver = Receiver::start(3);
    let origin = format!("http://{}", receiver.address);
    let app = spawn_app_selecting_each_component_with(&[("SPIN_VARIABLE_WEBHOOK_HOSTS", &origin)]);
    let team: Team = app.team();
    let created = app.json(
        "POST",
        "/api/notifications/webhooks/",
        Some(&team.admin),
        &json!({"name": "Messagerie", "url": format!("{origin}/hooks/stock"),
                "events": ["movement", "out_of_stock", "piece_changed"]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let webhook = created.json();
    let secret = webhook["secret"]
        .as_str()
        .expect("the secret, shown once")
        .to_owned();
    let id = webhook["id"].as_i64().expect("an id");
    let listed = app.call(
        "GET",
        "/api/notifications/webhooks/",
        Some(&team.admin),
        None,
    );
    assert!(
        !listed.body.contains(&secret),
        "the secret is never shown again: {}",
        listed.body
    );

    let piece = app.json(
        "POST",
        "/api/pieces/",
        Some(&team.admin),
        &json!({"reference": "WH-1", "name": "Vanne", "min_stock": 0}),
    );
    assert_eq!(piece.status, 201, "{}", piece.body);
    let piece = piece.json()["id"].as_i64().expect("an id");
    for (kind, quantity) in [("IN", 5), ("OUT", 5)] {
        let moved = app.json(
            "POST",
            "/api/stock/movement/",
            Some(&team.operator),
            &json!({"piece_id": piece, "type": kind, "quantity": quantity}),
        );
        assert_eq!(moved.status, 201, "{}", moved.body);
    }
    let tested = app.call(
        "POST",
        &format!("/api/notifications/webhooks/{id}/test/"),
        Some(&team.admin),
        None,
    );
    assert_eq!(tested.status, 202, "{}", tested.body);

    // The piece's creation, two movements, the out-of-stock alert, the test.
    let start = Instant::now();
    while receiver.acknowledged().len() < 5 && start.elapsed() < Duration::from_secs(30) {
        flush(&app);
        std::thread::sleep(Duration::from_millis(200));
    }
    let acknowledged = receiver.acknowledged();
    assert_eq!(
        receiver.acknowledged_kinds(),
        [
            "movement",
            "movement",
            "out_of_stock",
            "piece_changed",
            "test"
        ],
        "every event once: {acknowledged:?}"
    );
    assert!(
        acknowledged.values().all(|n| *n == 1),
        "no event acknowledged twice: {acknowledged:?}"
    );
    let received = receiver.received();
    assert_eq!(
        received.iter().filter(|r| !r.acknowledged).count(),
        3,
        "the three refusals were retried"
    );
    for r in &received {
        assert_eq!(
            r.signature,
            signature(&secret, &r.timestamp, &r.body),
            "signed with the webhook's secret: {r:?}"
        );
        let body: Value = serde_json::from_str(&r.body).expect("a JSON body");
        assert_eq!(body["id"], r.event_id.as_str(), "{}", r.body);
        assert_eq!(body["type"], r.kind.as_str(), "{}", r.body);
    }
    let out = received
        .iter()
        .find(|r| r.kind == "out_of_stock")
        .expect("the alert");
    let body: Value = serde_json::from_str(&out.body).expect("JSON");
    assert_eq!(body["data"]["piece"]["reference"], "WH-1", "{}", out.body);

    // Nothing is sent twice by later flushes, and the log shows each.
    flush(&app);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.acknowledged(), acknowledged);
    let log = app
        .call(
            "GET",
            &format!("/api/notifications/webhooks/{id}/deliveries/"),
            Some(&team.admin),
            None,
        )
        .json();
    assert_eq!(log["count"], 5, "{log}");
    let retried: i64 = log["results"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap_or(0) - 1)
        .sum();
    assert_eq!(retried, 3, "{log}");
}

#[test]
fn a_webhook_is_an_admins_and_its_fields_are_checked() {
    let app = spawn_app_selecting_each_component_with(&[]);
    let team = app.team();
    let forbidden = app.json(
        "POST",
        "/api/notifications/webhooks/",
        Some(&team.manager),
        &json!({"url": "https://example.com/", "events": ["movement"]}),
    );
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    let bad = app.json(
        "POST",
        "/api/notifications/webhooks/",
        Some(&team.admin),
        &json!({"url": "ftp://example.com/", "events": ["movement", "nothing"]}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let body = bad.json();
    assert!(
        body["url"].is_array() && body["events"].is_array(),
        "{body}"
    );
    let none = app.call(
        "GET",
        "/api/notifications/webhooks/",
        Some(&team.admin),
        None,
    );
    assert_eq!(none.json(), json!([]), "nothing written");
}
