//! A piece of the catalogue and the rules its fields obey, whatever they come
//! from: a JSON body (`POST`, `PUT`, `PATCH`) or a CSV row (import).
//!
//! Validation collects every field's problem before answering, so a client
//! fixes a form in one round trip: errors are `{"field": ["message"]}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::text;

/// Field name to its messages, as the API reports them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// The largest price accepted, in cents (one billion in currency units):
/// far above any part, far below `i64` overflow.
const MAX_PRICE_CENTS: i64 = 100_000_000_000;
/// The largest `min_stock` accepted; stock quantities share the bound.
const MAX_MIN_STOCK: i64 = 1_000_000_000;
/// Unit of a piece whose unit is not given.
const DEFAULT_UNIT: &str = "pcs";

/// Fields a client may send but not set, so that it can send back a document
/// it read after editing it: each is ignored, provided it has the type `GET`
/// gives it (what `GET` never returns, such as `"created_by": {}`, is refused).
const READ_ONLY: &[(&str, ReadType)] = &[
    ("id", ReadType::Integer),
    ("created_at", ReadType::Text),
    ("updated_at", ReadType::Text),
    ("created_by", ReadType::Text),
];

/// The JSON type of a read-only field.
#[derive(Debug, Clone, Copy)]
enum ReadType {
    Integer,
    Text,
}

/// What a client may write, each field already checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub reference: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub unit: String,
    pub price_cents: i64,
    pub min_stock: i64,
    pub location: String,
    /// `None` when the piece has no barcode; unique when present.
    pub barcode: Option<String>,
    pub archived: bool,
}

impl Draft {
    /// The key that makes `reference` unique (see [`text::reference_key`]).
    pub fn reference_key(&self) -> String {
        text::reference_key(&self.reference)
    }

    /// The folded text `search` matches (see [`text::search_text`]).
    pub fn search_text(&self) -> String {
        text::search_text(
            &self.reference,
            &self.name,
            &self.description,
            self.barcode.as_deref(),
        )
    }

    /// The folded name, which `ordering=name` sorts by.
    pub fn name_key(&self) -> String {
        text::fold(&self.name)
    }
}

/// A stored piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub id: i64,
    pub draft: Draft,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

impl Piece {
    /// Its label: the code a scanner reads back (barcode, else reference),
    /// the reference, the name and where it is kept.
    pub fn label(&self) -> kit::labels::Label {
        let d = &self.draft;
        kit::labels::Label {
            code: d.barcode.clone().unwrap_or_else(|| d.reference.clone()),
            title: d.reference.clone(),
            lines: vec![d.name.clone(), d.location.clone()],
        }
    }

    /// The API representation: the price as a decimal string.
    pub fn to_json(&self) -> Value {
        let d = &self.draft;
        json!({
            "id": self.id,
            "reference": d.reference,
            "name": d.name,
            "description": d.description,
            "category": d.category,
            "unit": d.unit,
            "price": format_price(d.price_cents),
            "min_stock": d.min_stock,
            "location": d.location,
            "barcode": d.barcode,
            "archived": d.archived,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
        })
    }

    /// What the stock service needs to know of a piece (internal route).
    pub fn to_internal_json(&self) -> Value {
        let d = &self.draft;
        json!({
            "id": self.id,
            "reference": d.reference,
            "name": d.name,
            "category": d.category,
            "unit": d.unit,
            "min_stock": d.min_stock,
            "price_cents": d.price_cents,
            "archived": d.archived,
            "version": self.version,
        })
    }

