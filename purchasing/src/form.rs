//! A JSON object typed by a person, read field by field: every problem is
//! collected and reported at once (400, one message list per field), a
//! `null` is told apart from an absent field, and lengths are counted on
//! the text as sent, before trimming, as the OpenAPI document says.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

pub struct Form {
    fields: Map<String, Json>,
    errors: BTreeMap<String, Vec<String>>,
    /// A creation: required fields must be there.
    creating: bool,
}

impl Form {
    /// `body` must be an object of `known` fields only.
    pub fn new(body: Json, known: &[&str], creating: bool) -> Result<Self, kit::Error> {
        let Json::Object(fields) = body else {
            return Err(kit::Error::BadRequest("Un objet JSON est attendu.".into()));
        };
        let mut form = Self {
            fields,
            errors: BTreeMap::new(),
            creating,
        };
        let unknown: Vec<String> = form
            .fields
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .cloned()
            .collect();
        for name in unknown {
            form.fail(&name, "Champ inconnu.");
        }
        Ok(form)
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// The field's value; `None` when absent (an error if `required` on a
    /// creation).
    fn take(&mut self, name: &str, required: bool) -> Option<Json> {
        let value = self.fields.remove(name);
        if value.is_none() && required && self.creating {
            self.fail(name, "Champ requis.");
        }
        value
    }

    /// Text of at most `max` characters, trimmed; a `required` field may
    /// not be blank.
    pub fn text(&mut self, name: &str, max: usize, required: bool) -> Option<String> {
        match self.take(name, required)? {
            Json::String(text) => {
                let blank_refused = required && text.trim().is_empty();
                if blank_refused || text.chars().count() > max || text.chars().any(is_forbidden) {
                    let least = if required { 1 } else { 0 };
                    self.fail(name, format!("{least} à {max} caractères."));
                    return None;
                }
                Some(text.trim().to_owned())
            }
            _ => {
                self.fail(name, "Texte attendu.");
                None
            }
        }
    }

    /// A whole number within `range`.
    pub fn integer(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        required: bool,
    ) -> Option<i64> {
        let value = self.take(name, required)?;
        match value.as_i64().filter(|n| range.contains(n)) {
            Some(n) => Some(n),
            None => {
                self.fail(
                    name,
                    format!(
                        "Nombre entier de {} à {} attendu.",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.take(name, false)? {
            Json::Bool(b) => Some(b),
            _ => {
                self.fail(name, "true ou false.");
                None
            }
        }
    }

    /// The raw value, for a field the caller reads itself (a list).
    pub fn raw(&mut self, name: &str, required: bool) -> Option<Json> {
        self.take(name, required)
    }

    /// Whether the client sent `name` at all.
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// Ok when every field read was valid.
    pub fn finish(self) -> Result<(), kit::Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(kit::Error::Validation(self.errors))
        }
    }
}

/// Control characters (a newline aside) have no place in a name or a note.
fn is_forbidden(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\r' && c != '\t'
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut form = Form::new(
            json!({"name": null, "pack_size": 0, "extra": 1}),
            &["name", "pack_size", "note"],
            true,
        )
        .unwrap();
        assert_eq!(form.text("name", 10, true), None);
        assert_eq!(form.integer("pack_size", 1..=10, false), None);
        assert_eq!(form.text("note", 10, false), None);
        let Err(kit::Error::Validation(errors)) = form.finish() else {
            panic!("refused");
        };
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["extra", "name", "pack_size"]
        );
    }

    #[test]
    fn length_is_counted_before_trimming_and_blank_is_not_a_name() {
        let mut form = Form::new(
            json!({"a": " x ", "b": "  ", "c": "abcd "}),
            &["a", "b", "c"],
            true,
        )
        .unwrap();
        assert_eq!(form.text("a", 3, true).as_deref(), Some("x"));
        assert_eq!(form.text("b", 3, true), None);
        assert_eq!(form.text("c", 4, false), None);
        assert!(form.finish().is_err());
    }

    #[test]
    fn a_missing_field_is_required_only_on_creation() {
        let mut form = Form::new(json!({}), &["name"], false).unwrap();
        assert_eq!(form.text("name", 3, true), None);
        assert!(form.finish().is_ok());
    }
}
