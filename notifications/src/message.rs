//! Messages a manager sends by hand, to a role and above or to one user.

use std::collections::BTreeMap;

use kit::Error;
use kit::auth::{Caller, Role};
use serde::Deserialize;
use serde_json::Value as Json;
use spin_sdk::sqlite::{Connection, Value};

use crate::inbox::{one_for, rank};
use crate::schema::NOW_SQL;

const MAX_TITLE: usize = 200;
const MAX_MESSAGE: usize = 2000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    title: Option<String>,
    message: Option<String>,
    /// A role name: that role and above receive it. `null` is not "absent":
    /// it is refused, as any other value that names no role.
    #[serde(default, deserialize_with = "present")]
    role: Option<Json>,
    /// Or one user (a positive integer; `null` is refused likewise).
    #[serde(default, deserialize_with = "present")]
    user_id: Option<Json>,
}

/// A member that is there, `null` included: `Option<Json>` alone would read
/// `null` as absent.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(deserializer).map(Some)
}

/// A message that passed validation: its texts, trimmed, and its audience as
/// the `audience_role` and `audience_user` columns hold it.
#[derive(Debug, PartialEq)]
struct Message {
    title: String,
    message: String,
    role: Option<Role>,
    user: Option<i64>,
}

impl Manual {
    /// Every field checked, every problem reported at once: the texts, each
    /// recipient field's own type, then exactly one recipient.
    fn validate(self) -> Result<Message, Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut fail = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_default().push(message);
        };
        let mut text = |field: &str, value: Option<String>, max: usize| {
            let value = value.unwrap_or_default().trim().to_owned();
            if value.is_empty() || value.chars().count() > max {
                fail(field, format!("Texte requis, {max} caractères au plus."));
            }
            value
        };
        let title = text("title", self.title, MAX_TITLE);
        let message = text("message", self.message, MAX_MESSAGE);
        let role = self.role.as_ref().map(|value| {
            let role = value.as_str().and_then(Role::parse);
            if role.is_none() {
                fail(
                    "role",
                    "Rôle inconnu : viewer, operator, manager ou admin.".into(),
                );
            }
            role
        });
        let user = self.user_id.as_ref().map(|value| {
            let user = value.as_i64().filter(|id| *id > 0);
            if user.is_none() {
                fail(
                    "user_id",
                    "Identifiant d'utilisateur attendu : un entier positif.".into(),
                );
            }
            user
        });
        if role.is_some() == user.is_some() {
            fail(
                "audience",
                "Destinataire requis : soit \"role\" (viewer, operator, manager, admin), soit \"user_id\", pas les deux.".into(),
            );
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        Ok(Message {
            title,
            message,
            role: role.flatten(),
            user: user.flatten(),
        })
    }
}

pub fn send(db: &Connection, caller: &Caller, input: Manual) -> Result<Json, Error> {
    let checked = input.validate()?;
    let role = checked
        .role
        .map_or(Value::Null, |role| Value::Integer(rank(role)));
    let user = checked.user.map_or(Value::Null, Value::Integer);
    let created = db.execute(
        &format!(
            "INSERT INTO notifications (type, title, message, audience_role, audience_user, created_by, created_at) \
             VALUES ('manual', ?1, ?2, ?3, ?4, ?5, {NOW_SQL}) RETURNING id"
        ),
        &[Value::Text(checked.title), Value::Text(checked.message), role, user, Value::Text(caller.username.clone())],
    )?;
    let id = created
        .rows()
        .next()
        .and_then(|r| r.get::<i64>("id"))
        .ok_or(Error::NotFound)?;
    one_for(db, caller, id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manual(body: Json) -> Result<Message, Error> {
        serde_json::from_value::<Manual>(body)
            .expect("the input shape")
            .validate()
    }

    fn fields(result: Result<Message, Error>) -> Vec<String> {
        match result {
            Err(Error::Validation(errors)) => errors.into_keys().collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_message_goes_to_a_role_or_to_a_user() {
        let to_role =
            manual(json!({"title": " Inventaire ", "message": "Vendredi", "role": "operator"}))
                .expect("valid");
        assert_eq!(
            (to_role.title.as_str(), to_role.role, to_role.user),
            ("Inventaire", Some(Role::Operator), None)
        );
        let to_user = manual(json!({"title": "a", "message": "b", "user_id": 7})).expect("valid");
        assert_eq!((to_user.role, to_user.user), (None, Some(7)));
    }

    #[test]
    fn a_null_recipient_is_refused_not_read_as_absent() {
        assert_eq!(
            fields(manual(
                json!({"title": "a", "message": "b", "role": "operator", "user_id": null})
            )),
            ["audience", "user_id"]
        );
        assert_eq!(
            fields(manual(
                json!({"title": "a", "message": "b", "role": null, "user_id": 7})
            )),
            ["audience", "role"]
        );
    }

    #[test]
    fn exactly_one_recipient_of_the_right_type() {
        assert_eq!(
            fields(manual(json!({"title": "a", "message": "b"}))),
            ["audience"]
        );
        assert_eq!(
            fields(manual(
                json!({"title": "a", "message": "b", "role": "viewer", "user_id": 3})
            )),
            ["audience"]
        );
        for (field, value) in [
            ("role", json!("chef")),
            ("role", json!(3)),
            ("user_id", json!(0)),
            ("user_id", json!(-4)),
            ("user_id", json!("7")),
            ("user_id", json!(1.5)),
        ] {
            let mut body = json!({"title": "a", "message": "b"});
            body[field] = value.clone();
            assert_eq!(fields(manual(body)), [field], "{field} = {value}");
        }
        assert_eq!(
            fields(manual(
                json!({"title": "  ", "message": "", "role": "admin"})
            )),
            ["message", "title"]
        );
    }

    #[test]
    fn the_documented_examples_are_valid() {
        let document: Json = serde_json::from_str(crate::SERVICE.openapi).expect("JSON");
        let examples = document["paths"]["/api/notifications/"]["post"]["requestBody"]["content"]
            ["application/json"]["examples"]
            .as_object()
            .expect("examples");
        for (name, example) in examples {
            assert!(manual(example["value"].clone()).is_ok(), "{name}");
        }
    }
}
