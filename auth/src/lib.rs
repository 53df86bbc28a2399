//! The `auth` service: users, roles and JWT sessions.
//!
//! Spin routes `/api/auth/...` here (see `spin.toml`); the service owns the
//! SQLite database labelled `auth` and no other. It signs access tokens with
//! the private key of the Spin variable `jwt_private_key`; every service,
//! this one included, checks them with `kit::auth`.

mod audit;
mod password;
mod schema;
mod sessions;
mod throttle;
mod users;

use kit::auth::{Caller, PublicKeys, Role, Signer};
use kit::route::{Access, Call, Route, dispatch, ready};
use kit::{Error, Service};
use serde::Deserialize;
use serde_json::json;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;
use spin_sdk::sqlite::Connection;

use users::json_response;

const SERVICE: Service = Service {
    name: "auth",
    version: env!("CARGO_PKG_VERSION"),
    database: "auth",
    migrations: schema::MIGRATIONS,
    // Written by hand; `openapi.rs` checks it against [`ROUTES`].
    openapi: include_str!("openapi.json"),
};

/// SimpleJWT's wording, in French: the same whether the user does not
/// exist, is deactivated or typed a wrong password.
const BAD_CREDENTIALS: &str = "Aucun compte actif ne correspond à ces identifiants.";
const BAD_REFRESH: &str = "Jeton de rafraîchissement invalide ou expiré.";

#[cfg(test)]
mod openapi;

const ANYONE: Access = Access::Token(Role::Viewer);
const ADMIN: Access = Access::Token(Role::Admin);

/// Everything auth serves, besides health and its document.
static ROUTES: &[Route] = &[
    Route::get("/api/auth/jwks.json", Access::Public, |_| ready(jwks())),
    Route::post("/api/auth/login/", Access::Public, |call| {
        ready(login(call.request))
    }),
    Route::post("/api/auth/refresh/", Access::Public, |call| {
        ready(refresh(call.request))
    }),
    Route::post("/api/auth/logout/", Access::Public, |call| {
        ready(logout(call.request))
    }),
    Route::get("/api/auth/me/", ANYONE, |call| ready(me(call))),
    Route::post("/api/auth/password/", ANYONE, |call| {
        ready(change_password(call))
    }),
    Route::get("/api/auth/audit/", ADMIN, |call| {
        ready(admin_db(call).and_then(|(_, db)| {
            audit::list(&db, call.request).map(|trail| kit::route::json(200, &trail))
        }))
    }),
    Route::get("/api/auth/users/", ADMIN, |call| {
        ready(admin_db(call).and_then(|(_, db)| users::list(&db, call.request)))
    }),
    Route::post("/api/auth/users/", ADMIN, |call| {
        ready(admin_db(call).and_then(|(admin, db)| users::create(&db, &admin, call.request)))
    }),
    Route::get("/api/auth/users/{user}/", ADMIN, |call| {
        ready(admin_db(call).and_then(|(_, db)| users::read(&db, call.param("user")?)))
    }),
    Route::patch("/api/auth/users/{user}/", ADMIN, |call| {
        ready(admin_db(call).and_then(|(admin, db)| {
            users::change(&db, &admin, call.param("user")?, call.request, now())
        }))
    }),
    Route::delete("/api/auth/users/{user}/", ADMIN, |call| {
        ready(
            admin_db(call)
                .and_then(|(admin, db)| users::deactivate(&db, &admin, call.param("user")?, now())),
        )
    }),
];

#[http_component]
async fn handle(request: Request) -> Response {
    dispatch(&SERVICE, ROUTES, &request).await
}

/// The admin caller and the database. The token's role (checked by the
/// route table) is not enough to manage accounts: the caller must still be
/// an active admin, in a session that is still open, as the database says
/// now, so that a demoted or deactivated admin loses these powers at once.
fn admin_db(call: &Call) -> Result<(Caller, Connection), Error> {
    let db = call.database()?;
    let caller = users::current(&db, call.session()?)?;
    caller.require(Role::Admin)?;
    Ok((caller, db))
}

/// Unix seconds; the clock of the host.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

