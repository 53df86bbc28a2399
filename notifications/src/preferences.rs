//! What each user wants of stock alerts: none; only some categories (which
//! also brings those a user's role would not receive); and the pieces they
//! follow, whose alerts reach them whatever the audience.

use kit::Error;
use kit::auth::Caller;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::sqlite::{Connection, Value};

use crate::inbox::caller_params;
use crate::schema::NOW_SQL;

const MAX_CATEGORIES: usize = 100;
const MAX_CATEGORY: usize = 100;
const MAX_PIECES: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    stock_alerts: bool,
    #[serde(default)]
    categories: Vec<String>,
}

pub fn read(db: &Connection, caller: &Caller) -> Result<Json, Error> {
    let row = db.execute(
        "SELECT stock_alerts, categories, pieces FROM preferences WHERE user_id = ?1",
        &[Value::Integer(caller.user_id)],
    )?;
    let row = row.rows().next();
    let stock_alerts = row
        .as_ref()
        .and_then(|r| r.get::<i64>("stock_alerts"))
        .is_none_or(|v| v != 0);
    let list = |name: &str| -> Json {
        row.as_ref()
            .and_then(|r| r.get::<&str>(name))
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_else(|| json!([]))
    };
    let (categories, pieces) = (list("categories"), list("pieces"));
    let audience: Vec<String> = db
        .execute(
            "SELECT kind FROM audiences AS a WHERE a.min_role <= ?2 \
             OR EXISTS (SELECT 1 FROM json_each(a.users) WHERE value = ?1) ORDER BY kind",
            &caller_params(caller),
        )?
        .rows()
        .filter_map(|r| r.get::<&str>("kind").map(str::to_owned))
        .collect();
    let follows_some = [&categories, &pieces]
        .iter()
        .any(|list| list.as_array().is_some_and(|l| !l.is_empty()));
    Ok(json!({
        "stock_alerts": stock_alerts,
        "categories": categories,
        "pieces": pieces,
        // The kinds of alert the caller's role or name receives; the UI
        // says which.
        "audience": audience,
        "receives_stock_alerts": stock_alerts && (follows_some || !audience.is_empty()),
    }))
}

/// Follows `piece`: its alerts reach the caller whatever the audience. One
/// statement, so two tabs following two pieces at once keep both.
pub fn follow(db: &Connection, caller: &Caller, piece: i64) -> Result<Json, Error> {
    let followed = db.execute(
        &format!(
            "INSERT INTO preferences (user_id, stock_alerts, categories, pieces, updated_at) \
             VALUES (?1, 1, '[]', json_array(?2), {NOW_SQL}) \
             ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at, \
                 pieces = CASE WHEN EXISTS (SELECT 1 FROM json_each(preferences.pieces) WHERE value = ?2) \
                     THEN preferences.pieces ELSE json_insert(preferences.pieces, '$[#]', ?2) END \
             WHERE json_array_length(preferences.pieces) < ?3 \
                OR EXISTS (SELECT 1 FROM json_each(preferences.pieces) WHERE value = ?2) \
             RETURNING user_id"
        ),
        &[
            Value::Integer(caller.user_id),
            Value::Integer(piece),
            Value::Integer(MAX_PIECES),
        ],
    )?;
    if followed.rows.is_empty() {
        return Err(Error::Conflict(format!(
            "{MAX_PIECES} pièces suivies au plus : cessez d'en suivre une d'abord."
        )));
    }
    read(db, caller)
}

pub fn unfollow(db: &Connection, caller: &Caller, piece: i64) -> Result<Json, Error> {
    db.execute(
        &format!(
            "UPDATE preferences SET updated_at = {NOW_SQL}, pieces = \
                (SELECT json_group_array(value) FROM json_each(preferences.pieces) WHERE value <> ?2) \
             WHERE user_id = ?1"
        ),
        &[Value::Integer(caller.user_id), Value::Integer(piece)],
    )?;
    read(db, caller)
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
