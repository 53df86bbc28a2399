//! The native baseline: the routes `cargo xtask bench` drives, doing per
//! request what the `pieces` and `stock` components do on the host, as a
//! plain axum + rusqlite server, so the bench can set the host's figures
//! against it in the same run.
//!
//! ```text
//! baseline serve --listen 127.0.0.1:3990 --pieces-db pieces.db --stock-db stock.db
//! baseline raw-movements --db stock.db --piece 1 --connections 10 --seconds 5
//! baseline fill-history --db stock.db --pieces 100000 --rows 1000000
//! ```
//!
//! `serve` reads the same variables the components get, from the same
//! environment: `SPIN_VARIABLE_JWT_PUBLIC_KEYS`, `SPIN_VARIABLE_INTERNAL_SECRET`
//! and `SPIN_VARIABLE_PIECES_URL` (where stock reaches pieces). It runs on
//! the SQLite files the host's components created and migrated, with the
//! host's connection settings.

mod auth;
mod client;
mod database;
mod error;
mod fill;
mod pieces;
mod raw;
mod stock;

// What the baseline shares with the code it stands beside, compiled from
// the same files so that the two cannot drift apart: the host's connection
// settings, and stock's order rules and statements (the baseline runs
// those of a movement).
#[path = "../../stock/src/order.rs"]
mod order;
#[path = "../../host/src/sqlite_settings.rs"]
mod sqlite_settings;
#[allow(dead_code)]
#[path = "../../stock/src/statements.rs"]
mod statements;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt;

use crate::database::Database;

/// Migrations of `pieces/src/schema.rs` and `stock/src/schema.rs`.
const PIECES_MIGRATIONS: i64 = 5;
const STOCK_MIGRATIONS: i64 = 8;

/// What every handler reads: the variables and the two databases.
pub struct App {
    pub jwt_public_keys: String,
    pub internal_secret: String,
    pub pieces_url: String,
    pub pieces: Database,
    pub stock: Database,
    pub client: client::Client,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .ok_or_else(|| format!("missing {name} VALUE"))
    };
    match args.first().map(String::as_str) {
        Some("serve") => {
            let variable = |name: &str| std::env::var(name).unwrap_or_default();
            let app = App {
                jwt_public_keys: variable("SPIN_VARIABLE_JWT_PUBLIC_KEYS"),
                internal_secret: variable("SPIN_VARIABLE_INTERNAL_SECRET"),
                pieces_url: variable("SPIN_VARIABLE_PIECES_URL"),
                pieces: Database::new(option("--pieces-db")?, PIECES_MIGRATIONS),
                stock: Database::new(option("--stock-db")?, STOCK_MIGRATIONS),
                client: client::Client::default(),
            };
            tokio::runtime::Runtime::new()?.block_on(serve(&option("--listen")?, app))
        }
        Some("raw-movements") => raw::run(&raw::Options {
            db: option("--db")?,
            piece: option("--piece")?.parse()?,
            connections: option("--connections")?.parse()?,
            seconds: option("--seconds")?.parse()?,
        }),
        Some("fill-history") => fill::run(&fill::Options {
            db: option("--db")?,
            pieces: option("--pieces")?.parse()?,
            rows: option("--rows")?.parse()?,
        }),
        _ => Err("usage: baseline serve --listen ADDR --pieces-db FILE --stock-db FILE\n       baseline raw-movements --db FILE --piece ID --connections N --seconds S\n       baseline fill-history --db FILE --pieces N --rows N".into()),
    }
}

async fn serve(listen: &str, app: App) -> Result<(), Box<dyn std::error::Error>> {
    let router = Router::new()
        .route("/api/pieces/{id}/", get(pieces::read))
        .route("/api/pieces/internal/pieces/{id}/", get(pieces::internal))
        .route("/api/stock/movement/", post(stock::record))
        .with_state(Arc::new(app));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("Serving http://{}", listener.local_addr()?);
    // As the host does: small answers leave at once.
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router).await?;
    Ok(())
}
