//! The `pieces` service: the parts catalogue.
//!
//! Spin routes `/api/pieces/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `pieces` and no other. [`ROUTES`] is the route
//! table: the router dispatches from it and a test checks that the OpenAPI
//! document (`openapi.json`) describes each of its routes and methods.
//! Domain rules live in `model.rs`, SQL in `store.rs`, list parameters in
//! `listing.rs`, CSV in `csv.rs`, the calls to stock in `stock.rs`.

mod csv;
mod listing;
mod model;
mod schema;
mod stock;
mod store;
mod text;

use std::collections::{BTreeMap, HashMap, HashSet};

use kit::auth::{self, Role};
use kit::page::{self, Page};
use kit::{Error, Service, routing};
use serde_json::{Map, Value, json};
use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

use crate::model::{CSV_COLUMNS, Draft, FieldErrors, Piece};

const SERVICE: Service = Service {
    name: "pieces",
    version: env!("CARGO_PKG_VERSION"),
    database: "pieces",
    migrations: schema::MIGRATIONS,
};

/// The OpenAPI 3 document, written by hand beside the code it describes.
const OPENAPI: &str = include_str!("openapi.json");
/// Rows an import may hold; a larger catalogue is imported in several files.
const MAX_IMPORT_ROWS: usize = 10_000;
const COLLECTION: &str = "/api/pieces/";

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Collection,
    Categories,
    Export,
    Import,
    OpenApi,
    Health,
    Internal,
    Item,
}

/// Each route, as OpenAPI spells its path, with its methods.
const ROUTES: &[(Route, &str, &[Method])] = &[
    (
        Route::Collection,
        "/api/pieces/",
        &[Method::Get, Method::Post],
    ),
    (Route::Categories, "/api/pieces/categories/", &[Method::Get]),
    (Route::Export, "/api/pieces/export.csv", &[Method::Get]),
    (Route::Import, "/api/pieces/import/", &[Method::Post]),
    (Route::OpenApi, "/api/pieces/openapi.json", &[Method::Get]),
    (Route::Health, "/api/pieces/health/", &[Method::Get]),
    (
        Route::Internal,
        "/api/pieces/internal/pieces/{id}/",
        &[Method::Get],
    ),
    (
        Route::Item,
        "/api/pieces/{id}/",
        &[Method::Get, Method::Put, Method::Patch, Method::Delete],
    ),
];

