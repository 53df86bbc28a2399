//! What each user wants of stock alerts: none, or only some categories.

use kit::Error;
use kit::auth::Caller;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Value};

use crate::inbox::STOCK_ALERT_AUDIENCE;
use crate::schema::NOW_SQL;

const MAX_CATEGORIES: usize = 100;
const MAX_CATEGORY: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    stock_alerts: bool,
    #[serde(default)]
    categories: Vec<String>,
}

pub fn read(db: &Connection, caller: &Caller) -> Result<Json, Error> {
    let row = db.execute(
        "SELECT stock_alerts, categories FROM preferences WHERE user_id = ?1",
        &[Value::Integer(caller.user_id)],
    )?;
    let row = row.rows().next();
    let stock_alerts = row
        .as_ref()
        .and_then(|r| r.get::<i64>("stock_alerts"))
        .is_none_or(|v| v != 0);
    let categories: Json = row
        .as_ref()
        .and_then(|r| r.get::<&str>("categories"))
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_else(|| json!([]));
    Ok(json!({
        "stock_alerts": stock_alerts,
        "categories": categories,
        // Stock alerts are addressed to managers: below that role, opting in
        // changes nothing, and the UI says so.
        "receives_stock_alerts": stock_alerts && caller.role >= STOCK_ALERT_AUDIENCE,
    }))
}

pub fn write(db: &Connection, caller: &Caller, input: Preferences) -> Result<Json, Error> {
    let categories = input.categories()?;
    db.execute(
        &format!(
            "INSERT INTO preferences (user_id, stock_alerts, categories, updated_at) VALUES (?1, ?2, ?3, {NOW_SQL}) \
             ON CONFLICT (user_id) DO UPDATE SET stock_alerts = excluded.stock_alerts, \
             categories = excluded.categories, updated_at = excluded.updated_at"
        ),
        &[
            Value::Integer(caller.user_id),
            Value::Integer(input.stock_alerts.into()),
            Value::Text(json!(categories).to_string()),
        ],
    )?;
    read(db, caller)
}

impl Preferences {
    /// The categories to keep, trimmed, empty ones dropped. The bounds apply
    /// to the list as sent (the document's `maxItems` and `maxLength`): a
    /// list too long is refused even if blanks would have brought it under.
    fn categories(&self) -> Result<Vec<String>, Error> {
        if self.categories.len() > MAX_CATEGORIES
            || self
                .categories
                .iter()
                .any(|c| c.chars().count() > MAX_CATEGORY)
        {
            return Err(Error::field(
                "categories",
                format!(
                    "{MAX_CATEGORIES} catégories au plus, de {MAX_CATEGORY} caractères au plus \
                     (espaces compris)."
                ),
            ));
        }
        Ok(self
            .categories
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preferences(categories: Vec<String>) -> Preferences {
        Preferences {
            stock_alerts: true,
            categories,
        }
    }

    #[test]
    fn categories_are_bounded_as_sent() {
        let blanks = preferences(vec![String::new(); MAX_CATEGORIES + 1]);
        assert_eq!(blanks.categories().map_err(|e| e.status()), Err(400));
        let padded = preferences(vec![format!(" {}", "x".repeat(MAX_CATEGORY))]);
        assert_eq!(padded.categories().map_err(|e| e.status()), Err(400));
        let most = preferences(vec!["x".repeat(MAX_CATEGORY); MAX_CATEGORIES]);
        assert_eq!(
            most.categories().ok().map(|c| c.len()),
            Some(MAX_CATEGORIES)
        );
    }

    #[test]
    fn categories_are_trimmed_and_blanks_dropped() {
        let sent = preferences(vec![
            " Visserie ".into(),
            "".into(),
            "  ".into(),
            "Outils".into(),
        ]);
        assert_eq!(
            sent.categories().ok(),
            Some(vec!["Visserie".to_owned(), "Outils".to_owned()])
        );
    }

    #[test]
    fn the_documented_example_is_valid() {
        let document: Json = serde_json::from_str(crate::SERVICE.openapi).expect("JSON");
        let example = document["paths"]["/api/notifications/preferences/"]["put"]["requestBody"]
            ["content"]["application/json"]["example"]
            .clone();
        let input: Preferences = serde_json::from_value(example).expect("the input shape");
        assert!(input.categories().is_ok());
    }
}
