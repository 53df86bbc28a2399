//! The auth service end to end: login, sessions, users, roles, lockout, and
//! `kit::auth`'s token check (through `GET /api/auth/me/`).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_simple::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app};

fn access(tokens: &Value) -> &str {
    tokens["access"].as_str().expect("an access token")
}

fn refresh_token(tokens: &Value) -> &str {
    tokens["refresh"].as_str().expect("a refresh token")
}

fn refresh(app: &TestApp, token: &str) -> Reply {
    app.json(
        "POST",
        "/api/auth/refresh/",
        None,
        &json!({ "refresh": token }),
    )
}

fn me(app: &TestApp, token: &str) -> Reply {
    app.call("GET", "/api/auth/me/", Some(token), None)
}

/// A 4xx problem JSON with a `detail`.
fn assert_problem(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert!(reply.json()["detail"].is_string(), "{}", reply.body);
}

fn create_user(app: &TestApp, admin: &str, username: &str, role: &str) -> Value {
    let reply = app.json(
        "POST",
        "/api/auth/users/",
        Some(admin),
        &json!({ "username": username, "password": format!("{username}-password"), "role": role }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

#[test]
fn login_returns_a_token_pair_and_the_user_and_me_reads_it() {
    let app = spawn_app();
    let tokens = app.login(&app.secrets.admin_username, &app.secrets.admin_password);
    assert_eq!(tokens["user"]["username"], "admin");
    assert_eq!(tokens["user"]["role"], "admin");
    assert_eq!(tokens["user"]["role_label"], "administrateur");
    assert!(tokens["user"].get("password_hash").is_none());
    // The access token is a JWT with our claims; the refresh token is opaque.
    assert_eq!(access(&tokens).split('.').count(), 3);
    assert_eq!(refresh_token(&tokens).split('.').count(), 1);
    for path in ["/api/auth/me/", "/api/auth/me"] {
        let reply = app.call("GET", path, Some(access(&tokens)), None);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(reply.json()["username"], "admin");
    }
    // Usernames are case-insensitive.
    app.login("ADMIN", &app.secrets.admin_password);
}

#[test]
fn a_bad_password_and_an_unknown_user_get_the_same_401() {
    let app = spawn_app();
    let wrong = app.json(
        "POST",
        "/api/auth/login/",
        None,
        &json!({ "username": "admin", "password": "not-the-password" }),
    );
    let unknown = app.json(
        "POST",
        "/api/auth/login",
        None,
        &json!({ "username": "nobody", "password": "not-the-password" }),
    );
    assert_problem(&wrong, 401);
    assert_problem(&unknown, 401);
    assert_eq!(wrong.json(), unknown.json());
    assert!(wrong.header("www-authenticate").is_some());
}

#[test]
fn refresh_rotates_and_a_replayed_token_revokes_the_whole_session() {
    let app = spawn_app();
    let first = app.login(&app.secrets.admin_username, &app.secrets.admin_password);
    let second = refresh(&app, refresh_token(&first));
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.json();
    assert_ne!(refresh_token(&second), refresh_token(&first));
    assert_eq!(me(&app, access(&second)).status, 200);

    // The rotated token is dead, and replaying it ends the session...
    assert_problem(&refresh(&app, refresh_token(&first)), 401);
    // ...so its successor, which the thief may hold, is dead too.
    assert_problem(&refresh(&app, refresh_token(&second)), 401);
    assert_problem(&refresh(&app, "made-up"), 401);
}

#[test]
fn logout_ends_that_session_only() {
    let app = spawn_app();
    let (name, password) = (&app.secrets.admin_username, &app.secrets.admin_password);
    let kept = app.login(name, password);
    let ended = app.login(name, password);
    let reply = app.json(
        "POST",
        "/api/auth/logout/",
        None,
        &json!({ "refresh": refresh_token(&ended) }),
    );
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_problem(&refresh(&app, refresh_token(&ended)), 401);
    assert_eq!(refresh(&app, refresh_token(&kept)).status, 200);
}

#[test]
fn an_admin_creates_users_changes_their_role_and_lists_them() {
    let app = spawn_app();
    let admin = app.admin_token();
    let bob = create_user(&app, &admin, "bob", "viewer");
    assert_eq!(bob["role"], "viewer");
    assert_eq!(bob["is_active"], true);
    let path = format!("/api/auth/users/{}/", bob["id"]);
    let changed = app.json("PATCH", &path, Some(&admin), &json!({ "role": "manager" }));
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["role_label"], "gestionnaire");
    // The role travels in the next tokens.
    let tokens = app.login("bob", "bob-password");
    assert_eq!(tokens["user"]["role"], "manager");

    // Case-insensitive uniqueness.
    let duplicate = app.json(
        "POST",
        "/api/auth/users/",
        Some(&admin),
        &json!({ "username": "BOB", "password": "0123456789" }),
    );
    assert_problem(&duplicate, 409);
    let short = app.json(
        "POST",
        "/api/auth/users/",
        Some(&admin),
        &json!({ "username": "carol", "password": "short" }),
    );
    assert_problem(&short, 400);
    assert!(short.json()["password"].is_array(), "{}", short.body);

    for name in ["carol", "dave", "erin"] {
        create_user(&app, &admin, name, "operator");
    }
    let page = app.call(
        "GET",
        "/api/auth/users/?page_size=2&ordering=-username",
        Some(&admin),
        None,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let page = page.json();
    assert_eq!(page["count"], 5);
    assert_eq!(page["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["results"][0]["username"], "erin");
    assert!(page["previous"].is_null());
    assert!(
        page["next"]
            .as_str()
            .is_some_and(|next| next.contains("page=2")),
        "{page}"
    );
    let operators = app.call(
        "GET",
        "/api/auth/users/?role=operator&search=AR",
        Some(&admin),
        None,
    );
    assert_eq!(operators.json()["count"], 1, "{}", operators.body);
    assert_eq!(
        app.call("GET", "/api/auth/users/999/", Some(&admin), None)
            .status,
        404
    );
}

#[test]
fn a_non_admin_cannot_manage_users_nor_raise_their_own_role() {
    let app = spawn_app();
    let admin = app.admin_token();
    let eve = create_user(&app, &admin, "eve", "operator");
    let eve_token = access(&app.login("eve", "eve-password")).to_owned();
    let own = format!("/api/auth/users/{}/", eve["id"]);

    assert_problem(
        &app.call("GET", "/api/auth/users/", Some(&eve_token), None),
        403,
    );
    let viewer = app.user_token("victor", "viewer");
    assert_problem(
        &app.call("GET", "/api/auth/users/", Some(&viewer), None),
        403,
    );
    assert_problem(
        &app.json("PATCH", &own, Some(&eve_token), &json!({ "role": "admin" })),
        403,
    );
    assert_problem(
        &app.json(
            "POST",
            "/api/auth/users/",
            Some(&eve_token),
            &json!({ "username": "mallory", "password": "0123456789", "role": "admin" }),
        ),
        403,
    );
    // Mass assignment through the own-password route is refused, not ignored.
    let sneaky = app.json(
        "POST",
        "/api/auth/password/",
        Some(&eve_token),
        &json!({ "old_password": "eve-password", "new_password": "eve-password-2", "role": "admin" }),
    );
    assert_problem(&sneaky, 400);
    assert_eq!(me(&app, &eve_token).json()["role"], "operator");
    // An admin cannot demote or deactivate themselves (no admin-less system).
    let admin_id = me(&app, &admin).json()["id"].clone();
    let self_path = format!("/api/auth/users/{admin_id}/");
    assert_problem(
        &app.json(
            "PATCH",
            &self_path,
            Some(&admin),
            &json!({ "role": "viewer" }),
        ),
        403,
    );
    assert_problem(&app.call("DELETE", &self_path, Some(&admin), None), 403);
}

#[test]
fn five_failures_lock_the_login_with_a_429_and_retry_after() {
    let app = spawn_app();
    let attempt = |password: &str| {
        app.json(
            "POST",
            "/api/auth/login/",
            None,
            &json!({ "username": "admin", "password": password }),
        )
    };
    for _ in 0..5 {
        assert_problem(&attempt("wrong-password"), 401);
    }
    // Even the right password waits now: the check comes first.
    let locked = attempt(&app.secrets.admin_password);
    assert_problem(&locked, 429);
    let retry_after: u64 = locked
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
}

#[test]
fn a_deactivated_user_loses_refresh_and_login_at_once() {
    let app = spawn_app();
    let admin = app.admin_token();
    let zoe = create_user(&app, &admin, "zoe", "viewer");
    let tokens = app.login("zoe", "zoe-password");
    let reply = app.call(
        "DELETE",
        &format!("/api/auth/users/{}/", zoe["id"]),
        Some(&admin),
        None,
    );
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_problem(&refresh(&app, refresh_token(&tokens)), 401);
    assert_problem(&me(&app, access(&tokens)), 401);
    let login = app.json(
        "POST",
        "/api/auth/login/",
        None,
        &json!({ "username": "zoe", "password": "zoe-password" }),
    );
    assert_problem(&login, 401);
}

#[test]
fn changing_ones_password_ends_the_other_sessions() {
    let app = spawn_app();
    let admin = app.admin_token();
    create_user(&app, &admin, "yann", "operator");
    let here = app.login("yann", "yann-password");
    let elsewhere = app.login("yann", "yann-password");
    let change = |old: &str, new: &str| {
        app.json(
            "POST",
            "/api/auth/password/",
            Some(access(&here)),
            &json!({ "old_password": old, "new_password": new }),
        )
    };
    let wrong_old = change("not-my-password", "a-new-password");
    assert_problem(&wrong_old, 400);
    assert!(wrong_old.json()["old_password"].is_array());
    assert_problem(&change("yann-password", "short"), 400);
    let changed = change("yann-password", "a-new-password");
    assert_eq!(changed.status, 200, "{}", changed.body);

    assert_eq!(refresh(&app, refresh_token(&here)).status, 200);
    assert_problem(&refresh(&app, refresh_token(&elsewhere)), 401);
    app.login("yann", "a-new-password");
    let old = app.json(
        "POST",
        "/api/auth/login/",
        None,
        &json!({ "username": "yann", "password": "yann-password" }),
    );
    assert_problem(&old, 401);
}

/// Signs `claims` the way auth does, with `key_pair` under `kid`.
fn sign(key_pair: &Ed25519KeyPair, kid: &str, claims: JWTClaims<Value>) -> String {
    Ed25519KeyPair::from_bytes(&key_pair.to_bytes())
        .expect("a key pair")
        .with_key_id(kid)
        .sign(claims)
        .expect("signing")
}

fn claims(valid_for: Duration) -> JWTClaims<Value> {
    Claims::with_custom_claims(
        json!({ "role": "admin", "username": "admin", "sid": "x" }),
        valid_for,
    )
    .with_issuer("gestion-de-stock")
    .with_audience("gestion-de-stock-api")
    .with_subject(1)
}

#[test]
fn the_token_check_refuses_every_kind_of_bad_token() {
    let app = spawn_app();
    // A user must exist for a valid token to mean anything.
    let good = app.admin_token();
    assert_eq!(me(&app, &good).status, 200);

    let (kid, encoded) = app
        .secrets
        .jwt_private_key()
        .split_once(':')
        .expect("kid:key");
    let ours = Ed25519KeyPair::from_bytes(&STANDARD.decode(encoded).expect("base64"))
        .expect("our key pair");
    let theirs = Ed25519KeyPair::generate();
    let mut expired = claims(Duration::from_mins(15));
    let long_ago = Clock::now_since_epoch() - Duration::from_hours(1);
    expired.issued_at = Some(long_ago);
    expired.invalid_before = Some(long_ago);
    expired.expires_at = Some(long_ago + Duration::from_mins(15));
    let mut future = claims(Duration::from_mins(15));
    let later = Clock::now_since_epoch() + Duration::from_hours(1);
    future.invalid_before = Some(later);
    let wrong_audience = Claims::with_custom_claims(
        json!({ "role": "admin", "username": "admin", "sid": "x" }),
        Duration::from_mins(15),
    )
    .with_issuer("gestion-de-stock")
    .with_audience("another-api")
    .with_subject(1);
    let mut wrong_issuer = claims(Duration::from_mins(15));
    wrong_issuer.issuer = Some("someone".into());
    let hs256 = HS256Key::from_bytes(&ours.public_key().to_bytes())
        .with_key_id(kid)
        .authenticate(claims(Duration::from_mins(15)))
        .expect("hmac");
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": kid }).to_string()),
        good.split('.').nth(1).expect("a payload")
    );
    let mut tampered: Vec<String> = good.split('.').map(str::to_owned).collect();
    tampered[1] = URL_SAFE_NO_PAD.encode(
        json!({ "sub": "1", "role": "admin", "username": "x", "sid": "x",
                "iss": "gestion-de-stock", "aud": "gestion-de-stock-api", "exp": 4_000_000_000u64 })
        .to_string(),
    );

    let bad = [
        ("expired", sign(&ours, kid, expired)),
        ("not yet valid", sign(&ours, kid, future)),
        ("wrong audience", sign(&ours, kid, wrong_audience)),
        ("wrong issuer", sign(&ours, kid, wrong_issuer)),
        (
            "another key, our kid",
            sign(&theirs, kid, claims(Duration::from_mins(15))),
        ),
        (
            "unknown kid",
            sign(&ours, "other-kid", claims(Duration::from_mins(15))),
        ),
        ("hs256 with the public key", hs256),
        ("alg none", none),
        ("tampered payload", tampered.join(".")),
        ("garbage", "garbage".to_owned()),
    ];
    // The one token check, at every service.
    let protected = [
        "/api/auth/me/",
        "/api/pieces/",
        "/api/stock/",
        "/api/stock/movements/",
        "/api/notifications/",
        "/api/notifications/unread-count/",
    ];
    for path in protected {
        let reply = app.call("GET", path, Some(&good), None);
        assert_eq!(
            reply.status, 200,
            "{path} with a good token: {}",
            reply.body
        );
        for (what, token) in &bad {
            let reply = app.call("GET", path, Some(token), None);
            assert_problem(&reply, 401);
            assert_eq!(
                reply.json()["detail"],
                "Jeton invalide ou expiré.",
                "{path}: {what}"
            );
            assert!(
                reply
                    .header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer")),
                "{path}: {what}"
            );
        }
        let no_header = app.get(path);
        assert_problem(&no_header, 401);
    }
}

#[test]
fn jwks_serves_the_public_key_the_tokens_are_signed_with() {
    let app = spawn_app();
    let reply = app.get("/api/auth/jwks.json");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let jwks = reply.json();
    let kid = app
        .secrets
        .jwt_private_key()
        .split_once(':')
        .expect("kid:key")
        .0;
    assert_eq!(jwks["keys"][0]["kid"], kid);
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
}

#[test]
fn bad_input_is_a_4xx_with_a_detail_never_a_5xx() {
    let app = spawn_app();
    let login = "/api/auth/login/";
    let cases: [(Option<(&str, String)>, u16); 7] = [
        (Some(("application/json", "{".into())), 400),
        (Some(("application/json", "[]".into())), 400),
        (Some(("application/json", "".into())), 400),
        (
            Some(("application/json", r#"{"username": "admin"}"#.into())),
            400,
        ),
        (
            Some((
                "application/json",
                r#"{"username": 1, "password": 2}"#.into(),
            )),
            400,
        ),
        (
            Some(("text/plain", r#"{"username": "a", "password": "b"}"#.into())),
            415,
        ),
        (None, 415),
    ];
    for (body, status) in cases {
        let reply = app.call("POST", login, None, body.clone());
        assert_problem(&reply, status);
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{body:?}"
        );
    }
    let get = app.get(login);
    assert_problem(&get, 405);
    assert_eq!(get.header("allow"), Some("POST"));
    let admin = app.admin_token();
    for (method, path, body) in [
        (
            "PATCH",
            "/api/auth/users/1/",
            json!({ "role": "superuser" }),
        ),
        ("PATCH", "/api/auth/users/1/", json!({ "is_active": "no" })),
        ("PATCH", "/api/auth/users/1/", json!({ "username": "root" })),
        (
            "POST",
            "/api/auth/users/",
            json!({ "username": "a b", "password": "0123456789" }),
        ),
        ("POST", "/api/auth/refresh/", json!({ "refresh": 5 })),
    ] {
        let reply = app.json(method, path, Some(&admin), &body);
        assert_problem(&reply, 400);
    }
    for path in ["/api/auth/users/abc/", "/api/auth/nothing/"] {
        assert_problem(&app.call("GET", path, Some(&admin), None), 404);
    }
    let bad_page = app.call("GET", "/api/auth/users/?page=0", Some(&admin), None);
    assert_problem(&bad_page, 400);
    let bad_order = app.call(
        "GET",
        "/api/auth/users/?ordering=password_hash",
        Some(&admin),
        None,
    );
    assert_problem(&bad_order, 400);
}