#[http_component]
async fn handle(request: Request) -> Response {
    match route(&request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The route and piece id a path names; `None` is a 404. An id that is not
/// a positive integer names nothing.
fn resolve(path: &str) -> Option<(Route, i64)> {
    let rest = routing::normalize(path).strip_prefix("/api/pieces")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    let id = |text: &str| text.parse::<i64>().ok().filter(|id| *id > 0);
    Some(match segments.as_slice() {
        [] => (Route::Collection, 0),
        ["categories"] => (Route::Categories, 0),
        ["export.csv"] => (Route::Export, 0),
        ["import"] => (Route::Import, 0),
        ["openapi.json"] => (Route::OpenApi, 0),
        ["health"] => (Route::Health, 0),
        ["internal", "pieces", piece] => (Route::Internal, id(piece)?),
        [piece] => (Route::Item, id(piece)?),
        _ => return None,
    })
}

async fn route(request: &Request) -> Result<Response, Error> {
    let (route, id) = resolve(request.path()).ok_or(Error::NotFound)?;
    let methods = ROUTES
        .iter()
        .find(|(known, _, _)| *known == route)
        .map(|(_, _, methods)| *methods)
        .unwrap_or_default();
    routing::allow(request.method(), methods)?;
    let method = request.method();
    match route {
        Route::Health => Ok(kit::health::check(&SERVICE)),
        Route::OpenApi => Ok(Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(OPENAPI)
            .build()),
        Route::Internal => {
            auth::internal(request)?;
            let piece = store::get(&SERVICE.database()?, id)?.ok_or(Error::NotFound)?;
            Ok(routing::json(200, &piece.to_internal_json()))
        }
        Route::Collection if *method == Method::Post => create(request),
        Route::Collection => list(request),
        Route::Categories => categories(request),
        Route::Export => export(request),
        Route::Import => import(request),
        Route::Item => match method {
            Method::Put => update(request, id, false).await,
            Method::Patch => update(request, id, true).await,
            Method::Delete => delete(request, id).await,
            _ => read(request, id),
        },
    }
}

fn list(request: &Request) -> Result<Response, Error> {
    auth::authenticate(request)?;
    let raw = page::Query::parse(request.query());
    let page = Page::from_query(&raw)?;
    let query = listing::Query::parse(&raw).map_err(Error::Validation)?;
    let (count, pieces) = store::list(&SERVICE.database()?, &query, &page)?;
    let results = pieces.iter().map(Piece::to_json).collect();
    Ok(routing::json(200, &page.document(request, count, results)?))
}

fn categories(request: &Request) -> Result<Response, Error> {
    auth::authenticate(request)?;
    let query =
        listing::Query::parse(&page::Query::parse(request.query())).map_err(Error::Validation)?;
    let categories: Vec<Value> = store::categories(&SERVICE.database()?, &query.filter)?
        .into_iter()
        .map(|(category, count)| json!({"category": category, "count": count}))
        .collect();
    Ok(routing::json(200, &Value::Array(categories)))
}

fn read(request: &Request, id: i64) -> Result<Response, Error> {
    auth::authenticate(request)?;
    let piece = store::get(&SERVICE.database()?, id)?.ok_or(Error::NotFound)?;
    Ok(piece_response(200, &piece))
}

fn create(request: &Request) -> Result<Response, Error> {
    let caller = auth::authenticate(request)?;
    caller.require(Role::Manager)?;
    let body: Map<String, Value> = kit::body::json(request)?;
    let write = model::from_json(&body, None).map_err(Error::Validation)?;
    let db = SERVICE.database()?;
    refuse_conflicts(store::conflicts(&db, &write.draft, None)?)?;
    let piece = store::insert(&db, &write.draft, &caller.username)?;
    let mut response = piece_response(201, &piece);
    response.set_header("location", format!("{COLLECTION}{}/", piece.id));
    Ok(response)
}

/// `PUT` (whole piece) or `PATCH` (named fields). The write applies only to
/// the version the client saw: `If-Match` (412 when stale) or the body's
/// `version` (409 when stale); without either, to the version read here.
/// A malformed `If-Match` is refused (400) right after the token and role
/// checks, before the body and the database; an invalid body is refused
/// before the precondition is judged, so that a 412, or a 409 for a stale
/// `version`, only ever answers a request that is valid otherwise.
/// Once the write is committed, stock is told (see [`stock::changed`]).
async fn update(request: &Request, id: i64, patch: bool) -> Result<Response, Error> {
    let caller = auth::authenticate(request)?;
    caller.require(Role::Manager)?;
    let if_match = if_match(request)?;
    let body: Map<String, Value> = kit::body::json(request)?;
    let db = SERVICE.database()?;
    let current = store::get(&db, id)?.ok_or(Error::NotFound)?;
    let write =
        model::from_json(&body, patch.then_some(&current.draft)).map_err(Error::Validation)?;
    if let Some(tags) = &if_match {
        tags.check(current.version)?;
    }
    if if_match.is_none()
        && let Some(version) = write.version.filter(|v| *v != current.version)
    {
        return Err(stale_version(version, current.version));
    }
    refuse_conflicts(store::conflicts(&db, &write.draft, Some(id))?)?;
    match store::update(&db, id, current.version, &write.draft)? {
        Some(piece) => {
            stock::changed(&piece).await;
            Ok(piece_response(200, &piece))
        }
        // Changed or deleted between the read above and the write.
        None => match store::get(&db, id)? {
            None => Err(Error::NotFound),
            Some(now) if if_match.is_some() => Err(IfMatch::stale(now.version)),
            Some(now) => Err(stale_version(current.version, now.version)),
        },
    }
}

/// Deletes a piece stock never saw; archives one it did (its ledger keeps
/// naming it), and says so. Stock is asked first: if it cannot answer,
/// nothing changes (503). Once the change is committed, stock is told of
/// its outcome (best effort, see [`stock::changed`]).
async fn delete(request: &Request, id: i64) -> Result<Response, Error> {
    let caller = auth::authenticate(request)?;
    caller.require(Role::Manager)?;
    let if_match = if_match(request)?;
    let db = SERVICE.database()?;
    let current = store::get(&db, id)?.ok_or(Error::NotFound)?;
    if let Some(tags) = if_match {
        tags.check(current.version)?;
    }
    let usage = stock::usage(id).await?;
    if usage.in_use() {
        let piece = store::archive(&db, id)?.ok_or(Error::NotFound)?;
        stock::changed(&piece).await;
        let detail = "La pièce a du stock ou un historique de mouvements : elle a été archivée, \
                      pas supprimée.";
        let mut response = routing::json(
            200,
            &json!({"detail": detail, "deleted": false, "archived": true, "piece": piece.to_json()}),
        );
        response.set_header("etag", piece.etag());
        return Ok(response);
    }
    if !store::delete(&db, id)? {
        return Err(Error::NotFound);
    }
    stock::deleted(id).await;
    Ok(Response::builder().status(204).build())
}

fn export(request: &Request) -> Result<Response, Error> {
    auth::authenticate(request)?;
    let query =
        listing::Query::parse(&page::Query::parse(request.query())).map_err(Error::Validation)?;
    let pieces = store::all(&SERVICE.database()?, &query)?;
    let mut out = String::with_capacity(128 * (pieces.len() + 1));
    kit::csv::write_record(&mut out, &CSV_COLUMNS);
    for piece in &pieces {
        kit::csv::write_record(&mut out, &model::to_csv_record(&piece.draft));
    }
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/csv; charset=utf-8")
        .header("content-disposition", "attachment; filename=\"pieces.csv\"")
        .body(out)
        .build())
}

/// Validates every row, then writes all of them in one statement, or
/// nothing and a 400 naming each bad row's line and field.
fn import(request: &Request) -> Result<Response, Error> {
    let caller = auth::authenticate(request)?;
    caller.require(Role::Manager)?;
    let content_type = request
        .header("content-type")
        .and_then(|value| value.as_str())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("text/csv") {
        return Err(Error::BadRequest(
            "Le corps de la requête doit être du CSV (Content-Type: text/csv).".into(),
        ));
    }
    let text = std::str::from_utf8(request.body())
        .map_err(|_| Error::BadRequest("Le fichier doit être encodé en UTF-8.".into()))?;
    let records = csv::parse(text).map_err(|error| Error::BadRequest(error.to_string()))?;
    let Some((header, rows)) = records.split_first() else {
        return Err(Error::BadRequest(
            "Le fichier est vide : il faut au moins l'en-tête.".into(),
        ));
    };
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(Error::BadRequest(format!(
            "Au plus {MAX_IMPORT_ROWS} lignes par fichier ; celui-ci en a {}.",
            rows.len()
        )));
    }
    let positions = header_positions(&header.cells)?;
    let mut drafts = Vec::with_capacity(rows.len());
    let mut errors: BTreeMap<usize, FieldErrors> = BTreeMap::new();
    let mut seen_references: HashMap<String, usize> = HashMap::new();
    let mut seen_barcodes: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let mut add = |field: &str, message: String| {
            errors
                .entry(row.line)
                .or_default()
                .entry(field.to_owned())
                .or_default()
                .push(message);
        };
        if row.cells.len() != header.cells.len() {
            add(
                "colonnes",
                format!(
                    "{} cellules au lieu de {}.",
                    row.cells.len(),
                    header.cells.len()
                ),
            );
            continue;
        }
        let cells: [&str; 10] = std::array::from_fn(|i| row.cells[positions[i]].as_str());
        let draft = match model::from_csv_record(&cells) {
            Ok(draft) => draft,
            Err(fields) => {
                for (field, messages) in fields {
                    messages
                        .into_iter()
                        .for_each(|message| add(&field, message));
                }
                continue;
            }
        };
        if let Some(first) = seen_references.insert(draft.reference_key(), row.line) {
            add(
                "reference",
                format!("Même référence qu'à la ligne {first}."),
            );
        }
        if let Some(barcode) = &draft.barcode
            && let Some(first) = seen_barcodes.insert(barcode.clone(), row.line)
        {
            add(
                "barcode",
                format!("Même code-barres qu'à la ligne {first}."),
            );
        }
        drafts.push((row.line, draft));
    }
    let db = SERVICE.database()?;
    let barcodes: Vec<&str> = drafts
        .iter()
        .filter_map(|(_, d)| d.barcode.as_deref())
        .collect();
    let owners: HashMap<String, String> =
        store::barcode_owners(&db, &barcodes)?.into_iter().collect();
    for (line, draft) in &drafts {
        let owner = draft
            .barcode
            .as_ref()
            .and_then(|barcode| owners.get(barcode));
        if owner.is_some_and(|key| *key != draft.reference_key()) {
            errors
                .entry(*line)
                .or_default()
                .entry("barcode".into())
                .or_default()
                .push("Ce code-barres est déjà celui d'une autre pièce.".into());
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(row_errors(errors)));
    }
    let drafts: Vec<Draft> = drafts.into_iter().map(|(_, draft)| draft).collect();
    let imported = store::upsert_all(&db, &drafts, &caller.username)?;
    Ok(routing::json(
        200,
        &json!({
            "created": imported.created,
            "updated": imported.updated,
            "unchanged": drafts.len() - imported.created - imported.updated,
        }),
    ))
}