    /// The entity tag of this version, quoted as RFC 9110 wants.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// A checked JSON write: the new field values and the `version` the client
/// based them on, if it said.
#[derive(Debug)]
pub struct Write {
    pub draft: Draft,
    pub version: Option<i64>,
}

/// Checks a JSON body. With no `base` (`POST`, `PUT`) the body is the whole
/// piece: `reference` and `name` are required and absent fields take their
/// defaults. With a `base` (`PATCH`) absent fields keep the base's values.
pub fn from_json(body: &Map<String, Value>, base: Option<&Draft>) -> Result<Write, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut check = |field: &str, outcome: Result<(), String>| {
        if let Err(message) = outcome {
            errors.entry(field.to_owned()).or_default().push(message);
        }
    };
    let mut draft = base.cloned().unwrap_or_else(|| Draft {
        reference: String::new(),
        name: String::new(),
        description: String::new(),
        category: String::new(),
        unit: DEFAULT_UNIT.to_owned(),
        price_cents: 0,
        min_stock: 0,
        location: String::new(),
        barcode: None,
        archived: false,
    });
    let mut version = None;
    if base.is_none() {
        for required in ["reference", "name"] {
            if !body.contains_key(required) {
                check(required, Err("Ce champ est obligatoire.".into()));
            }
        }
    }
    for (field, value) in body {
        let outcome = match field.as_str() {
            "reference" => json_string(value)
                .and_then(reference)
                .map(|v| draft.reference = v),
            "name" => json_string(value).and_then(name).map(|v| draft.name = v),
            "description" => json_optional_string(value)
                .and_then(description)
                .map(|v| draft.description = v),
            "category" => json_optional_string(value)
                .and_then(category)
                .map(|v| draft.category = v),
            "unit" => json_string(value).and_then(unit).map(|v| draft.unit = v),
            "price" => json_price(value).map(|v| draft.price_cents = v),
            "min_stock" => json_integer(value)
                .and_then(min_stock)
                .map(|v| draft.min_stock = v),
            "location" => json_optional_string(value)
                .and_then(location)
                .map(|v| draft.location = v),
            "barcode" => json_optional_string(value)
                .and_then(barcode)
                .map(|v| draft.barcode = v),
            "archived" => value
                .as_bool()
                .ok_or_else(|| "Doit être un booléen (true ou false).".to_owned())
                .map(|v| draft.archived = v),
            "version" => json_integer(value).map(|v| version = Some(v)),
            other => match READ_ONLY.iter().find(|(name, _)| *name == other) {
                Some((_, ReadType::Integer)) => json_integer(value).map(|_| ()),
                Some((_, ReadType::Text)) => json_string(value).map(|_| ()),
                None => Err("Champ inconnu.".into()),
            },
        };
        check(field, outcome);
    }
    if errors.is_empty() {
        Ok(Write { draft, version })
    } else {
        Err(errors)
    }
}

/// The columns of a CSV file, in the order export writes them; import
/// requires each of them (in any order) so that a row says everything about
/// its piece and an upsert never has to guess a missing value.
pub const CSV_COLUMNS: [&str; 10] = [
    "reference",
    "name",
    "description",
    "category",
    "unit",
    "price",
    "min_stock",
    "location",
    "barcode",
    "archived",
];

/// The CSV cells of a piece, in [`CSV_COLUMNS`] order.
pub fn to_csv_record(draft: &Draft) -> [String; 10] {
    let text = |value: &str| kit::csv::text(value).into_owned();
    [
        text(&draft.reference),
        text(&draft.name),
        text(&draft.description),
        text(&draft.category),
        text(&draft.unit),
        format_price(draft.price_cents),
        draft.min_stock.to_string(),
        text(&draft.location),
        text(draft.barcode.as_deref().unwrap_or_default()),
        draft.archived.to_string(),
    ]
}

/// Checks one CSV row whose cells are in [`CSV_COLUMNS`] order. Cells are
/// text, so numbers and booleans are parsed from it; an empty barcode is
/// none; a text cell loses the prefix an export put before a formula.
pub fn from_csv_record(cells: &[&str; 10]) -> Result<Draft, FieldErrors> {
    let [ref_, name_, desc, cat, unit_, price_, min, loc, code, arch] = *cells;
    let [ref_, name_, desc, cat, unit_, loc, code] =
        [ref_, name_, desc, cat, unit_, loc, code].map(kit::csv::untext);
    let mut errors = FieldErrors::new();
    let mut take = |field: &str, outcome: Result<(), String>| {
        if let Err(message) = outcome {
            errors.entry(field.to_owned()).or_default().push(message);
        }
    };
    let mut draft = Draft {
        reference: String::new(),
        name: String::new(),
        description: String::new(),
        category: String::new(),
        unit: String::new(),
        price_cents: 0,
        min_stock: 0,
        location: String::new(),
        barcode: None,
        archived: false,
    };
    take("reference", reference(ref_).map(|v| draft.reference = v));
    take("name", name(name_).map(|v| draft.name = v));
    take(
        "description",
        description(desc).map(|v| draft.description = v),
    );
    take("category", category(cat).map(|v| draft.category = v));
    take("unit", unit(unit_).map(|v| draft.unit = v));
    take("price", parse_price(price_).map(|v| draft.price_cents = v));
    take(
        "min_stock",
        min.trim()
            .parse::<i64>()
            .map_err(|_| "Doit être un entier.".to_owned())
            .and_then(min_stock)
            .map(|v| draft.min_stock = v),
    );
    take("location", location(loc).map(|v| draft.location = v));
    take("barcode", barcode(code).map(|v| draft.barcode = v));
    take("archived", parse_bool(arch).map(|v| draft.archived = v));
    if errors.is_empty() {
        Ok(draft)
    } else {
        Err(errors)
    }
}

