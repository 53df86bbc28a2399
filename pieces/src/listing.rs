//! What a list request asks for besides its page (`kit::page`): `search`,
//! the filters and `ordering`.
//!
//! Every value that reaches SQL text comes from a whitelist here; user text
//! only ever travels as a bound parameter.

use kit::page;

use crate::model::FieldErrors;
use crate::text;

/// The filters a list, the CSV export and the categories share.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Folded search words; a piece must contain each of them.
    pub words: Vec<String>,
    pub category: Option<String>,
    pub archived: Option<bool>,
}

/// A sort key the API offers, mapped to the column that implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    column: &'static str,
    descending: bool,
}

/// The `ordering` names and their columns: references and names sort by
/// their folded keys, so `écrou` sorts beside `ecrou`, not after `z`.
const SORTABLE: &[(&str, &str)] = &[
    ("reference", "reference_key"),
    ("name", "name_key"),
    ("updated_at", "updated_at"),
];

/// The filters and order of a list or an export.
#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    pub filter: Filter,
    pub ordering: Vec<SortKey>,
}

impl Query {
    /// Reads `search`, `category`, `archived` and `ordering`; other
    /// parameters are someone else's (`page`) or ignored, as DRF does.
    pub fn parse(query: &page::Query) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let archived = match query
            .get("archived")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(_) => {
                errors.insert("archived".into(), vec!["Doit valoir true ou false.".into()]);
                None
            }
        };
        // No stored text holds a control character but line breaks and tabs,
        // and FTS5 would read a NUL as the end of the search string.
        let search = query.get("search").unwrap_or_default();
        if search.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            errors.insert(
                "search".into(),
                vec!["Caractère de contrôle interdit.".into()],
            );
        }
        let ordering = parse_ordering(query.get("ordering").unwrap_or("reference")).unwrap_or_else(
            |message| {
                errors.insert("ordering".into(), vec![message]);
                Vec::new()
            },
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            filter: Filter {
                words: search_words(search),
                category: query.get("category").map(|c| c.trim().to_owned()),
                archived,
            },
            ordering,
        })
    }

    /// The `ORDER BY` clause: whitelisted columns only, `id` last so that
    /// pages never overlap or skip rows that tie. `id` runs the way the last
    /// key does, so that `(column, id)` indexes serve both directions.
    pub fn order_by(&self) -> String {
        let direction = |descending: bool| if descending { "DESC" } else { "ASC" };
        let mut keys: Vec<String> = self
            .ordering
            .iter()
            .map(|key| format!("{} {}", key.column, direction(key.descending)))
            .collect();
        let last = self.ordering.last().is_some_and(|key| key.descending);
        keys.push(format!("id {}", direction(last)));
        keys.join(", ")
    }
}

/// The words of a search, folded as the stored search text is.
fn search_words(search: &str) -> Vec<String> {
    text::fold(search)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `reference`, `-updated_at`, `name,-updated_at`...: names from [`SORTABLE`]
/// only, each at most once (so at most three keys).
fn parse_ordering(text: &str) -> Result<Vec<SortKey>, String> {
    let allowed = || {
        let names: Vec<&str> = SORTABLE.iter().map(|(name, _)| *name).collect();
        format!(
            "Tri inconnu : valeurs possibles {} (préfixe - pour l'ordre décroissant).",
            names.join(", ")
        )
    };
    let mut keys: Vec<SortKey> = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (descending, name) = match item.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, item),
        };
        let column = SORTABLE
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, column)| *column)
            .ok_or_else(allowed)?;
        if keys.iter().any(|key| key.column == column) {
            return Err(format!("Tri en double : {name}."));
        }
        keys.push(SortKey { column, descending });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Query, FieldErrors> {
        Query::parse(&page::Query::parse(raw))
    }

    #[test]
    fn defaults_are_everything_by_reference() {
        let query = parse("page=3").expect("valid");
        assert_eq!(query.order_by(), "reference_key ASC, id ASC");
        assert_eq!(query.filter, Filter::default());
    }

    #[test]
    fn ordering_is_whitelisted() {
        let query = parse("ordering=-updated_at,name").expect("valid");
        assert_eq!(query.order_by(), "updated_at DESC, name_key ASC, id ASC");
        let query = parse("ordering=-updated_at").expect("valid");
        assert_eq!(query.order_by(), "updated_at DESC, id DESC");
        for bad in [
            "price",
            "id%3BDROP+TABLE+pieces",
            "reference_key",
            "-",
            "name,-name",
            "name+desc",
            "name,reference,updated_at,name",
        ] {
            assert!(parse(&format!("ordering={bad}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_flag_is_a_field_error() {
        let errors = parse("archived=maybe&ordering=x").unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["archived", "ordering"]);
    }

    #[test]
    fn a_search_with_a_control_character_is_refused() {
        for bad in [
            "search=a%00b",
            "search=%1B",
            "search=x%7Fy",
            "search=%C2%9F",
        ] {
            let errors = parse(bad).unwrap_err();
            assert_eq!(errors.keys().collect::<Vec<_>>(), ["search"], "{bad}");
        }
        let spaced = parse("search=a%09b%0Ac%C2%85d").expect("whitespace separates words");
        assert_eq!(spaced.filter.words, ["a", "b", "c", "d"]);
    }

    #[test]
    fn search_is_folded_into_words() {
        assert_eq!(
            parse("search=%C3%89crou++M8").expect("valid").filter.words,
            ["ecrou", "m8"]
        );
        assert!(parse("search=").expect("valid").filter.words.is_empty());
    }

    #[test]
    fn filters_are_read() {
        let query = parse("category=Visserie&archived=false").expect("valid");
        assert_eq!(query.filter.category.as_deref(), Some("Visserie"));
        assert_eq!(query.filter.archived, Some(false));
    }
}
