//! A component that turns each Spin capability into a route, so the host's
//! tests can drive it over HTTP: `/<action>?<argument>` under any base
//! route. Built by the tests themselves, for `wasm32-wasip1` (a core module
//! the host componentizes) and `wasm32-wasip2` (a component).

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::{sqlite, variables};

#[http_component]
async fn handle(req: Request) -> Response {
    let path_info = header(&req, "spin-path-info");
    let action = path_info.rsplit('/').next().unwrap_or_default().to_owned();
    let arg = decode(req.query());
    match action.as_str() {
        "sqlite" => sqlite_exec(&arg, &header(&req, "x-label")),
        "variable" => match variables::get(&arg) {
            Ok(value) => text(200, value),
            Err(e) => text(500, format!("{e:?}")),
        },
        "env" => text(200, std::env::var(&arg).unwrap_or_default()),
        "file" => match std::fs::read_to_string(&arg) {
            Ok(content) => text(200, content),
            Err(e) => text(404, e.to_string()),
        },
        "outbound" => outbound(&arg).await,
        "body-length" => text(200, req.body().len().to_string()),
        "trap" => panic!("probe asked to trap"),
        "busy" => loop {
            std::hint::spin_loop();
        },
        "sleep" => {
            let ms = arg.parse().unwrap_or(0);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            text(200, format!("slept {ms} ms"))
        }
        _ => json(serde_json::json!({
            "component": std::env::var("COMPONENT").unwrap_or_default(),
            "path": req.path(),
            "headers": spin_headers(&req),
        })),
    }
}

fn header(req: &Request, name: &str) -> String {
    req.header(name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn spin_headers(req: &Request) -> serde_json::Value {
    req.headers()
        .filter(|(name, _)| name.starts_with("spin-"))
        .map(|(name, value)| (name.to_owned(), value.as_str().unwrap_or_default().into()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Runs `sql` on the database named by `x-label`; answers the rows, or the
/// error variant's name so tests can assert Spin's error mapping.
fn sqlite_exec(sql: &str, label: &str) -> Response {
    let conn = match sqlite::Connection::open(label) {
        Ok(conn) => conn,
        Err(e) => return text(409, format!("{e:?}")),
    };
    match conn.execute(sql, &[]) {
        Ok(result) => {
            let rows: Vec<Vec<String>> = result
                .rows
                .iter()
                .map(|row| row.values.iter().map(|v| format!("{v:?}")).collect())
                .collect();
            json(serde_json::json!({ "columns": result.columns, "rows": rows }))
        }
        Err(e) => text(409, format!("{e:?}")),
    }
}

async fn outbound(url: &str) -> Response {
    let request = Request::new(Method::Get, url);
    match spin_sdk::http::send::<_, Response>(request).await {
        Ok(response) => text(
            200,
            format!(
                "{} {}",
                response.status(),
                String::from_utf8_lossy(response.body())
            ),
        ),
        Err(e) => text(502, format!("{e:?}")),
    }
}

/// Percent-decodes a query string used as one argument (`%20`, `+`).
fn decode(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(body)
        .build()
}

fn json(value: serde_json::Value) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(value.to_string())
        .build()
}