fn json_string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| "Doit être une chaîne de caractères.".to_owned())
}

/// A string field that may also be `null`, read as empty.
fn json_optional_string(value: &Value) -> Result<&str, String> {
    if value.is_null() {
        Ok("")
    } else {
        json_string(value)
    }
}

fn json_integer(value: &Value) -> Result<i64, String> {
    value
        .as_i64()
        .ok_or_else(|| "Doit être un entier.".to_owned())
}

/// The API speaks prices as decimal strings; a JSON number is accepted too,
/// read through its decimal text, so `12.5` is exactly 1250 cents.
fn json_price(value: &Value) -> Result<i64, String> {
    match value {
        Value::String(text) => parse_price(text),
        Value::Number(number) => parse_price(&number.to_string()),
        _ => Err("Doit être un prix décimal, par exemple \"12.50\".".into()),
    }
}

/// Trimmed single-line text of `min..=max` characters (not bytes: `é` is one).
fn line(value: &str, min: usize, max: usize) -> Result<String, String> {
    let value = value.trim();
    let length = value.chars().count();
    if length < min {
        return Err("Ce champ ne peut pas être vide.".into());
    }
    if length > max {
        return Err(format!("Au plus {max} caractères."));
    }
    if value.chars().any(char::is_control) {
        return Err("Caractère de contrôle interdit.".into());
    }
    Ok(value.to_owned())
}

fn reference(value: &str) -> Result<String, String> {
    line(value, 1, 64)
}

fn name(value: &str) -> Result<String, String> {
    line(value, 1, 200)
}

fn category(value: &str) -> Result<String, String> {
    line(value, 0, 100)
}

fn unit(value: &str) -> Result<String, String> {
    line(value, 1, 20)
}

fn location(value: &str) -> Result<String, String> {
    line(value, 0, 100)
}

/// An empty barcode is no barcode: it would otherwise collide as unique.
fn barcode(value: &str) -> Result<Option<String>, String> {
    let value = line(value, 0, 64)?;
    Ok((!value.is_empty()).then_some(value))
}

/// Free text: line breaks and tabs allowed, other control characters not.
fn description(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.chars().count() > 2000 {
        return Err("Au plus 2000 caractères.".into());
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("Caractère de contrôle interdit.".into());
    }
    Ok(value.to_owned())
}

fn min_stock(value: i64) -> Result<i64, String> {
    if value < 0 {
        Err("Doit être positif ou nul.".into())
    } else if value > MAX_MIN_STOCK {
        Err(format!("Au plus {MAX_MIN_STOCK}."))
    } else {
        Ok(value)
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "oui" | "vrai" => Ok(true),
        "false" | "0" | "non" | "faux" | "" => Ok(false),
        _ => Err("Doit valoir true ou false.".into()),
    }
}

