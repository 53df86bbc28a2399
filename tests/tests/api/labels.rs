//! Label sheets of pieces and locations: one A4 SVG per sheet, a QR code
//! per label, in the order asked for; what a sheet cannot hold is a 400.
//! (The browser test reads the QR codes back with a decoder.)

use serde_json::json;

use crate::helpers::Workshop;

#[test]
fn a_sheet_holds_one_label_per_piece_in_order_and_refuses_what_it_cannot() {
    let shop = Workshop::open();
    let first = shop.piece("ETQ-1", 0);
    let second = shop.piece("ETQ-2", 0);
    let coded = shop.app.json(
        "PATCH",
        &format!("/api/pieces/{second}/"),
        Some(&shop.team.admin),
        &json!({"barcode": "3760000000017"}),
    );
    assert_eq!(coded.status, 200, "{}", coded.body);
    let viewer = Some(shop.team.viewer.as_str());
    let sheet = shop.app.call(
        "GET",
        &format!("/api/pieces/labels.svg?ids={second},{first}&layout=2x7&skip=3"),
        viewer,
        None,
    );
    assert_eq!(sheet.status, 200, "{}", sheet.body);
    assert_eq!(
        sheet.header("content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    assert!(sheet.body.starts_with("<svg") && sheet.body.contains("height=\"297mm\""));
    assert_eq!(sheet.body.matches("<path").count(), 2);
    let (at_second, at_first) = (
        sheet
            .body
            .find(">ETQ-2<")
            .expect("the second piece's label"),
        sheet.body.find(">ETQ-1<").expect("the first piece's label"),
    );
    assert!(at_second < at_first, "labels follow the order asked for");
    for bad in [
        format!("ids={first},999999"),
        "ids=".to_owned(),
        "ids=01".to_owned(),
        format!("ids={first}&layout=4x10"),
        format!("ids={first}&skip=24"),
        format!("ids={first},{second}&layout=2x7&skip=13"),
        (1..=25)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(","),
    ] {
        let reply = shop.app.call(
            "GET",
            &format!("/api/pieces/labels.svg?{bad}"),
            viewer,
            None,
        );
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert!(reply.json()["detail"].is_string(), "{bad}");
    }
}

#[test]
fn a_location_label_reads_as_the_location() {
    let shop = Workshop::open();
    let bin = shop.location("BAC-7", "Bac 7", None);
    let sheet = shop.app.call(
        "GET",
        &format!("/api/stock/locations/labels.svg?ids={bin}"),
        Some(&shop.team.viewer),
        None,
    );
    assert_eq!(sheet.status, 200, "{}", sheet.body);
    assert!(
        sheet.body.contains(">BAC-7<") && sheet.body.contains(">Bac 7<"),
        "{}",
        sheet.body
    );
    let unknown = shop.app.call(
        "GET",
        "/api/stock/locations/labels.svg?ids=999",
        Some(&shop.team.viewer),
        None,
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}
