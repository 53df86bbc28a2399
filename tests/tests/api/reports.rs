//! Reports against a ledger the test builds: its history is written into
//! stock's database with past dates (the ledger takes inserts only, and its
//! triggers move the levels as a movement would), then today's movements
//! go through the API. Every figure below is worked out by hand from it.

use serde_json::{Value, json};

use crate::helpers::{Workshop, database_file, eventually};

/// A piece with a category and a price (as the admin); its id, once stock
/// holds its price.
fn priced(shop: &Workshop, reference: &str, category: &str, price: &str, min: i64) -> i64 {
    let reply = shop.app.json(
        "POST",
        "/api/pieces/",
        Some(&shop.team.admin),
        &json!({"reference": reference, "name": format!("Pièce {reference}"),
                "category": category, "price": price, "min_stock": min}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_i64().expect("a piece id");
    eventually(&format!("stock learns {reference} and its price"), || {
        stock_db(shop)
            .query_row(
                "SELECT price_cents FROM catalogue WHERE piece_id = ?1",
                [id],
                |row| row.get::<_, Option<i64>>(0),
            )
            .ok()
            .flatten()
            .is_some()
    });
    id
}

fn stock_db(shop: &Workshop) -> rusqlite::Connection {
    rusqlite::Connection::open(database_file(shop.app.data_dir.path(), "stock"))
        .expect("stock's database opens")
}

/// The movements of the past, oldest first: `(when, piece, type,
/// quantity, level after)`, in the default location.
fn write_history(shop: &Workshop, rows: &[(&str, i64, &str, i64, i64)]) {
    let db = stock_db(shop);
    db.busy_timeout(std::time::Duration::from_secs(5))
        .expect("a busy timeout");
    for &(at, piece, kind, quantity, level_after) in rows {
        // As a movement does: its piece's total first, at 0.
        db.execute(
            "INSERT OR IGNORE INTO levels (piece_id, quantity, updated_at) VALUES (?1, 0, ?2)",
            rusqlite::params![piece, at],
        )
        .expect("a level row");
        let delta = if kind == "OUT" { -quantity } else { quantity };
        db.execute(
            "INSERT INTO ledger (piece_id, type, location_id, quantity, delta, level_after, \
                 user_id, username, created_at) VALUES (?1, ?2, 1, ?3, ?4, ?5, 1, 'historique', ?6)",
            rusqlite::params![piece, kind, quantity, delta, level_after, at],
        )
        .unwrap_or_else(|e| panic!("{at} {kind} {quantity}: {e}"));
    }
}

fn report(shop: &Workshop, path: &str) -> Value {
    let reply = shop.app.call(
        "GET",
        &format!("/api/stock/reports/{path}"),
        Some(&shop.team.viewer),
        None,
    );
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

/// `(field, field...)` of each row, as compact JSON, to compare whole
/// tables at once.
fn table(report: &Value, fields: &[&str]) -> Vec<String> {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let cells: Vec<String> = fields.iter().map(|f| row[*f].to_string()).collect();
            cells.join(" ")
        })
        .collect()
}

#[test]
fn reports_add_up_the_ledger_they_read() {
    let shop = Workshop::open();
    let a = priced(&shop, "VIS-A", "Visserie", "2.50", 0);
    let b = priced(&shop, "VIS-B", "Visserie", "1.00", 0);
    let c = priced(&shop, "ELEC-C", "Électrique", "10.00", 0);
    let e = priced(&shop, "SANS-PRIX", "Visserie", "0", 0);
    let d = priced(&shop, "JAMAIS", "Électrique", "5.00", 1);
    write_history(
        &shop,
        &[
            ("2025-01-06T09:00:00.000Z", a, "IN", 100, 100),
            ("2025-01-08T10:00:00.000Z", a, "OUT", 30, 70),
            ("2025-01-15T10:00:00.000Z", b, "IN", 50, 50),
            ("2025-01-20T10:00:00.000Z", b, "OUT", 10, 40),
            ("2025-02-03T10:00:00.000Z", c, "IN", 4, 4),
            ("2025-02-04T10:00:00.000Z", c, "OUT", 4, 0),
            ("2025-02-10T10:00:00.000Z", e, "IN", 3, 3),
            ("2025-03-03T10:00:00.000Z", a, "OUT", 20, 50),
        ],
    );
    // Today: an exit undone (it used nothing), then one that stays.
    let operator = shop.team.operator.clone();
    let mistaken = shop.movement(
        &operator,
        json!({"piece_id": a, "type": "OUT", "quantity": 5}),
    );
    assert_eq!(mistaken.status, 201, "{}", mistaken.body);
    let undo = shop.app.call(
        "POST",
        &format!(
            "/api/stock/movements/{}/reverse/",
            mistaken.json()["id"].as_i64().expect("an id")
        ),
        Some(&shop.team.manager),
        None,
    );
    assert_eq!(undo.status, 201, "{}", undo.body);
    let kept = shop.movement(
        &operator,
        json!({"piece_id": a, "type": "OUT", "quantity": 2}),
    );
    assert_eq!(kept.status, 201, "{}", kept.body);
    let last_instant = kept.json()["created_at"]
        .as_str()
        .expect("a time")
        .to_owned();

    let q1 = "date_from=2025-01-01&date_to=2025-03-31";
    let monthly = report(&shop, &format!("consumption/?{q1}"));
    assert_eq!(
        table(&monthly, &["period", "category", "quantity"]),
        [
            r#""2025-01" "Visserie" 40"#,
            r#""2025-02" "Électrique" 4"#,
            r#""2025-03" "Visserie" 20"#
        ]
    );
    assert_eq!(
        (&monthly["quantity"], &monthly["by"], &monthly["group"]),
        (&json!(64), &json!("month"), &json!("category"))
    );
    let weekly = report(&shop, &format!("consumption/?{q1}&by=week"));
    assert_eq!(
        table(&weekly, &["period", "quantity"]),
        [
            r#""2025-01-06" 30"#,
            r#""2025-01-20" 10"#,
            r#""2025-02-03" 4"#,
            r#""2025-03-03" 20"#
        ],
        "weeks start on Monday"
    );
    let by_piece = report(&shop, &format!("consumption/?{q1}&group=piece"));
    assert_eq!(
        table(&by_piece, &["period", "reference", "quantity"]),
        [
            r#""2025-01" "VIS-A" 30"#,
            r#""2025-01" "VIS-B" 10"#,
            r#""2025-02" "ELEC-C" 4"#,
            r#""2025-03" "VIS-A" 20"#
        ]
    );
    let most_used = report(&shop, &format!("consumption/?{q1}&group=piece&pieces=1"));
    assert_eq!(
        table(&most_used, &["period", "reference", "quantity"]),
        [r#""2025-01" "VIS-A" 30"#, r#""2025-03" "VIS-A" 20"#]
    );
    let one_category = report(
        &shop,
        &format!("consumption/?{q1}&category=%C3%89lectrique"),
    );
    assert_eq!(
        table(&one_category, &["period", "quantity"]),
        [r#""2025-02" 4"#]
    );
    let one_piece = report(&shop, &format!("consumption/?{q1}&piece_id={b}"));
    assert_eq!(
        table(&one_piece, &["period", "quantity"]),
        [r#""2025-01" 10"#]
    );
    let this_year = report(&shop, "consumption/");
    assert_eq!(
        table(&this_year, &["category", "quantity"]),
        [r#""Visserie" 2"#],
        "the exit undone today used nothing"
    );

    let movers = report(
        &shop,
        "movers/?date_from=2025-01-01&date_to=2025-12-31&limit=2",
    );
    assert_eq!(
        table(&movers, &["reference", "quantity", "movements", "level"]),
        [r#""VIS-A" 50 2 48"#, r#""VIS-B" 10 1 40"#]
    );

    // Now: A 48 × 2.50 + B 40 × 1.00, and 3 pieces without a price.
    let now = report(&shop, "value/");
    assert_eq!(
        table(
            &now,
            &["category", "pieces", "quantity", "value_cents", "unpriced"]
        ),
        [r#""Visserie" 3 91 16000 1"#]
    );
    assert_eq!(
        (&now["value_cents"], &now["unpriced"], &now["at"]),
        (&json!(16000), &json!(1), &Value::Null)
    );
    let replayed = report(&shop, &format!("value/?at={last_instant}"));
    assert_eq!(
        (&replayed["rows"], &replayed["value_cents"]),
        (&now["rows"], &now["value_cents"]),
        "the ledger replayed to its last movement gives today's levels"
    );
    let end_of_january = report(&shop, "value/?at=2025-01-31");
    assert_eq!(
        table(
            &end_of_january,
            &["category", "pieces", "quantity", "value_cents"]
        ),
        [r#""Visserie" 2 110 21500"#]
    );
    let at_receipt = report(&shop, "value/?at=2025-02-03T10:00:00Z");
    assert_eq!(
        table(&at_receipt, &["category", "value_cents"]),
        [r#""Visserie" 21500"#, r#""Électrique" 4000"#]
    );
    let just_before = report(&shop, "value/?at=2025-02-03T09:59:59.999Z");
    assert_eq!(table(&just_before, &["category"]), [r#""Visserie""#]);
    let before_anything = report(&shop, "value/?at=2024-12-31");
    assert_eq!(
        (
            before_anything["rows"].as_array().map(Vec::len),
            &before_anything["value_cents"]
        ),
        (Some(0), &json!(0))
    );

    let dormant = report(&shop, "dormant/?days=90");
    assert_eq!(
        table(
            &dormant,
            &["reference", "quantity", "value_cents", "last_movement_at"]
        ),
        [
            r#""VIS-B" 40 4000 "2025-01-20T10:00:00.000Z""#,
            r#""SANS-PRIX" 3 0 "2025-02-10T10:00:00.000Z""#
        ]
    );
    assert_eq!(
        (&dormant["count"], &dormant["value_cents"]),
        (&json!(2), &json!(4000))
    );
    let first_only = report(&shop, "dormant/?days=90&limit=1");
    assert_eq!(
        (
            first_only["rows"].as_array().map(Vec::len),
            &first_only["count"]
        ),
        (Some(1), &json!(2)),
        "the count covers every dormant piece, not only those listed"
    );

    let out = report(&shop, "out-of-stock/");
    assert_eq!(
        table(&out, &["piece_id", "since", "ever_stocked"])[0],
        format!(r#"{c} "2025-02-04T10:00:00.000Z" true"#)
    );
    assert_eq!(
        table(&out, &["piece_id", "since", "ever_stocked"])[1..],
        [format!("{d} null false")]
    );

    let csv = shop.app.call(
        "GET",
        "/api/stock/reports/value/?format=csv",
        Some(&shop.team.viewer),
        None,
    );
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.body,
        "category,pieces,quantity,value,unpriced\r\nVisserie,3,91,160.00,1\r\n"
    );
}

#[test]
fn bad_report_parameters_are_400_with_a_detail() {
    let shop = Workshop::open();
    for bad in [
        "consumption/?date_from=2026-03-01&date_to=2026-02-01",
        "consumption/?date_from=2000-01-01&date_to=2026-01-01",
        "consumption/?date_from=2026-02-30",
        "consumption/?by=day",
        "consumption/?group=supplier",
        "consumption/?group=piece&pieces=51",
        "consumption/?pieces=0",
        "consumption/?piece_id=0",
        "movers/?limit=0",
        "movers/?limit=1001",
        "movers/?format=xml",
        "value/?at=2025-02-30",
        "value/?at=2025-02-03T10:00:00",
        "dormant/?days=0",
        "out-of-stock/?limit=abc",
    ] {
        let reply = shop.app.call(
            "GET",
            &format!("/api/stock/reports/{bad}"),
            Some(&shop.team.viewer),
            None,
        );
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert!(reply.json()["detail"].is_string(), "{bad}: {}", reply.body);
    }
}

/// A change sent before pieces told prices leaves stock without one; the
/// same version told again with its price fills it, once.
#[test]
fn a_price_told_again_for_a_version_stock_holds_fills_it() {
    let shop = Workshop::open();
    let secret = shop.app.internal_secret();
    let send = |change: Value| {
        let reply = shop.app.call_with_headers_and_body(
            "POST",
            "/api/stock/internal/catalogue/",
            &[("x-internal-secret", &secret)],
            (
                "application/json",
                json!({ "changes": [change] }).to_string(),
            ),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    let piece = json!({"id": 9001, "version": 2, "reference": "ANCIEN", "name": "Ancien",
                       "category": "", "min_stock": 0, "archived": false});
    send(piece.clone());
    let price = || {
        stock_db(&shop)
            .query_row(
                "SELECT price_cents, name FROM catalogue WHERE piece_id = 9001",
                [],
                |row| Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, String>(1)?)),
            )
            .expect("stock holds the piece")
    };
    assert_eq!(price(), (None, "Ancien".to_owned()));
    let mut told_again = piece.clone();
    told_again["price_cents"] = json!(1250);
    send(told_again.clone());
    assert_eq!(price(), (Some(1250), "Ancien".to_owned()));
    told_again["price_cents"] = json!(990);
    send(told_again);
    assert_eq!(
        price().0,
        Some(1250),
        "a price known is changed by a newer version only"
    );
    let mut older = piece;
    older["version"] = json!(1);
    older["price_cents"] = json!(1);
    send(older);
    assert_eq!(price().0, Some(1250), "an older version changes nothing");
}
