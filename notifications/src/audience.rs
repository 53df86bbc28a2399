//! Who receives each kind of stock alert: a role and those above it, plus
//! named users; an admin chooses (`GET`/`PUT /api/notifications/audiences/`).
//! It is read when an alert is shown, not when it arrives, so a change
//! applies to the alerts already received too. By default: managers and up.

use kit::Error;
use kit::auth::Role;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};
use spin_sdk::sqlite::{Connection, Value};

use crate::inbox::rank;
use crate::schema::NOW_SQL;

const MAX_USERS: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// This role and those above it; `None`: no role, only `users`.
    role: Option<String>,
    #[serde(default)]
    users: Vec<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audiences {
    low_stock: Audience,
    out_of_stock: Audience,
    back_in_stock: Audience,
}

pub fn read(db: &Connection) -> Result<Json, Error> {
    let rows = db.execute("SELECT kind, min_role, users FROM audiences", &[])?;
    let mut out = Map::new();
    for row in rows.rows() {
        let role = row
            .get::<i64>("min_role")
            .and_then(|rank| Role::ALL.into_iter().find(|r| self::rank(*r) == rank))
            .map(Role::as_str);
        let users: Json = row
            .get::<&str>("users")
            .and_then(|users| serde_json::from_str(users).ok())
            .unwrap_or_else(|| json!([]));
        out.insert(
            row.get::<&str>("kind").unwrap_or_default().to_owned(),
            json!({ "role": role, "users": users }),
        );
    }
    Ok(Json::Object(out))
}

/// Sets the three audiences in one statement: all or none.
pub fn write(db: &Connection, input: Audiences) -> Result<Json, Error> {
    let mut rows = Vec::new();
    let mut errors = std::collections::BTreeMap::new();
    for (kind, audience) in [
        ("low_stock", &input.low_stock),
        ("out_of_stock", &input.out_of_stock),
        ("back_in_stock", &input.back_in_stock),
    ] {
        match audience.checked() {
            Ok((role, users)) => {
                rows.push(json!({ "kind": kind, "min_role": role, "users": users }))
            }
            Err(why) => {
                errors.insert(kind.to_owned(), vec![why.to_owned()]);
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    db.execute(
        &format!(
            "INSERT INTO audiences (kind, min_role, users, updated_at) \
             SELECT json_extract(value, '$.kind'), json_extract(value, '$.min_role'), \
                 json_extract(value, '$.users'), {NOW_SQL} FROM json_each(?1) WHERE true \
             ON CONFLICT (kind) DO UPDATE SET min_role = excluded.min_role, users = excluded.users, \
                 updated_at = excluded.updated_at"
        ),
        &[Value::Text(Json::Array(rows).to_string())],
    )?;
    read(db)
}

impl Audience {
    /// The role's rank and the users, sorted once each; or why not.
    fn checked(&self) -> Result<(Option<i64>, Vec<i64>), &'static str> {
        let role = match self.role.as_deref() {
            None => None,
            Some(name) => Some(rank(
                Role::parse(name).ok_or("Rôle : viewer, operator, manager, admin ou null.")?,
            )),
        };
        if self.users.len() > MAX_USERS || self.users.iter().any(|id| *id < 1) {
            return Err("Utilisateurs : 200 identifiants (entiers positifs) au plus.");
        }
        let mut users = self.users.clone();
        users.sort_unstable();
        users.dedup();
        Ok((role, users))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(role: Option<&str>, users: Vec<i64>) -> Audience {
        Audience {
            role: role.map(str::to_owned),
            users,
        }
    }

    #[test]
    fn roles_and_users_are_checked_and_users_kept_once() {
        assert_eq!(
            audience(Some("operator"), vec![7, 3, 7]).checked(),
            Ok((Some(rank(Role::Operator)), vec![3, 7]))
        );
        assert_eq!(audience(None, vec![]).checked(), Ok((None, vec![])));
        assert!(audience(Some("chef"), vec![]).checked().is_err());
        assert!(audience(None, vec![0]).checked().is_err());
        assert!(audience(None, vec![1; MAX_USERS + 1]).checked().is_err());
    }
}