/// For each of [`CSV_COLUMNS`], its position in the file's header. Every
/// column is required, in any order; an unknown or repeated one is refused.
fn header_positions(header: &[String]) -> Result<[usize; 10], Error> {
    let names: Vec<String> = header
        .iter()
        .map(|name| name.trim().to_lowercase())
        .collect();
    let mut seen = HashSet::new();
    for name in &names {
        if !CSV_COLUMNS.contains(&name.as_str()) {
            return Err(Error::BadRequest(format!(
                "En-tête : colonne inconnue « {name} » ; colonnes attendues : {}.",
                CSV_COLUMNS.join(",")
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::BadRequest(format!(
                "En-tête : colonne « {name} » en double."
            )));
        }
    }
    let missing: Vec<&str> = CSV_COLUMNS
        .iter()
        .copied()
        .filter(|column| !seen.contains(column))
        .collect();
    if !missing.is_empty() {
        return Err(Error::BadRequest(format!(
            "En-tête : colonnes manquantes : {}.",
            missing.join(", ")
        )));
    }
    Ok(CSV_COLUMNS.map(|column| {
        names
            .iter()
            .position(|name| name == column)
            .unwrap_or_default()
    }))
}

/// Row errors as field errors: `{"ligne 3": ["price : Au plus deux décimales."]}`.
fn row_errors(errors: BTreeMap<usize, FieldErrors>) -> FieldErrors {
    errors
        .into_iter()
        .map(|(line, fields)| {
            let messages = fields
                .into_iter()
                .flat_map(|(field, messages)| {
                    messages
                        .into_iter()
                        .map(move |message| format!("{field} : {message}"))
                })
                .collect();
            (format!("ligne {line}"), messages)
        })
        .collect()
}

/// 409 naming the fields another piece already holds.
pub(crate) fn conflict(fields: FieldErrors) -> Error {
    Error::ConflictWith {
        detail: "Une autre pièce a déjà cette valeur.".into(),
        members: fields
            .into_iter()
            .map(|(field, messages)| (field, json!(messages)))
            .collect(),
    }
}

fn refuse_conflicts(fields: FieldErrors) -> Result<(), Error> {
    if fields.is_empty() {
        Ok(())
    } else {
        Err(conflict(fields))
    }
}

fn stale_version(sent: i64, current: i64) -> Error {
    Error::ConflictWith {
        detail: format!(
            "La pièce a été modifiée entre-temps (version {sent} envoyée, version actuelle \
             {current}) : rechargez-la puis recommencez."
        ),
        members: Map::from_iter([("version".to_owned(), json!(current))]),
    }
}

/// An `If-Match` header (RFC 9110 §13.1.1): `*` or a list of entity tags.
#[derive(Debug, PartialEq, Eq)]
enum IfMatch {
    Any,
    /// The opaque tags of the strong entity tags listed: `"3"` is `3`. A weak
    /// tag never matches for If-Match, so it is not kept.
    Tags(Vec<String>),
}

impl IfMatch {
    /// `*`, or one or more entity tags (`"3"`, `W/"3"`) separated by commas,
    /// spaces and tabs around; `None` for anything else (empty included).
    /// The document's pattern for the header says the same.
    fn parse(value: &str) -> Option<Self> {
        fn ows(text: &str) -> &str {
            text.trim_start_matches([' ', '\t'])
        }
        let value = value.trim_matches([' ', '\t']);
        if value == "*" {
            return Some(IfMatch::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            let (weak, tag) = match rest.strip_prefix("W/") {
                Some(tag) => (true, tag),
                None => (false, rest),
            };
            let tag = tag.strip_prefix('"')?;
            let end = tag.find('"')?;
            let opaque = &tag[..end];
            // etagc: visible ASCII but the double quote.
            if !opaque
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
            {
                return None;
            }
            if !weak {
                tags.push(opaque.to_owned());
            }
            rest = ows(&tag[end + 1..]);
            if rest.is_empty() {
                return Some(IfMatch::Tags(tags));
            }
            rest = ows(rest.strip_prefix(',')?);
        }
    }

    /// Strong comparison: the tag must be the version exactly (`"03"` is not `"3"`).
    fn check(&self, current: i64) -> Result<(), Error> {
        match self {
            IfMatch::Tags(tags) if !tags.contains(&current.to_string()) => {
                Err(Self::stale(current))
            }
            _ => Ok(()),
        }
    }

    fn stale(current: i64) -> Error {
        Error::PreconditionFailed(format!(
            "La pièce a été modifiée entre-temps (version actuelle {current}) : rechargez-la \
             puis recommencez."
        ))
    }
}

/// The request's `If-Match`, if it has one; a 400 when it is malformed, since
/// a precondition the client cannot have meant must not be guessed at.
fn if_match(request: &Request) -> Result<Option<IfMatch>, Error> {
    let Some(value) = request.header("if-match") else {
        return Ok(None);
    };
    value
        .as_str()
        .and_then(IfMatch::parse)
        .map(Some)
        .ok_or_else(|| {
            Error::BadRequest(
                "En-tête If-Match invalide : « * » ou un ou plusieurs ETag entre guillemets \
                 séparés par des virgules, par exemple \"3\"."
                    .into(),
            )
        })
}

fn piece_response(status: u16, piece: &Piece) -> Response {
    let mut response = routing::json(status, &piece.to_json());
    response.set_header("etag", piece.etag());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openapi() -> Value {
        serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
    }

    #[test]
    fn every_route_and_method_is_in_the_openapi_document() {
        let document = openapi();
        assert_eq!(document["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        for (_, path, methods) in ROUTES {
            let item = &document["paths"][*path];
            assert!(item.is_object(), "{path} is not documented");
            for method in *methods {
                let name = method.to_string().to_lowercase();
                assert!(item[&name].is_object(), "{name} {path} is not documented");
            }
        }
        let documented = document["paths"].as_object().expect("paths").len();
        assert_eq!(
            documented,
            ROUTES.len(),
            "the document lists a route the router lacks"
        );
    }

    #[test]
    fn every_route_resolves_from_its_documented_path() {
        for (route, path, _) in ROUTES {
            let concrete = path.replace("{id}", "12");
            assert_eq!(
                resolve(&concrete).map(|(r, _)| r),
                Some(*route),
                "{concrete}"
            );
            let bare = concrete.trim_end_matches('/');
            assert_eq!(resolve(bare).map(|(r, _)| r), Some(*route), "{bare}");
        }
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(resolve("/api/pieces/42/"), Some((Route::Item, 42)));
        for path in [
            "/api/pieces/abc/",
            "/api/pieces/0/",
            "/api/pieces/-1/",
            "/api/pieces/1.5/",
        ] {
            assert_eq!(resolve(path), None, "{path}");
        }
        assert_eq!(resolve("/api/pieces/42/extra/"), None);
        assert_eq!(resolve("/api/piecesx/"), None);
    }

    #[test]
    fn if_match_names_versions() {
        let tags = |list: &[&str]| {
            Some(IfMatch::Tags(
                list.iter().map(|t| (*t).to_owned()).collect(),
            ))
        };
        assert_eq!(IfMatch::parse("*"), Some(IfMatch::Any));
        assert_eq!(IfMatch::parse(" * "), Some(IfMatch::Any));
        assert_eq!(IfMatch::parse("\"3\""), tags(&["3"]));
        assert_eq!(IfMatch::parse("\"1\", \"2\""), tags(&["1", "2"]));
        assert_eq!(IfMatch::parse("\"1\",\t\"a,b\""), tags(&["1", "a,b"]));
        assert_eq!(IfMatch::parse("W/\"3\""), tags(&[]));
        assert_eq!(IfMatch::parse("W/\"3\", \"4\""), tags(&["4"]));
        assert_eq!(IfMatch::parse("\"\""), tags(&[""]));
        assert!(IfMatch::parse("\"3\"").unwrap().check(3).is_ok());
        assert_eq!(
            IfMatch::parse("\"2\"")
                .unwrap()
                .check(3)
                .map_err(|e| e.status()),
            Err(412)
        );
        for other in ["\"03\"", "\"+3\"", "W/\"3\""] {
            assert!(IfMatch::parse(other).unwrap().check(3).is_err(), "{other}");
        }
        assert!(IfMatch::Any.check(7).is_ok());
    }

    #[test]
    fn a_malformed_if_match_is_refused() {
        for bad in [
            "",
            " ",
            "3",
            "\"3",
            "3\"",
            "\"3\",",
            ",\"3\"",
            "\"1\",,\"2\"",
            "\"1\" \"2\"",
            "w/\"3\"",
            "W/ \"3\"",
            "**",
            "*, \"3\"",
            "\"a b\"",
            "\"é\"",
            "\"\u{7f}\"",
        ] {
            assert_eq!(IfMatch::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_documented_import_example_is_accepted() {
        let document = openapi();
        let example =
            document["paths"]["/api/pieces/import/"]["post"]["requestBody"]["content"]["text/csv"]
                ["example"]
                .as_str()
                .expect("an import example");
        let records = csv::parse(example).expect("CSV");
        let (header, rows) = records.split_first().expect("a header");
        let positions = header_positions(&header.cells).expect("a valid header");
        assert!(!rows.is_empty());
        for row in rows {
            let cells: [&str; 10] = std::array::from_fn(|i| row.cells[positions[i]].as_str());
            assert!(model::from_csv_record(&cells).is_ok(), "line {}", row.line);
        }
    }

    #[test]
    fn read_only_fields_are_documented_with_the_type_they_must_have() {
        let document = openapi();
        let properties = &document["components"]["schemas"]["PiecePatch"]["properties"];
        for (field, kind) in [
            ("id", "integer"),
            ("created_at", "string"),
            ("updated_at", "string"),
            ("created_by", "string"),
        ] {
            assert_eq!(properties[field]["type"], kind, "{field}");
            assert!(
                properties[field].get("readOnly").is_none(),
                "{field} is accepted"
            );
        }
    }

    #[test]
    fn documented_text_lengths_are_the_enforced_ones() {
        let document = openapi();
        let properties = &document["components"]["schemas"]["PiecePatch"]["properties"];
        for field in [
            "reference",
            "name",
            "description",
            "category",
            "unit",
            "location",
            "barcode",
        ] {
            // `^spaces* first(?:inner{0,N} last)? spaces*$`: N + 2 characters once trimmed.
            let pattern = properties[field]["pattern"].as_str().expect(field);
            let longest = pattern
                .split("{0,")
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .and_then(|n| n.parse::<usize>().ok())
                .expect("a {0,N} quantifier")
                + 2;
            let body = |length: usize| {
                let mut body = Map::new();
                body.insert("reference".into(), json!("R"));
                body.insert("name".into(), json!("N"));
                body.insert(
                    field.into(),
                    json!(format!(" \u{a0}{} ", "é".repeat(length))),
                );
                body
            };
            assert!(
                model::from_json(&body(longest), None).is_ok(),
                "{field}: {longest} characters"
            );
            assert!(
                model::from_json(&body(longest + 1), None).is_err(),
                "{field}: more than {longest} characters"
            );
        }
    }

    #[test]
    fn a_malformed_if_match_is_documented_as_a_400() {
        let document = openapi();
        for method in ["put", "patch", "delete"] {
            let operation = &document["paths"]["/api/pieces/{id}/"][method];
            assert!(operation["responses"]["400"].is_object(), "{method}");
            let header = operation["parameters"]
                .as_array()
                .and_then(|p| p.iter().find(|p| p["name"] == "If-Match"))
                .expect("If-Match is documented");
            assert!(header["schema"]["pattern"].is_string(), "{method}");
        }
    }

    #[test]
    fn the_header_must_hold_each_column_once() {
        let header = |text: &str| text.split(',').map(str::to_owned).collect::<Vec<_>>();
        let shuffled = header(
            "name,REFERENCE,description,category,unit,price,min_stock,location,barcode,archived",
        );
        assert_eq!(header_positions(&shuffled).expect("valid")[..2], [1, 0]);
        for bad in [
            "reference,name",
            "reference,name,description,category,unit,price,min_stock,location,barcode,archived,colour",
            "reference,reference,description,category,unit,price,min_stock,location,barcode,archived",
        ] {
            assert_eq!(
                header_positions(&header(bad)).map_err(|e| e.status()),
                Err(400),
                "{bad}"
            );
        }
    }

    #[test]
    fn row_errors_name_line_and_field() {
        let errors = BTreeMap::from([(
            3,
            FieldErrors::from([(
                "price".to_owned(),
                vec!["Au plus deux décimales.".to_owned()],
            )]),
        )]);
        assert_eq!(
            row_errors(errors),
            FieldErrors::from([(
                "ligne 3".to_owned(),
                vec!["price : Au plus deux décimales.".to_owned()]
            )])
        );
    }
}
