//! The security review's findings (issue 17), each shown against the real
//! host: what an attacker tried, and that it no longer works.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::helpers::{
    Reply, TestApp, database_file, spawn_app, spawn_app_selecting_each_component,
};

fn login_from(app: &TestApp, client: &str, username: &str, password: &str) -> Reply {
    app.call_with_headers_and_body(
        "POST",
        "/api/auth/login/",
        // Straight from loopback, the host trusts `X-Forwarded-For` as it
        // trusts Traefik's: each value is another client.
        &[("x-forwarded-for", client)],
        (
            "application/json",
            json!({"username": username, "password": password}).to_string(),
        ),
    )
}

#[test]
fn a_demoted_or_deactivated_admin_loses_admin_powers_at_once() {
    let app = spawn_app();
    let admin = app.admin_token();
    let second = app.json(
        "POST",
        "/api/auth/users/",
        Some(&admin),
        &json!({"username": "adjointe", "password": "adjointe-password", "role": "admin"}),
    );
    assert_eq!(second.status, 201, "{}", second.body);
    let path = format!("/api/auth/users/{}/", second.json()["id"]);
    let token = app.login("adjointe", "adjointe-password")["access"]
        .as_str()
        .expect("a token")
        .to_owned();

    let demoted = app.json("PATCH", &path, Some(&admin), &json!({"role": "viewer"}));
    assert_eq!(demoted.status, 200, "{}", demoted.body);
    // Her token still says admin; the database does not.
    let restore = app.json(
        "PATCH",
        &path,
        Some(&token),
        &json!({"role": "admin", "is_active": true}),
    );
    assert_eq!(restore.status, 403, "{}", restore.body);
    let accomplice = app.json(
        "POST",
        "/api/auth/users/",
        Some(&token),
        &json!({"username": "complice", "password": "complice-password", "role": "admin"}),
    );
    assert_eq!(accomplice.status, 403, "{}", accomplice.body);
    assert_eq!(
        app.call("GET", "/api/auth/users/", Some(&token), None)
            .status,
        403
    );

    let promoted = app.json("PATCH", &path, Some(&admin), &json!({"role": "admin"}));
    assert_eq!(promoted.status, 200);
    assert_eq!(
        app.call("GET", "/api/auth/users/", Some(&token), None)
            .status,
        200
    );
    assert_eq!(app.call("DELETE", &path, Some(&admin), None).status, 204);
    assert_eq!(
        app.call("GET", "/api/auth/users/", Some(&token), None)
            .status,
        401,
        "deactivated: her session is closed"
    );

    // Nobody changes their own role or active flag, even to the same value.
    let own = format!(
        "/api/auth/users/{}/",
        app.login("admin", &app.secrets.admin_password)["user"]["id"]
    );
    for change in [json!({"role": "admin"}), json!({"is_active": true})] {
        let reply = app.json("PATCH", &own, Some(&admin), &change);
        assert_eq!(reply.status, 403, "{change}: {}", reply.body);
    }
}

#[test]
fn strangers_cannot_lock_anyone_else_out_of_login() {
    let app = spawn_app();
    let password = app.secrets.admin_password.clone();
    app.user_token("habitue", "viewer");
    assert_eq!(
        login_from(&app, "10.0.0.3", "habitue", "habitue-password").status,
        200
    );

    // Someone guesses admin's password from one address: that address waits…
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, "10.0.0.1", "admin", "wrong-password").status,
            401
        );
    }
    assert_eq!(login_from(&app, "10.0.0.1", "admin", &password).status, 429);
    // …and admin, from anywhere else, does not.
    assert_eq!(login_from(&app, "10.0.0.2", "admin", &password).status, 200);

    // Twenty failures on other names from the users' shared address (a
    // proxy, a NAT): a user still logs in from there.
    for n in 0..20 {
        let reply = login_from(&app, "10.0.0.3", &format!("inconnu-{n}"), "wrong-password");
        assert_eq!(reply.status, 401, "{n}: {}", reply.body);
    }
    assert_eq!(login_from(&app, "10.0.0.3", "admin", &password).status, 200);
    // Once the address has spent its budget on strangers, a name that has
    // never logged in from there waits, one that has does not.
    let mut refused = 0;
    for n in 20..60 {
        if login_from(&app, "10.0.0.3", &format!("inconnu-{n}"), "wrong-password").status == 429 {
            refused += 1;
        }
    }
    assert!(refused > 0, "the address's budget is bounded");
    assert_eq!(
        login_from(&app, "10.0.0.3", "nouvelle", "whatever-password").status,
        429
    );
    assert_eq!(
        login_from(&app, "10.0.0.3", "habitue", "habitue-password").status,
        200
    );
}

#[test]
fn parallel_guesses_cannot_slip_past_the_limit() {
    let app = spawn_app();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| login_from(&app, "10.0.0.9", "admin", "wrong-password").status))
            .collect();
        guesses
            .into_iter()
            .map(|guess| guess.join().expect("a guess"))
            .collect()
    });
    let checked = statuses.iter().filter(|status| **status == 401).count();
    assert_eq!(checked, 5, "{statuses:?}\n{}", app.log());
    assert!(
        statuses.iter().all(|status| matches!(status, 401 | 429)),
        "{statuses:?}\n{}",
        app.log()
    );
}

