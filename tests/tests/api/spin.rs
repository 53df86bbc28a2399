//! The app as a Spin user runs it: the repository's `spin.toml` and
//! `runtime-config.toml` under the real `spin up` (found as `$SPIN`, `spin`
//! on `PATH` or `../shared/tools/spin`), secrets from the `.env` file that
//! `cargo xtask secrets` writes and nothing else, no sidecar; and the same
//! run on our host in one process. Spin's conformance suite runs against
//! both runtimes too. Where Spin is missing, its tests say so and pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xtask::secrets::Secrets;

use crate::helpers::{TestApp, free_address, host_binary, project_root, start};
use crate::receiver::Receiver;

/// How long an alert may take to reach notifications after the movement's
/// response, with no scheduler running.
const ALERT_WITHIN: Duration = Duration::from_secs(5);

fn spin() -> Option<PathBuf> {
    let found = xtask::spin::binary(&project_root());
    if found.is_none() {
        eprintln!("skipped: no Spin CLI ($SPIN, `spin` on PATH or ../shared/tools/spin)");
    }
    found
}

#[test]
fn the_app_runs_on_real_spin_up() {
    if let Some(spin) = spin() {
        // The README's `spin build`: each component's `build.command`, which
        // `cargo xtask test` has already run, so cargo finds nothing to do.
        let built = Command::new(&spin)
            .arg("build")
            .arg("-f")
            .arg(project_root().join("spin.toml"))
            .output()
            .expect("run spin build");
        assert!(
            built.status.success(),
            "spin build: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let receiver = Receiver::start(0);
        let app = spin_up(&spin, &receiver);
        workshop_day(&app);
        webhooks_are_told(&app, &receiver);
        databases_are_private(&app);
    }
}

#[test]
fn the_app_runs_on_our_host_in_one_process() {
    let receiver = Receiver::start(0);
    let app = spin_up(&host_binary(), &receiver);
    workshop_day(&app);
    webhooks_are_told(&app, &receiver);
    databases_are_private(&app);
}

/// A webhook for movements and alerts, then a movement that empties a
/// piece: with no scheduler, the events reach the receiver after the
/// responses (stock's outbox, then notifications' deliveries), signed.
fn webhooks_are_told(app: &TestApp, receiver: &Receiver) {
    let admin = app.admin_token();
    let created = app.json(
        "POST",
        "/api/notifications/webhooks/",
        Some(&admin),
        &json!({"url": format!("http://{}/hook", receiver.address),
                "events": ["movement", "out_of_stock"]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let piece = app.json(
        "POST",
        "/api/pieces/",
        Some(&admin),
        &json!({"reference": "SPIN-WH", "name": "Joint", "min_stock": 0}),
    );
    let piece = piece.json()["id"].clone();
    for (kind, quantity) in [("IN", 2), ("OUT", 2)] {
        let moved = app.json(
            "POST",
            "/api/stock/movement/",
            Some(&admin),
            &json!({"piece_id": piece, "type": kind, "quantity": quantity}),
        );
        assert_eq!(moved.status, 201, "{kind}: {}", moved.body);
    }
    let kinds = || {
        let mut kinds: Vec<String> = receiver.received().into_iter().map(|r| r.kind).collect();
        kinds.sort();
        kinds
    };
    let since = Instant::now();
    while kinds().len() < 3 && since.elapsed() < ALERT_WITHIN {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(kinds(), ["movement", "movement", "out_of_stock"]);
}

/// A transfer into a new location and a stocktake of it, validated twice:
/// the ledger's triggers and the recursive queries behind them run on this
/// runtime's SQLite too.
fn stock_in_locations(app: &TestApp, admin: &str, piece: &Value) {
    let created = app.json(
        "POST",
        "/api/stock/locations/",
        Some(admin),
        &json!({"code": "SPIN-BAC", "name": "Bac"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let bin = created.json()["id"].clone();
    let moved = app.json(
        "POST",
        "/api/stock/movement/",
        Some(admin),
        &json!({"piece_id": piece, "type": "TRANSFER", "quantity": 3,
                "from_location_id": 1, "to_location_id": bin}),
    );
    assert_eq!(moved.status, 201, "{}", moved.body);
    let count = app.json(
        "POST",
        "/api/stock/counts/",
        Some(admin),
        &json!({"location_id": bin}),
    );
    assert_eq!(count.status, 201, "{}", count.body);
    let count = count.json()["id"].clone();
    let lines = app.json(
        "PUT",
        &format!("/api/stock/counts/{count}/lines/"),
        Some(admin),
        &json!({"lines": [{"piece_id": piece, "counted": 2}]}),
    );
    assert_eq!(lines.status, 200, "{}", lines.body);
    for _ in 0..2 {
        let validated = app.call(
            "POST",
            &format!("/api/stock/counts/{count}/validate/"),
            Some(admin),
            None,
        );
        assert_eq!(validated.status, 200, "{}", validated.body);
    }
    let level = app
        .call("GET", &format!("/api/stock/{piece}/"), Some(admin), None)
        .json();
    let held: Vec<(Value, Value)> = level["locations"]
        .as_array()
        .expect("locations")
        .iter()
        .map(|at| (at["code"].clone(), at["quantity"].clone()))
        .collect();
    assert_eq!(
        held,
        [(json!("DEFAUT"), json!(1)), (json!("SPIN-BAC"), json!(2))],
        "{level}"
    );
    assert_eq!(level["quantity"], 3, "{level}");
}

/// The piece, 3 held under a minimum of 5, ordered from the reorder list
/// (up to 10, a pack of 10) and received twice under one key: purchasing
/// reads pieces and stock and records the receipt in stock by service
/// chaining on this runtime, once, and stock's back-in-stock alert leaves
/// after that chained call's response.
fn purchasing_refills(app: &TestApp, admin: &str, piece: &Value) {
    let supplier = app.json(
        "POST",
        "/api/purchasing/suppliers/",
        Some(admin),
        &json!({"name": "Spin SARL"}),
    );
    assert_eq!(supplier.status, 201, "{}", supplier.body);
    let offer = app.json(
        "POST",
        "/api/purchasing/offers/",
        Some(admin),
        &json!({"supplier_id": supplier.json()["id"], "piece_id": piece,
                "unit_price_cents": 90, "pack_size": 10}),
    );
    assert_eq!(offer.status, 201, "{}", offer.body);
    let list = app.call("GET", "/api/purchasing/reorder/", Some(admin), None);
    assert_eq!(
        list.json()["groups"][0]["lines"][0]["to_order"],
        10,
        "{}",
        list.body
    );
    let created = app.call("POST", "/api/purchasing/reorder/orders/", Some(admin), None);
    assert_eq!(created.status, 201, "{}", created.body);
    let order = created.json()["created"][0].clone();
    let sent = app.call(
        "POST",
        &format!("/api/purchasing/orders/{}/send/", order["id"]),
        Some(admin),
        None,
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let receipt = json!({"lines": [{"reference": "spin-1", "quantity": 10}]});
    for expected in [201, 200] {
        let received = app.request(
            "POST",
            &format!("/api/purchasing/orders/{}/receive/", order["id"]),
            Some(admin),
            &[("idempotency-key", "spin-quai")],
            Some(("application/json", &receipt.to_string())),
        );
        assert_eq!(received.status, expected, "{}", received.body);
    }
    let level = app
        .call("GET", &format!("/api/stock/{piece}/"), Some(admin), None)
        .json();
    assert_eq!(level["quantity"], 13, "{level}");
    let back = || {
        let list = app.call(
            "GET",
            "/api/notifications/?type=back_in_stock",
            Some(admin),
            None,
        );
        list.json()["count"] == 1
    };
    let since = Instant::now();
    while !back() && since.elapsed() < ALERT_WITHIN {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(back(), "back in stock within {ALERT_WITHIN:?}");
}

/// Spin creates database files with the umask's mode (0644 here); the
/// `.data/` that `cargo xtask secrets` made (0700) keeps them from other
/// users all the same.
fn databases_are_private(app: &TestApp) {
    use std::os::unix::fs::PermissionsExt;
    let data = app.data_dir.path().join(".data");
    for service in xtask::components::api_services().map(|s| s.name) {
        let file = data.join(format!("{service}.db"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
    let mode = std::fs::metadata(&data)
        .expect(".data")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, ".data/ is {:o}", mode & 0o777);
}

#[test]
fn spin_conformance_suite_passes_on_real_spin() {
    if let Some(spin) = spin() {
        conformance(&spin);
    }
}

#[test]
fn spin_conformance_suite_passes_on_our_host() {
    conformance(&host_binary());
}

/// `RUNTIME up` with exactly the README's arguments, in a fresh directory
/// holding only what `cargo xtask secrets` makes (`.env`, `.data/secrets/`):
/// the databases land in its `.data/`, as they would in a checkout.
fn spin_up(runtime: &Path, receiver: &Receiver) -> TestApp {
    let root = project_root();
    let dir = tempfile::tempdir().expect("a temp dir");
    let secrets = Secrets::load_or_create(&dir.path().join(".data/secrets")).expect("the secrets");
    secrets
        .write_dotenv(&dir.path().join(".env"))
        .expect("write .env");
    let listen = free_address();
    let mut command = Command::new(runtime);
    command
        .arg("up")
        .arg("-f")
        .arg(root.join("spin.toml"))
        .arg("--runtime-config-file")
        .arg(root.join("runtime-config.toml"))
        .args(["--listen", &listen]);
    // Nothing from the test's own environment: `.env` is the only source.
    for (name, _) in secrets.env() {
        command.env_remove(name);
    }
    command.env(
        "SPIN_VARIABLE_WEBHOOK_HOSTS",
        format!("http://{}", receiver.address),
    );
    start(command, &listen, dir, secrets)
}

/// Health, login, a piece listed in stock at 0 right after its creation
/// (pieces' outbox) with its "to order" alert, IN then OUT across its
/// threshold with the alert delivered, the deletion of an unused piece
/// (pieces asks stock), the UI on the same origin, internal routes refused
/// from outside.
fn workshop_day(app: &TestApp) {
    for service in xtask::components::api_services().map(|s| s.name) {
        let health = app.get(&format!("/api/{service}/health/"));
        assert_eq!(health.status, 200, "{service}: {}", health.body);
        assert_eq!(health.json()["database"], "ok", "{service}");
    }
    let admin = app.admin_token();
    let created = app.json(
        "POST",
        "/api/pieces/",
        Some(&admin),
        &json!({"reference": "SPIN-1", "name": "Roulement", "min_stock": 5}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let piece = created.json()["id"].clone();
    let listed = || {
        let list = app.call("GET", "/api/stock/", Some(&admin), None).json();
        list["results"].as_array().is_some_and(|levels| {
            levels.iter().any(|level| {
                level["piece_id"] == piece && level["quantity"] == 0 && level["status"] == "out"
            })
        })
    };
    let since = Instant::now();
    while !listed() && since.elapsed() < ALERT_WITHIN {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(listed(), "the new piece is listed at 0, out of stock");
    for (kind, quantity) in [("IN", 10), ("OUT", 6)] {
        let moved = app.json(
            "POST",
            "/api/stock/movement/",
            Some(&admin),
            &json!({"piece_id": piece, "type": kind, "quantity": quantity}),
        );
        assert_eq!(moved.status, 201, "{kind}: {}", moved.body);
    }
    let level = app.call("GET", &format!("/api/stock/{piece}/"), Some(&admin), None);
    assert_eq!(level.json()["quantity"], 4, "{}", level.body);
    let alerts = || -> Vec<Value> {
        let list = app.call("GET", "/api/notifications/", Some(&admin), None);
        list.json()["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let since = Instant::now();
    while alerts().len() < 2 && since.elapsed() < ALERT_WITHIN {
        std::thread::sleep(Duration::from_millis(100));
    }
    let alerts = alerts();
    let kinds: Vec<&str> = alerts.iter().filter_map(|a| a["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["low_stock", "out_of_stock"],
        "to order at creation, then low, within {ALERT_WITHIN:?}: {alerts:?}"
    );
    assert_eq!(alerts[1]["title"], "À commander : SPIN-1", "{alerts:?}");
    stock_in_locations(app, &admin, &piece);
    purchasing_refills(app, &admin, &piece);
    let labels = app.call(
        "GET",
        &format!("/api/pieces/labels.svg?ids={piece}"),
        Some(&admin),
        None,
    );
    assert_eq!(labels.status, 200, "{}", labels.body);
    assert!(labels.body.contains(">SPIN-1<"), "{}", labels.body);

    let unused = app.json(
        "POST",
        "/api/pieces/",
        Some(&admin),
        &json!({"reference": "SPIN-2", "name": "Jamais servie"}),
    );
    let unused = format!("/api/pieces/{}/", unused.json()["id"]);
    let deleted = app.call("DELETE", &unused, Some(&admin), None);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(app.call("GET", &unused, Some(&admin), None).status, 404);

    let page = app.get("/");
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let script = app.get("/config.js").body;
    assert!(
        script.contains("API_BASE = self.location.origin;"),
        "{script}"
    );

    let secret = app.internal_secret();
    for path in [
        format!("/api/pieces/internal/pieces/{piece}/"),
        format!("/api/stock/internal/usage/{piece}/"),
        "/api/stock/internal/outbox/flush/".to_owned(),
        "/api/notifications/internal/purge/".to_owned(),
        "/api/purchasing/internal/outbox/flush/".to_owned(),
    ] {
        for method in ["GET", "POST"] {
            let reply = app.call_with_headers(method, &path, &[("x-internal-secret", &secret)]);
            assert_eq!(
                reply.status, 404,
                "{method} {path} from outside: {}",
                reply.body
            );
        }
    }
}

/// Spin's conformance suite (`../shared/conformance`) through its own
/// runner; every test passes, none skipped.
fn conformance(runtime: &Path) {
    let Some(suite) = xtask::spin::conformance_suite(&project_root()) else {
        eprintln!("skipped: no conformance suite ($SPIN_CONFORMANCE or ../shared/conformance)");
        return;
    };
    let output = Command::new("python3")
        .arg(suite.join("run.py"))
        .arg(suite.join("suite"))
        .env(
            "HOSTCMD",
            format!(
                "'{}' up -f {{manifest}} --listen {{listen}}",
                runtime.display()
            ),
        )
        .output()
        .expect("run python3");
    let report = String::from_utf8_lossy(&output.stdout);
    let last = report.lines().rev().find(|line| !line.trim().is_empty());
    assert!(
        output.status.success() && last == Some("6 passed, 0 failed, 0 skipped of 6"),
        "{}:\n{report}\n{}",
        runtime.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