/// `"12.50"`, `"12.5"`, `"12"` or `"12,50"` (a French spreadsheet's decimal
/// comma) to cents. Refuses a sign, more than two decimals, exponents,
/// thousands separators and anything but digits: money is never rounded.
pub fn parse_price(text: &str) -> Result<i64, String> {
    const SHAPE: &str =
        "Prix invalide : un nombre positif avec au plus deux décimales, par exemple \"12.50\".";
    let text = text.trim();
    let (units, cents) = match text.split_once(['.', ',']) {
        Some((units, cents)) => (units, cents),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(cents) {
        return Err(SHAPE.into());
    }
    if cents.len() > 2 {
        return Err("Au plus deux décimales.".into());
    }
    if text.contains(['.', ',']) && cents.is_empty() {
        return Err(SHAPE.into());
    }
    let too_large = || format!("Au plus {}.", format_price(MAX_PRICE_CENTS));
    // Leading zeros are harmless, but an absurd number of digits is not a price.
    let units: i64 = units.parse().map_err(|_| too_large())?;
    let cents: i64 = format!("{cents:0<2}")
        .parse()
        .map_err(|_| SHAPE.to_owned())?;
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(cents))
        .filter(|total| *total <= MAX_PRICE_CENTS)
        .ok_or_else(too_large)
}

