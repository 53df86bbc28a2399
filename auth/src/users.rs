//! Users: the table's rows as the API shows them, and the admin routes on
//! `/api/auth/users/` (list, create, read, change, deactivate).

use kit::Error;
use kit::auth::{Caller, Role};
use kit::page::{Page, Query};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::http::{Request, Response};
use spin_sdk::sqlite::{Connection, Value};

use crate::{password, sessions};

/// The columns every query below selects, in this order.
const COLUMNS: &str = "id, username, role, is_active, date_joined, last_login";

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    date_joined: String,
    last_login: Option<String>,
}

impl User {
    fn from_row(row: &spin_sdk::sqlite::RowResult) -> Option<Self> {
        Some(Self {
            id: row.get::<i64>(0)?,
            username: row.get::<&str>(1)?.to_owned(),
            role: Role::parse(row.get::<&str>(2)?)?,
            is_active: row.get::<i64>(3)? == 1,
            date_joined: row.get::<&str>(4)?.to_owned(),
            last_login: row.get::<&str>(5).map(str::to_owned),
        })
    }

    pub fn caller(&self) -> Caller {
        Caller {
            user_id: self.id,
            username: self.username.clone(),
            role: self.role,
        }
    }

    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "role_label": self.role.label_fr(),
            "is_active": self.is_active,
            "date_joined": self.date_joined,
            "last_login": self.last_login,
        })
    }
}

fn first_user(rows: spin_sdk::sqlite::QueryResult) -> Result<Option<User>, Error> {
    rows.rows
        .first()
        .map(|row| {
            User::from_row(row)
                .ok_or_else(|| Error::Internal("a users row of an unexpected shape".into()))
        })
        .transpose()
}

pub fn by_id(db: &Connection, id: i64) -> Result<Option<User>, Error> {
    first_user(db.execute(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?"),
        &[Value::Integer(id)],
    )?)
}

/// The user named `username` (any case) and their password hash.
pub fn for_login(db: &Connection, username: &str) -> Result<Option<(User, String)>, Error> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE username_key = ?"),
        &[Value::Text(password::username_key(username))],
    )?;
    let Some(row) = rows.rows.first() else {
        return Ok(None);
    };
    let user = User::from_row(row)
        .ok_or_else(|| Error::Internal("a users row of an unexpected shape".into()))?;
    let hash = row.get::<&str>(6).unwrap_or_default().to_owned();
    Ok(Some((user, hash)))
}

/// The caller of `session` as the database has them now: 401 when the
/// user is gone or deactivated, or the session revoked.
pub fn current(db: &Connection, session: &kit::auth::Session) -> Result<Caller, Error> {
    let rows = db.execute(
        &format!(
            "SELECT {COLUMNS} FROM users WHERE id = ?1 AND is_active = 1 AND EXISTS (\
             SELECT 1 FROM refresh_families WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL)"
        ),
        &[
            Value::Integer(session.caller.user_id),
            Value::Text(session.id.clone()),
        ],
    )?;
    first_user(rows)?
        .map(|user| user.caller())
        .ok_or_else(|| Error::Unauthorized("Jeton invalide ou expiré.".into()))
}

pub fn touch_last_login(db: &Connection, id: i64) -> Result<(), Error> {
    db.execute(
        "UPDATE users SET last_login = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
        &[Value::Integer(id)],
    )?;
    Ok(())
}

/// Inserts a user; `None` when the name is taken (whatever its case).
pub fn insert(
    db: &Connection,
    username: &str,
    password_hash: &str,
    role: Role,
    is_active: bool,
    actor: &str,
) -> Result<Option<User>, Error> {
    first_user(db.execute(
        &format!(
            "INSERT INTO users (username, username_key, password_hash, role, is_active, changed_by) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username_key) DO NOTHING RETURNING {COLUMNS}"
        ),
        &[
            Value::Text(username.to_owned()),
            Value::Text(password::username_key(username)),
            Value::Text(password_hash.to_owned()),
            Value::Text(role.as_str().to_owned()),
            Value::Integer(i64::from(is_active)),
            Value::Text(actor.to_owned()),
        ],
    )?)
}

/// Who the audit trail names for the bootstrap admin's creation.
const INSTALLATION: &str = "(installation)";

/// Creates the bootstrap admin from the Spin variables when the database has
/// no admin at all: one conditional INSERT, so concurrent first logins
/// create it once. A name already taken by a non-admin leaves things as they are.
pub fn ensure_admin(db: &Connection, username: &str, password: &str) -> Result<(), Error> {
    if password.is_empty() || password::check_username(username).is_err() {
        return Ok(());
    }
    let exists = db.execute("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1", &[])?;
    if !exists.rows.is_empty() {
        return Ok(());
    }
    db.execute(
        "INSERT INTO users (username, username_key, password_hash, role, changed_by) \
         SELECT ?, ?, ?, 'admin', ? WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin') \
         ON CONFLICT (username_key) DO NOTHING",
        &[
            Value::Text(username.to_owned()),
            Value::Text(password::username_key(username)),
            Value::Text(password::hash(password)?),
            Value::Text(INSTALLATION.to_owned()),
        ],
    )?;
    Ok(())
}