#[test]
fn a_huge_login_is_refused_before_anything_is_stored() {
    let app = spawn_app();
    // Just under the JSON body limit: the lengths are checked first.
    let name = "x".repeat(60 << 10);
    let reply = login_from(&app, "10.0.0.4", &name, "wrong-password");
    assert_eq!(reply.status, 401, "{}", reply.body);
    let reply = login_from(&app, "10.0.0.4", "admin", &"y".repeat(60 << 10));
    assert_eq!(reply.status, 401, "{}", reply.body);
    // Over it, the body is refused before it is parsed.
    let reply = login_from(&app, "10.0.0.4", &"x".repeat(1 << 20), "wrong-password");
    assert_eq!(reply.status, 413, "{}", reply.body);
    // An ordinary failure is stored, in a row of fixed size.
    assert_eq!(
        login_from(&app, "10.0.0.4", "admin", "wrong-password").status,
        401
    );
    let db =
        rusqlite::Connection::open(database_file(app.data_dir.path(), "auth")).expect("auth.db");
    let (rows, widest): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), MAX(length(pair) + length(client)) FROM login_attempts",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("the attempts");
    assert_eq!(rows, 1, "only the ordinary failure is counted");
    assert!(widest < 100, "{widest} bytes");
}

#[test]
fn guessing_the_current_password_is_throttled() {
    let app = spawn_app();
    let token = app.user_token("curieux", "viewer");
    let change = |old: &str| {
        app.json(
            "POST",
            "/api/auth/password/",
            Some(&token),
            &json!({"old_password": old, "new_password": "nouveau-mot-de-passe"}),
        )
        .status
    };
    for _ in 0..5 {
        assert_eq!(change("not-the-password"), 400);
    }
    assert_eq!(
        change("curieux-password"),
        429,
        "even the right one waits now"
    );
}

#[test]
fn exports_neutralise_formulas_and_an_export_imports_back_unchanged() {
    let app = spawn_app();
    let admin = app.admin_token();
    let formula = r#"=HYPERLINK("http://evil.example","clic")"#;
    let piece = app.json(
        "POST",
        "/api/pieces/",
        Some(&admin),
        &json!({"reference": "-M6", "name": formula, "description": "@SUM(A1)", "min_stock": 1}),
    );
    assert_eq!(piece.status, 201, "{}", piece.body);
    let export = app
        .call("GET", "/api/pieces/export.csv", Some(&admin), None)
        .body;
    let row = export.lines().nth(1).expect("a row");
    assert!(row.starts_with("'-M6,\"'=HYPERLINK("), "{row}");
    assert!(row.contains(",'@SUM(A1),"), "{row}");
    let import = app.call_with_headers_and_body(
        "POST",
        "/api/pieces/import/",
        &[("authorization", &format!("Bearer {admin}"))],
        ("text/csv", export.clone()),
    );
    assert_eq!(import.status, 200, "{}", import.body);
    assert_eq!(import.json()["unchanged"], 1, "{}", import.body);
    let again = app.call(
        "GET",
        &format!("/api/pieces/{}/", piece.json()["id"]),
        Some(&admin),
        None,
    );
    assert_eq!(again.json()["name"], formula);

    let id = piece.json()["id"].clone();
    for body in [
        json!({"piece_id": id, "type": "IN", "quantity": 3, "note": "+33 6 00 00 00 00"}),
        json!({"piece_id": id, "type": "OUT", "quantity": 1, "note": "=1+1"}),
    ] {
        assert_eq!(
            app.json("POST", "/api/stock/movement/", Some(&admin), &body)
                .status,
            201
        );
    }
    let ledger = app
        .call("GET", "/api/stock/movements/export.csv", Some(&admin), None)
        .body;
    let rows: Vec<&str> = ledger.lines().skip(1).collect();
    assert!(rows[0].contains(",'+33 6 00 00 00 00,"), "{ledger}");
    assert!(
        rows[1].contains(",-1,") && rows[1].contains(",'=1+1,"),
        "{ledger}"
    );
    assert!(
        rows[0].starts_with(|c: char| c.is_ascii_digit()),
        "{ledger}"
    );
}

#[test]
fn a_json_body_over_its_limit_is_413_and_writes_nothing() {
    let app = spawn_app();
    let token = app.admin_token();
    let piece = json!({"reference": "BIG-1", "name": "Gros", "description": "d".repeat(100 << 10)});
    let reply = app.call(
        "POST",
        "/api/pieces/",
        Some(&token),
        Some(("application/json", piece.to_string())),
    );
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("octets"),
        "{}",
        reply.body
    );
    let listed = app.call("GET", "/api/pieces/?search=BIG-1", Some(&token), None);
    assert_eq!(listed.json()["count"], 0, "{}", listed.body);
}

#[test]
fn an_empty_path_segment_reaches_no_internal_route() {
    let app = spawn_app();
    let secret = app.internal_secret();
    let header = [("x-internal-secret", secret.as_str())];
    for (method, path) in [
        ("GET", "/api/stock//internal/usage/1/"),
        ("POST", "/api/stock//internal/outbox/flush/"),
        ("POST", "/api/notifications//internal/purge/"),
        ("GET", "/api/pieces//internal/pieces/1/"),
        ("GET", "/api/stock/internal//usage/1/"),
    ] {
        let reply = app.call_with_headers(method, path, &header);
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
    }
    // The same routes, spelled right, on a host of the split stack.
    let split = spawn_app_selecting_each_component();
    let secret = split.internal_secret();
    let reply = split.call_with_headers(
        "GET",
        "/api/stock/internal/usage/1/",
        &[("x-internal-secret", &secret)],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[test]
fn databases_are_readable_by_their_owner_only() {
    let app = spawn_app();
    let _ = app.admin_token();
    for service in xtask::components::api_services().map(|s| s.name) {
        let file = database_file(app.data_dir.path(), service);
        assert!(file.exists(), "{}", file.display());
        for path in [file.clone(), file.with_extension("db-wal")]
            .into_iter()
            .filter(|path| path.exists())
        {
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{} is {:o}", path.display(), mode & 0o777);
        }
    }
}