/// Cents to the API's decimal string, always two decimals: `1250` -> `"12.50"`.
pub fn format_price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn prices_parse_to_cents() {
        for (text, cents) in [
            ("12.50", 1250),
            ("12.5", 1250),
            ("12", 1200),
            ("0", 0),
            ("0.07", 7),
            ("12,50", 1250),
            (" 3.10 ", 310),
            ("007.00", 700),
            ("1000000000", MAX_PRICE_CENTS),
        ] {
            assert_eq!(parse_price(text), Ok(cents), "{text}");
        }
    }

    #[test]
    fn bad_prices_are_refused() {
        for text in [
            "",
            " ",
            "abc",
            "1.234",
            "-1",
            "-0.5",
            "+1",
            "1e3",
            "1.",
            ".5",
            "1 000",
            "1,000.00",
            "12.5.0",
            "NaN",
            "١٢",
            "1000000000.01",
            "99999999999999999999999",
        ] {
            assert!(parse_price(text).is_err(), "{text:?} was accepted");
        }
        assert_eq!(parse_price("1.234"), Err("Au plus deux décimales.".into()));
    }

    #[test]
    fn prices_format_with_two_decimals() {
        assert_eq!(format_price(1250), "12.50");
        assert_eq!(format_price(7), "0.07");
        assert_eq!(format_price(0), "0.00");
        for cents in [0, 1, 99, 100, 12345, MAX_PRICE_CENTS] {
            assert_eq!(parse_price(&format_price(cents)), Ok(cents));
        }
    }

    #[test]
    fn a_json_number_price_is_read_through_its_decimal_text() {
        assert_eq!(json_price(&json!(12.5)), Ok(1250));
        assert_eq!(json_price(&json!(3)), Ok(300));
        assert!(json_price(&json!(1.234)).is_err());
        assert!(json_price(&json!(-2)).is_err());
        assert!(json_price(&json!(true)).is_err());
    }

    #[test]
    fn a_create_needs_reference_and_name_and_defaults_the_rest() {
        let write = from_json(
            &body(json!({"reference": " ECR-8 ", "name": "Écrou M8"})),
            None,
        )
        .expect("valid");
        assert_eq!(write.draft.reference, "ECR-8");
        assert_eq!(write.draft.unit, "pcs");
        assert_eq!(write.draft.barcode, None);
        assert_eq!(write.version, None);
        let errors = from_json(&body(json!({})), None).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["name", "reference"]);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let errors = from_json(
            &body(json!({
                "reference": "",
                "name": "x".repeat(201),
                "price": "abc",
                "min_stock": -1,
                "unit": 3,
                "archived": "yes",
                "colour": "red",
                "version": "2",
            })),
            None,
        )
        .unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            [
                "archived",
                "colour",
                "min_stock",
                "name",
                "price",
                "reference",
                "unit",
                "version"
            ]
        );
    }

    #[test]
    fn wrong_types_are_field_errors() {
        for (field, value) in [
            ("reference", json!(12)),
            ("name", json!(null)),
            ("min_stock", json!(1.5)),
            ("min_stock", json!("3")),
            ("price", json!([1])),
            ("barcode", json!(false)),
        ] {
            let mut map = body(json!({"reference": "R", "name": "N"}));
            map.insert(field.into(), value.clone());
            let errors = from_json(&map, None).unwrap_err();
            assert!(errors.contains_key(field), "{field} = {value}: {errors:?}");
        }
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name() {
        let base = from_json(
            &body(json!({"reference": "R", "name": "N", "min_stock": 4})),
            None,
        )
        .expect("valid")
        .draft;
        let write = from_json(
            &body(json!({"name": "M", "version": 3, "id": 9})),
            Some(&base),
        )
        .expect("valid");
        assert_eq!(write.draft.name, "M");
        assert_eq!(write.draft.min_stock, 4);
        assert_eq!(write.draft.reference, "R");
        assert_eq!(write.version, Some(3));
    }

    #[test]
    fn read_only_fields_are_ignored_only_with_the_type_get_gives_them() {
        let base = from_json(&body(json!({"reference": "R", "name": "N"})), None)
            .expect("valid")
            .draft;
        let read_back = json!({"name": "M", "id": 9, "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "x", "created_by": "alice"});
        let write = from_json(&body(read_back), Some(&base)).expect("valid");
        assert_eq!(write.draft.name, "M");
        for (field, value) in [
            ("created_by", json!({})),
            ("created_by", json!(null)),
            ("created_at", json!(3)),
            ("updated_at", json!([])),
            ("id", json!("9")),
            ("id", json!(1.5)),
            ("id", json!(null)),
        ] {
            let mut map = body(json!({"reference": "R", "name": "N"}));
            map.insert(field.into(), value.clone());
            let errors = from_json(&map, None).unwrap_err();
            assert_eq!(
                errors.keys().collect::<Vec<_>>(),
                [field],
                "{field} = {value}"
            );
        }
    }

    #[test]
    fn an_empty_barcode_is_none_and_null_clears_it() {
        let base = from_json(
            &body(json!({"reference": "R", "name": "N", "barcode": " 123 "})),
            None,
        )
        .expect("valid")
        .draft;
        assert_eq!(base.barcode.as_deref(), Some("123"));
        let cleared = from_json(&body(json!({"barcode": null})), Some(&base)).expect("valid");
        assert_eq!(cleared.draft.barcode, None);
        let emptied = from_json(&body(json!({"barcode": ""})), Some(&base)).expect("valid");
        assert_eq!(emptied.draft.barcode, None);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let accented = "é".repeat(64);
        assert!(reference(&accented).is_ok());
        assert!(reference(&"é".repeat(65)).is_err());
        assert!(reference("   ").is_err());
        assert!(reference("A\u{0}B").is_err());
    }

    #[test]
    fn csv_records_round_trip_through_drafts() {
        let draft = Draft {
            reference: "ECR-8".into(),
            name: "Écrou, \"M8\"".into(),
            description: "deux\nlignes".into(),
            category: "Visserie".into(),
            unit: "pcs".into(),
            price_cents: 1250,
            min_stock: 10,
            location: "A1".into(),
            barcode: None,
            archived: true,
        };
        let record = to_csv_record(&draft);
        let cells: [&str; 10] = std::array::from_fn(|i| record[i].as_str());
        assert_eq!(from_csv_record(&cells), Ok(draft));
    }

    #[test]
    fn csv_cells_are_parsed_from_text() {
        let cells = ["R", "N", "", "", "pcs", "1.234", "-2", "", "", "peut-être"];
        let errors = from_csv_record(&cells).unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["archived", "min_stock", "price"]
        );
    }

    #[test]
    fn the_api_shape_carries_the_price_as_a_string() {
        let piece = Piece {
            id: 1,
            draft: from_json(
                &body(json!({"reference": "R", "name": "N", "price": "2.5"})),
                None,
            )
            .expect("valid")
            .draft,
            version: 3,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            created_by: "alice".into(),
        };
        assert_eq!(piece.to_json()["price"], "2.50");
        assert_eq!(piece.etag(), "\"3\"");
        let internal = piece.to_internal_json();
        let keys: Vec<&String> = internal.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys.len(),
            9,
            "id, reference, name, category, unit, min_stock, price_cents, archived, version: {keys:?}"
        );
        assert_eq!(
            internal["price_cents"], 250,
            "stock values its stock in cents"
        );
    }
}