/// Replaces the password of an active user, who changes it themselves.
pub fn set_password(db: &Connection, user: &User, password_hash: &str) -> Result<bool, Error> {
    let changed = db.execute(
        "UPDATE users SET password_hash = ?, changed_by = ? WHERE id = ? AND is_active = 1 RETURNING id",
        &[
            Value::Text(password_hash.to_owned()),
            Value::Text(user.username.clone()),
            Value::Integer(user.id),
        ],
    )?;
    Ok(!changed.rows.is_empty())
}

/// `POST /api/auth/users/` body: unknown fields are refused, not ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    #[serde(default = "default_role")]
    role: Role,
    #[serde(default = "default_active")]
    is_active: bool,
}

fn default_role() -> Role {
    Role::Viewer
}

fn default_active() -> bool {
    true
}

/// `PATCH /api/auth/users/{id}/` body: what an admin may change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    role: Option<Role>,
    is_active: Option<bool>,
    password: Option<String>,
}

const SELF_CHANGE: &str =
    "Un administrateur ne peut ni changer son propre rôle ni son propre statut actif.";
const NAME_TAKEN: &str = "Ce nom d'utilisateur est déjà pris.";

pub fn create(db: &Connection, admin: &Caller, request: &Request) -> Result<Response, Error> {
    let new: NewUser = kit::body::json(request)?;
    password::check_username(&new.username)?;
    password::check_password(&new.password)?;
    let hash = password::hash(&new.password)?;
    let user = insert(
        db,
        &new.username,
        &hash,
        new.role,
        new.is_active,
        &admin.username,
    )?
    .ok_or_else(name_taken)?;
    Ok(json_response(201, &user.to_json()))
}

/// 409 naming the field, as a validation error would: `{"detail", "username": [...]}`.
fn name_taken() -> Error {
    Error::ConflictWith {
        detail: NAME_TAKEN.into(),
        members: serde_json::Map::from_iter([("username".to_owned(), json!([NAME_TAKEN]))]),
    }
}

pub fn read(db: &Connection, id: i64) -> Result<Response, Error> {
    let user = by_id(db, id)?.ok_or(Error::NotFound)?;
    Ok(json_response(200, &user.to_json()))
}

/// Changes role, active flag and/or password in one UPDATE. Deactivating or
/// resetting the password ends every session of the user at once.
pub fn change(
    db: &Connection,
    admin: &Caller,
    id: i64,
    request: &Request,
    now: i64,
) -> Result<Response, Error> {
    let change: UserChange = kit::body::json(request)?;
    apply(db, admin, id, change, now)
}

/// `DELETE` deactivates: history keeps pointing at the user.
pub fn deactivate(db: &Connection, admin: &Caller, id: i64, now: i64) -> Result<Response, Error> {
    let change = UserChange {
        role: None,
        is_active: Some(false),
        password: None,
    };
    apply(db, admin, id, change, now)?;
    Ok(Response::builder().status(204).build())
}

fn apply(
    db: &Connection,
    admin: &Caller,
    id: i64,
    change: UserChange,
    now: i64,
) -> Result<Response, Error> {
    if id == admin.user_id && (change.role.is_some() || change.is_active.is_some()) {
        return Err(Error::Forbidden(SELF_CHANGE.into()));
    }
    let hash = match &change.password {
        Some(new) => {
            password::check_password(new)?;
            Some(password::hash(new)?)
        }
        None => None,
    };
    let user = first_user(
        db.execute(
            &format!(
                "UPDATE users SET role = COALESCE(?, role), is_active = COALESCE(?, is_active), \
             password_hash = COALESCE(?, password_hash), changed_by = ? WHERE id = ? RETURNING {COLUMNS}"
            ),
            &[
                change
                    .role
                    .map_or(Value::Null, |role| Value::Text(role.as_str().to_owned())),
                change
                    .is_active
                    .map_or(Value::Null, |active| Value::Integer(i64::from(active))),
                hash.map_or(Value::Null, Value::Text),
                Value::Text(admin.username.clone()),
                Value::Integer(id),
            ],
        )?,
    )?
    .ok_or(Error::NotFound)?;
    if change.is_active == Some(false) || change.password.is_some() {
        sessions::revoke_all(db, id, None, now)?;
    }
    Ok(json_response(200, &user.to_json()))
}