fn variable(name: &str) -> Result<String, Error> {
    spin_sdk::variables::get(name)
        .map_err(|error| Error::Internal(format!("Spin variable {name}: {error}").into()))
}

/// A token lifetime in seconds, from the Spin variable `name`.
fn lifetime(name: &str) -> Result<i64, Error> {
    parse_lifetime(name, &variable(name)?)
}

fn parse_lifetime(name: &str, value: &str) -> Result<i64, Error> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|secs| *secs > 0)
        .ok_or_else(|| Error::Internal(format!("{name} = {value:?}: not a positive number").into()))
}

fn signer() -> Result<Signer, Error> {
    let value = variable("jwt_private_key")?;
    if value.trim().is_empty() {
        // Fail closed: without a key, nobody logs in (and nothing is forged).
        return Err(Error::Internal("jwt_private_key is not set".into()));
    }
    Signer::from_variable(&value)
        .map_err(|error| Error::Internal(format!("jwt_private_key: {error}").into()))
}

/// The public keys every service verifies with, checked before serving.
fn jwks() -> Result<Response, Error> {
    let document = variable("jwt_public_keys")?;
    PublicKeys::from_jwks(&document)
        .map_err(|error| Error::Internal(format!("jwt_public_keys: {error}").into()))?;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/jwk-set+json")
        .header("cache-control", "public, max-age=300")
        .body(document)
        .build())
}

/// What a session's tokens are made with, read before anything is written:
/// a missing or broken key or lifetime is a 500 that changes nothing (no
/// session opened, no failure counted, no refresh token spent).
struct Minter {
    signer: Signer,
    access_lifetime: std::time::Duration,
    refresh_lifetime: i64,
}

impl Minter {
    fn load() -> Result<Self, Error> {
        Ok(Self {
            signer: signer()?,
            access_lifetime: std::time::Duration::from_secs(
                lifetime("access_token_lifetime_secs")?.unsigned_abs(),
            ),
            refresh_lifetime: lifetime("refresh_token_lifetime_secs")?,
        })
    }

