//! Stocktakes: open a count of a location, count, see the differences,
//! validate once, against the real host serving every component.

use serde_json::{Value, json};

use crate::helpers::{Workshop, eventually};

fn count_url(id: &Value, action: &str) -> String {
    format!("/api/stock/counts/{id}/{action}")
}

#[test]
fn a_stocktake_applies_each_difference_once_on_top_of_later_movements() {
    let w = Workshop::open();
    let (operator, manager) = (&w.team.operator, &w.team.manager);
    let bin = w.location("BAC-B2", "Bac B2", None);
    let (kept, counted_low, uncounted, found) = (
        w.piece("JOINT-12", 0),
        w.piece("JOINT-14", 0),
        w.piece("JOINT-16", 0),
        w.piece("JOINT-18", 0),
    );
    for (piece, quantity) in [(kept, 4), (counted_low, 10), (uncounted, 5)] {
        let reply = w.movement(
            operator,
            json!({"piece_id": piece, "type": "IN", "quantity": quantity, "location_id": bin}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    w.movement(
        operator,
        json!({"piece_id": counted_low, "type": "IN", "quantity": 50}),
    );

    let opened = w.app.json(
        "POST",
        "/api/stock/counts/",
        Some(operator),
        &json!({"location_id": bin}),
    );
    assert_eq!(opened.status, 201, "{}", opened.body);
    let count = opened.json();
    let id = count["id"].clone();
    assert_eq!(
        (count["status"].as_str(), count["lines_total"].as_i64()),
        (Some("open"), Some(3))
    );
    let again = w.app.json(
        "POST",
        "/api/stock/counts/",
        Some(operator),
        &json!({"location_id": bin}),
    );
    assert_eq!(again.status, 409, "one open count per location");

    let lines = |body: Value| {
        w.app
            .json("PUT", &count_url(&id, "lines/"), Some(operator), &body)
    };
    let recorded = lines(json!({"lines": [
        {"piece_id": kept, "counted": 4},
        {"piece_id": counted_low, "counted": 8},
        {"piece_id": found, "counted": 3},
    ]}));
    assert_eq!(recorded.status, 200, "{}", recorded.body);
    assert_eq!(recorded.json()["recorded"], 3);
    let unknown = lines(
        json!({"lines": [{"piece_id": kept, "counted": 1}, {"piece_id": 9999, "counted": 1}]}),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(unknown.body.contains("9999"), "{}", unknown.body);

    // Two taken out of the bin while it is being counted: the count's
    // difference (-2) applies on top, so the bin ends at 10 - 2 - 2.
    let during = w.movement(
        operator,
        json!({"piece_id": counted_low, "type": "OUT", "quantity": 2, "location_id": bin}),
    );
    assert_eq!(during.status, 201, "{}", during.body);

    let sheet = w
        .app
        .call("GET", &count_url(&id, ""), Some(&w.team.viewer), None)
        .json();
    let line = |piece: i64| {
        sheet["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["piece_id"] == piece)
            .cloned()
            .unwrap_or_else(|| panic!("no line for {piece}: {sheet}"))
    };
    let low = line(counted_low);
    assert_eq!(
        [
            &low["expected"],
            &low["counted"],
            &low["difference"],
            &low["current"],
            &low["adjustment"]
        ],
        [&json!(10), &json!(8), &json!(-2), &json!(8), &json!(-2)]
    );
    assert_eq!(
        line(found)["expected"],
        0,
        "a piece found there was not expected"
    );
    assert_eq!(line(uncounted)["counted"], Value::Null);
    assert_eq!(sheet["differences"], 2);

    let validate = count_url(&id, "validate/");
    assert_eq!(w.app.post_as(&validate, operator).status, 403);
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let both: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| w.app.post_as(&validate, manager).status))
            .collect();
        both.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(answers, [200, 200], "validating twice answers twice");
    let replayed = w.app.post_as(&validate, manager).json();
    assert_eq!(replayed["status"], "validated");

    let adjustments = w.app.call(
        "GET",
        "/api/stock/movements/?type=ADJUST",
        Some(manager),
        None,
    );
    let adjustments = adjustments.json();
    assert_eq!(
        adjustments["count"], 2,
        "one ADJUST per difference, once: {adjustments}"
    );
    for adjustment in adjustments["results"].as_array().unwrap() {
        assert_eq!(adjustment["reason"], "inventory");
        assert_eq!(adjustment["location_id"], bin);
    }
    let held = |piece| w.held(piece).get("BAC-B2").copied().unwrap_or(0);
    assert_eq!(
        (held(kept), held(counted_low), held(uncounted), held(found)),
        (4, 6, 5, 3)
    );
    assert_eq!(
        w.level(counted_low)["quantity"],
        56,
        "the other location is untouched"
    );
    assert_eq!(
        line(counted_low)["movement_id"],
        Value::Null,
        "read before validation"
    );
    let after = w
        .app
        .call("GET", &count_url(&id, ""), Some(manager), None)
        .json();
    assert!(
        after["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| !l["movement_id"].is_null())
            .count()
            == 2
    );

    assert_eq!(
        lines(json!({"lines": [{"piece_id": kept, "counted": 1}]})).status,
        409
    );
    assert_eq!(
        w.app.post_as(&count_url(&id, "cancel/"), manager).status,
        409
    );
}

#[test]
fn a_count_sheet_goes_out_and_comes_back_as_csv() {
    let w = Workshop::open();
    let (operator, manager) = (&w.team.operator, &w.team.manager);
    let bin = w.location("BAC-C3", "Bac C3", None);
    let washer = w.piece("RONDELLE-8", 0);
    let screw = w.piece("=VIS-8", 0);
    for piece in [washer, screw] {
        w.movement(
            operator,
            json!({"piece_id": piece, "type": "IN", "quantity": 20, "location_id": bin}),
        );
    }
    let id = w
        .app
        .json(
            "POST",
            "/api/stock/counts/",
            Some(operator),
            &json!({"location_id": bin}),
        )
        .json()["id"]
        .clone();

    let exported = w.app.call(
        "GET",
        &count_url(&id, "export.csv"),
        Some(&w.team.viewer),
        None,
    );
    assert_eq!(exported.status, 200);
    assert_eq!(
        exported.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let mut rows = exported.body.lines();
    assert_eq!(
        rows.next(),
        Some("piece_id,reference,name,expected,counted")
    );
    let filled: Vec<String> = exported
        .body
        .lines()
        .map(|row| match row {
            r if r.starts_with("piece_id") => r.to_owned(),
            r if r.contains("RONDELLE") => format!("{r}19"),
            r => r.to_owned(),
        })
        .collect();
    assert!(
        filled[1].starts_with(&format!("{screw},'=VIS-8,")),
        "formulas neutralised: {filled:?}"
    );

    let import = |csv: String| {
        w.app.request(
            "POST",
            &count_url(&id, "import/"),
            Some(operator),
            &[],
            Some(("text/csv", &csv)),
        )
    };
    let imported = import(filled.join("\r\n"));
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(
        imported.json()["recorded"],
        1,
        "the empty `counted` cell is skipped"
    );
    let by_reference = import("reference,counted\n'=VIS-8,21\nINCONNUE,4\n".into());
    assert_eq!(by_reference.status, 400, "{}", by_reference.body);
    assert!(
        by_reference.body.contains("ligne 3"),
        "{}",
        by_reference.body
    );
    let by_reference = import("reference,counted\n'=VIS-8,21\n".into());
    assert_eq!(by_reference.json()["recorded"], 1, "{}", by_reference.body);

    let sheet = w
        .app
        .call("GET", &count_url(&id, "export.csv"), Some(operator), None);
    assert!(
        sheet.body.contains(",RONDELLE-8,Pièce RONDELLE-8,20,19"),
        "{}",
        sheet.body
    );
    assert!(sheet.body.contains(",20,21"), "{}", sheet.body);

    // A piece counted at zero that never moved may still leave the
    // catalogue, and stock's list with it.
    let never = w.piece("JAMAIS-1", 0);
    let zero = w.app.json(
        "PUT",
        &count_url(&id, "lines/"),
        Some(operator),
        &json!({"lines": [{"piece_id": never, "counted": 0}]}),
    );
    assert_eq!(zero.status, 200, "{}", zero.body);
    let removed = w.app.call(
        "DELETE",
        &format!("/api/pieces/{never}/"),
        Some(&w.team.admin),
        None,
    );
    assert_eq!(removed.status, 204, "{}", removed.body);
    eventually("the deleted piece leaves stock", || {
        let listed = w
            .app
            .call("GET", "/api/stock/?search=JAMAIS", Some(operator), None);
        listed.json()["count"] == 0
    });

    // An empty location being counted is not archived: its validation
    // would put stock back in it.
    let empty = w.location("VIDE-1", "Vide", None);
    let counting = w
        .app
        .json(
            "POST",
            "/api/stock/counts/",
            Some(operator),
            &json!({"location_id": empty}),
        )
        .json()["id"]
        .clone();
    let location = format!("/api/stock/locations/{empty}/");
    let archive = json!({"archived": true});
    let refused = w.app.json("PATCH", &location, Some(manager), &archive);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("inventaire"), "{}", refused.body);
    assert_eq!(
        w.app
            .post_as(&count_url(&counting, "cancel/"), manager)
            .status,
        200
    );
    assert_eq!(
        w.app
            .json("PATCH", &location, Some(manager), &archive)
            .status,
        200
    );

    let cancelled = w.app.post_as(&count_url(&id, "cancel/"), manager);
    assert_eq!(
        cancelled.json()["status"],
        "cancelled",
        "{}",
        cancelled.body
    );
    assert_eq!(
        w.app.post_as(&count_url(&id, "validate/"), manager).status,
        409
    );
    assert_eq!(
        w.held(washer).get("BAC-C3"),
        Some(&20),
        "a cancelled count adjusts nothing"
    );
}