/// `?ordering=` values and the SQL they stand for; anything else is refused.
pub(crate) const ORDERINGS: &[(&str, &str)] = &[
    ("id", "id"),
    ("-id", "id DESC"),
    ("username", "username_key, id"),
    ("-username", "username_key DESC, id DESC"),
    ("role", "role, id"),
    ("-role", "role DESC, id DESC"),
    ("date_joined", "date_joined, id"),
    ("-date_joined", "date_joined DESC, id DESC"),
];

/// `GET /api/auth/users/?page=&page_size=&search=&ordering=&role=&is_active=`,
/// paginated the Django REST Framework way (`kit::page`).
pub fn list(db: &Connection, request: &Request) -> Result<Response, Error> {
    let query = Query::parse(request.query());
    let page = Page::from_query(&query)?;
    let ordering = match query.get("ordering") {
        None => "id",
        Some(name) => ORDERINGS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, sql)| *sql)
            .ok_or_else(|| {
                Error::field(
                    "ordering",
                    "Tri inconnu : id, username, role ou date_joined (préfixe - pour l'ordre inverse).",
                )
            })?,
    };
    let pattern = search_pattern(query.get("search").unwrap_or_default());
    let role = match query.get("role") {
        None => Value::Null,
        Some(name) => Value::Text(
            Role::parse(name)
                .ok_or_else(|| Error::field("role", "Rôle inconnu."))?
                .as_str()
                .to_owned(),
        ),
    };
    let active = match query.get("is_active") {
        None => Value::Null,
        Some("true" | "1") => Value::Integer(1),
        Some("false" | "0") => Value::Integer(0),
        Some(_) => return Err(Error::field("is_active", "true ou false.")),
    };
    let Some(pattern) = pattern else {
        // No username is that long: nothing matches, and SQLite is not asked.
        return Ok(json_response(200, &page.document(request, 0, Vec::new())?));
    };
    let filter = "username_key LIKE ? ESCAPE '\\' AND role = COALESCE(?, role) \
                  AND is_active = COALESCE(?, is_active)";
    let filters = [Value::Text(pattern), role, active];
    let (count, rows) = page.select(
        db,
        &format!("SELECT {COLUMNS} FROM users WHERE {filter}"),
        ordering,
        &filters,
    )?;
    let results: Vec<Json> = rows
        .rows
        .iter()
        .filter_map(User::from_row)
        .map(|user| user.to_json())
        .collect();
    Ok(json_response(200, &page.document(request, count, results)?))
}

/// Characters a username key can have: lower-casing turns a character into
/// at most two (`İ` becomes `i̇`).
const MAX_KEY_CHARS: usize = 2 * password::MAX_USERNAME_CHARS;

/// The `LIKE` pattern of `?search=`, or `None` when the search is longer than
/// any username key and so matches nothing. Without that bound, a long search
/// (SQLite refuses `LIKE` patterns over 50 000 bytes) was a 503.
fn search_pattern(search: &str) -> Option<String> {
    let key = password::username_key(search);
    (key.chars().count() <= MAX_KEY_CHARS).then(|| format!("%{}%", escape_like(&key)))
}

/// Makes `%`, `_` and `\` match themselves in a `LIKE ... ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub fn json_response(status: u16, body: &Json) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.to_string())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("a%b_c\\"), "a\\%b\\_c\\\\");
    }

    #[test]
    fn a_search_longer_than_any_username_key_matches_nothing() {
        assert_eq!(search_pattern("Ab%").as_deref(), Some("%ab\\%%"));
        assert!(search_pattern(&"İ".repeat(password::MAX_USERNAME_CHARS)).is_some());
        let long = "x".repeat(MAX_KEY_CHARS + 1);
        assert_eq!(search_pattern(&long), None);
        // What made the 503: a pattern SQLite finds too long (50 000 bytes).
        assert_eq!(search_pattern(&"%".repeat(30_000)), None);
    }

    #[test]
    fn lower_casing_at_most_doubles_a_username() {
        let longest = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .map(|c| c.to_lowercase().count())
            .max();
        // So no key is longer than MAX_KEY_CHARS.
        assert_eq!(longest, Some(2));
    }

    #[test]
    fn a_taken_name_is_a_409_naming_the_field() {
        let error = name_taken();
        assert_eq!(error.status(), 409);
        let response = error.into_response();
        let body: Json = serde_json::from_slice(response.body()).expect("JSON");
        assert_eq!(
            body,
            json!({ "detail": NAME_TAKEN, "username": [NAME_TAKEN] })
        );
    }

    #[test]
    fn every_ordering_names_a_column_we_own() {
        for (_, sql) in ORDERINGS {
            assert!(
                sql.split([',', ' '])
                    .filter(|word| !word.is_empty())
                    .all(|word| ["id", "username_key", "role", "date_joined", "DESC"]
                        .contains(&word)),
                "{sql}"
            );
        }
    }
}
