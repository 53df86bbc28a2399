//! The role × route matrix of `docs/ROLES.md`, tried with every role: the
//! documentation and the test are the same table.

use serde_json::json;

use crate::helpers::spawn_app;

const TABLE: &str = include_str!("../../../docs/ROLES.md");
const ROLES: [&str; 4] = ["viewer", "operator", "manager", "admin"];

struct Row<'a> {
    method: &'a str,
    path: &'a str,
    /// `None`: public.
    minimum: Option<usize>,
}

fn rows() -> Vec<Row<'static>> {
    let rows: Vec<Row> = TABLE
        .lines()
        .filter(|line| line.starts_with("| ") && line.contains('`'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let minimum = match cells[2] {
                "public" => None,
                role => Some(
                    ROLES
                        .iter()
                        .position(|r| *r == role)
                        .unwrap_or_else(|| panic!("unknown role in `{line}`")),
                ),
            };
            Row {
                method: cells[0],
                path: cells[1].trim_matches('`'),
                minimum,
            }
        })
        .collect();
    assert!(rows.len() > 30, "docs/ROLES.md lists every route");
    rows
}

#[test]
fn every_route_admits_its_roles_and_refuses_the_others() {
    let app = spawn_app();
    let team = app.team();
    let admin = team.admin.clone();
    let tokens: Vec<String> = team
        .by_role()
        .iter()
        .map(|(_, token)| token.to_string())
        .collect();
    let piece = app
        .json(
            "POST",
            "/api/pieces/",
            Some(&admin),
            &json!({"reference": "MAT-1", "name": "Matrice"}),
        )
        .json()["id"]
        .to_string();
    let movement = app
        .json(
            "POST",
            "/api/stock/movement/",
            Some(&admin),
            &json!({"piece_id": piece.parse::<i64>().unwrap(), "type": "IN", "quantity": 5}),
        )
        .json()["id"]
        .to_string();
    let user = app
        .json(
            "POST",
            "/api/auth/users/",
            Some(&admin),
            &json!({"username": "cible", "password": "cible-password", "role": "viewer"}),
        )
        .json()["id"]
        .to_string();

    let location = app
        .json(
            "POST",
            "/api/stock/locations/",
            Some(&admin),
            &json!({"code": "BAC-1", "name": "Bac 1"}),
        )
        .json()["id"]
        .to_string();
    let count = app
        .json(
            "POST",
            "/api/stock/counts/",
            Some(&admin),
            &json!({"location_id": location.parse::<i64>().unwrap()}),
        )
        .json()["id"]
        .to_string();

    let supplier = app
        .json(
            "POST",
            "/api/purchasing/suppliers/",
            Some(&admin),
            &json!({"name": "Fournisseur"}),
        )
        .json()["id"]
        .to_string();
    let offer = app
        .json(
            "POST",
            "/api/purchasing/offers/",
            Some(&admin),
            &json!({"supplier_id": supplier.parse::<i64>().unwrap(),
                    "piece_id": piece.parse::<i64>().unwrap(), "unit_price_cents": 100}),
        )
        .json()["id"]
        .to_string();
    let order = app
        .json(
            "POST",
            "/api/purchasing/orders/",
            Some(&admin),
            &json!({"supplier_id": supplier.parse::<i64>().unwrap(),
                    "lines": [{"piece_id": piece.parse::<i64>().unwrap(), "quantity": 3}]}),
        )
        .json()["id"]
        .to_string();

    let webhook = app
        .json(
            "POST",
            "/api/notifications/webhooks/",
            Some(&admin),
            &json!({"url": "https://hooks.example.invalid/", "events": ["low_stock"]}),
        )
        .json()["id"]
        .to_string();

    for row in rows() {
        let path = row
            .path
            .replace("{piece}", &piece)
            .replace("{movement}", &movement)
            .replace("{user}", &user)
            .replace("{location}", &location)
            .replace("{count}", &count)
            .replace("{supplier}", &supplier)
            .replace("{offer}", &offer)
            .replace("{order}", &order)
            .replace("{webhook}", &webhook);
        let body = matches!(row.method, "POST" | "PUT" | "PATCH")
            .then(|| ("application/json", "{}".to_owned()));
        let anonymous = app.call(row.method, &path, None, body.clone());
        match row.minimum {
            None => assert!(
                !matches!(anonymous.status, 401 | 403) && anonymous.status < 500,
                "{} {path} anonymous: {}",
                row.method,
                anonymous.status
            ),
            Some(_) => assert_eq!(anonymous.status, 401, "{} {path} anonymous", row.method),
        }
        for (rank, token) in tokens.iter().enumerate() {
            let reply = app.call(row.method, &path, Some(token), body.clone());
            let allowed = row.minimum.is_none_or(|minimum| rank >= minimum);
            if allowed {
                assert!(
                    !matches!(reply.status, 401 | 403) && reply.status < 500,
                    "{} {path} as {} should pass the role check: {} {}",
                    row.method,
                    ROLES[rank],
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status, 403,
                    "{} {path} as {}: {}",
                    row.method, ROLES[rank], reply.body
                );
            }
        }
    }
}
