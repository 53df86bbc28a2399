//! `POST /api/pieces/import/`: a CSV file of the export's columns, every
//! row validated before any is written, then all written in one statement.

use std::collections::{BTreeMap, HashMap, HashSet};

use kit::route::Call;
use kit::{Error, route};
use serde_json::json;
use spin_sdk::http::Response;

use crate::model::{self, CSV_COLUMNS, Draft, FieldErrors};
use crate::store;

/// Rows an import may hold; a larger catalogue is imported in several files.
const MAX_IMPORT_ROWS: usize = 10_000;

/// Validates every row, then writes all of them in one statement, or
/// nothing and a 400 naming each bad row's line and field.
pub fn import(call: &Call) -> Result<Response, Error> {
    let (request, caller) = (call.request, call.caller()?);
    let (header, rows) = kit::body::csv(request)?;
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
    let db = call.database()?;
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
    Ok(route::json(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_import_example_is_accepted() {
        let document: serde_json::Value =
            serde_json::from_str(crate::SERVICE.openapi).expect("JSON");
        let example =
            document["paths"]["/api/pieces/import/"]["post"]["requestBody"]["content"]["text/csv"]
                ["example"]
                .as_str()
                .expect("an import example");
        let records = kit::csv::parse(example).expect("CSV");
        let (header, rows) = records.split_first().expect("a header");
        let positions = header_positions(&header.cells).expect("a valid header");
        assert!(!rows.is_empty());
        for row in rows {
            let cells: [&str; 10] = std::array::from_fn(|i| row.cells[positions[i]].as_str());
            assert!(model::from_csv_record(&cells).is_ok(), "line {}", row.line);
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
