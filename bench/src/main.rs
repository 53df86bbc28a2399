//! The native baseline: what a service's health route does, as a plain
//! axum + rusqlite server, so `cargo xtask bench` can set the host's
//! figures against it in the same run.
//!
//! ```text
//! cargo run --release -p bench --bin baseline -- 127.0.0.1:3990 /tmp/baseline.db
//! ```
//!
//! Per request it runs the statements `kit`'s health check runs on the
//! host (the schema check, then `SELECT 1`) on a pooled connection opened
//! with the host's pragmas, and answers the same JSON.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

const SCHEMA_CHECK: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version INTEGER PRIMARY KEY, \
     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))";

struct Pool {
    path: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl Pool {
    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(conn)
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

async fn health(State(pool): State<Arc<Pool>>) -> impl IntoResponse {
    let result = tokio::task::spawn_blocking(move || {
        let conn = pool.connect()?;
        conn.prepare_cached(SCHEMA_CHECK)?.execute([])?;
        let mut versions = conn.prepare_cached("SELECT version FROM schema_version")?;
        let _applied: Vec<i64> = versions
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        drop(versions);
        conn.prepare_cached("SELECT 1")?
            .query_row([], |r| r.get::<_, i64>(0))?;
        pool.give_back(conn);
        Ok::<_, rusqlite::Error>(())
    })
    .await;
    let body = serde_json::json!({ "service": "baseline", "version": env!("CARGO_PKG_VERSION"), "database": "ok" });
    match result {
        Ok(Ok(())) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            String::new(),
        ),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3990".into());
    let path = args.next().unwrap_or_else(|| "baseline.db".into());
    let pool = Arc::new(Pool {
        path,
        idle: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/api/baseline/health/", get(health))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("Serving http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