    /// A new access + refresh pair in session `family_id`, SimpleJWT's shape.
    fn pair(
        &self,
        db: &Connection,
        user: &users::User,
        family_id: &str,
        now: i64,
    ) -> Result<serde_json::Value, Error> {
        let access = self
            .signer
            .access_token(&user.caller(), family_id, self.access_lifetime)?;
        let refresh = sessions::issue(db, family_id, now, self.refresh_lifetime)?;
        Ok(json!({ "access": access, "refresh": refresh }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    username: String,
    password: String,
}

/// `POST /api/auth/login/` `{username, password}` -> `{access, refresh, user}`.
fn login(request: &Request) -> Result<Response, Error> {
    let credentials: Credentials = kit::body::json(request)?;
    // No account has a longer name or password: refused before anything is
    // stored or hashed, so a huge body costs neither disk nor CPU.
    if credentials.username.chars().count() > password::MAX_USERNAME_CHARS
        || credentials.password.chars().count() > password::MAX_PASSWORD_CHARS
    {
        return Err(Error::Unauthorized(BAD_CREDENTIALS.into()));
    }
    let minter = Minter::load()?;
    let now = now();
    let db = SERVICE.database()?;
    let keys = throttle::Keys::login(&password::username_key(&credentials.username), request);
    let attempt = throttle::take(&db, &keys, now)?;
    users::ensure_admin(
        &db,
        &variable("admin_username")?,
        &variable("admin_password")?,
    )?;
    let user = match users::for_login(&db, &credentials.username)? {
        Some((user, hash)) => {
            let matches = password::verify(&credentials.password, &hash);
            (matches && user.is_active).then_some(user)
        }
        None => {
            password::waste_equal_time(&credentials.password);
            None
        }
    };
    let Some(user) = user else {
        return Err(Error::Unauthorized(BAD_CREDENTIALS.into()));
    };
    throttle::succeeded(&db, &keys, attempt, now)?;
    users::touch_last_login(&db, user.id)?;
    let family_id = sessions::open_family(&db, user.id, now)?;
    let mut body = minter.pair(&db, &user, &family_id, now)?;
    body["user"] = user.to_json();
    Ok(json_response(200, &body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshToken {
    refresh: String,
}

/// `POST /api/auth/refresh/` `{refresh}` -> a new `{access, refresh}`; the
/// presented token stops working, and presenting it again ends the session.
fn refresh(request: &Request) -> Result<Response, Error> {
    let presented: RefreshToken = kit::body::json(request)?;
    let minter = Minter::load()?;
    let now = now();
    let db = SERVICE.database()?;
    let rotated = sessions::rotate(&db, &presented.refresh, now)?
        .map_err(|_| Error::Unauthorized(BAD_REFRESH.into()))?;
    let user = users::by_id(&db, rotated.user_id)?
        .filter(|user| user.is_active)
        .ok_or_else(|| Error::Unauthorized(BAD_REFRESH.into()))?;
    let body = minter.pair(&db, &user, &rotated.family_id, now)?;
    Ok(json_response(200, &body))
}

/// `POST /api/auth/logout/` `{refresh}`: ends that session (its family).
fn logout(request: &Request) -> Result<Response, Error> {
    let presented: RefreshToken = kit::body::json(request)?;
    let db = SERVICE.database()?;
    if !sessions::revoke_family_of(&db, &presented.refresh, now())? {
        return Err(Error::Unauthorized(BAD_REFRESH.into()));
    }
    Ok(Response::builder().status(204).build())
}

/// `GET /api/auth/me/`: the caller as the database knows them now.
fn me(call: &Call) -> Result<Response, Error> {
    let caller = call.caller()?;
    let db = call.database()?;
    let user = users::by_id(&db, caller.user_id)?
        .filter(|user| user.is_active)
        .ok_or_else(|| Error::Unauthorized("Jeton invalide ou expiré.".into()))?;
    Ok(json_response(200, &user.to_json()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    old_password: String,
    new_password: String,
}

/// `POST /api/auth/password/` `{old_password, new_password}`: changes the
/// caller's own password and ends their other sessions.
fn change_password(call: &Call) -> Result<Response, Error> {
    let (request, session) = (call.request, call.session()?);
    let change: PasswordChange = kit::body::json(request)?;
    let db = call.database()?;
    let current = users::for_login(&db, &session.caller.username)?
        .filter(|(user, _)| user.id == session.caller.user_id && user.is_active);
    let Some((user, hash)) = current else {
        return Err(Error::Unauthorized("Jeton invalide ou expiré.".into()));
    };
    // Guessing the current password with a stolen access token is
    // throttled as a login is.
    let keys = throttle::Keys::password_check(user.id, request);
    let attempt = throttle::take(&db, &keys, now())?;
    if change.old_password.chars().count() > password::MAX_PASSWORD_CHARS
        || !password::verify(&change.old_password, &hash)
    {
        return Err(Error::field(
            "old_password",
            "Mot de passe actuel incorrect.",
        ));
    }
    throttle::succeeded(&db, &keys, attempt, now())?;
    password::check_password(&change.new_password).map_err(|_| {
        Error::field(
            "new_password",
            format!(
                "Le mot de passe doit contenir entre {} et {} caractères.",
                password::MIN_PASSWORD_CHARS,
                password::MAX_PASSWORD_CHARS
            ),
        )
    })?;
    if !users::set_password(&db, &user, &password::hash(&change.new_password)?)? {
        return Err(Error::Unauthorized("Jeton invalide ou expiré.".into()));
    }
    sessions::revoke_all(&db, user.id, Some(&session.id), now())?;
    Ok(json_response(
        200,
        &json!({ "detail": "Mot de passe modifié." }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lifetime_is_a_positive_number_of_seconds() {
        assert_eq!(parse_lifetime("x", " 604800\n").ok(), Some(604_800));
        for bad in ["", "0", "-5", "7d"] {
            assert_eq!(
                parse_lifetime("x", bad).map_err(|e| e.status()),
                Err(500),
                "{bad}"
            );
        }
    }
}
