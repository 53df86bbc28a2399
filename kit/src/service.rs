use spin_sdk::sqlite::Connection;

use crate::Error;
use crate::migrate::{self, Migration};

/// What kit needs to know about a service; each component declares one const.
#[derive(Debug)]
pub struct Service {
    /// The component id in `spin.toml`, also the `service` field of health.
    pub name: &'static str,
    /// The crate version, `env!("CARGO_PKG_VERSION")` of the component.
    pub version: &'static str,
    /// The SQLite label the component opens; `spin.toml` must grant it.
    pub database: &'static str,
    /// The service's schema, in order.
    pub migrations: &'static [Migration],
    /// The OpenAPI document served on `{prefix}/openapi.json`.
    pub openapi: &'static str,
}

impl Service {
    /// Where Spin routes the service: `/api/<name>`.
    pub fn prefix(&self) -> String {
        format!("/api/{}", self.name)
    }

    /// Opens the service's own database and brings its schema up to date.
    ///
    /// Spin starts a fresh instance per request, so this runs per request;
    /// when nothing is pending it costs one no-op `CREATE TABLE IF NOT EXISTS`
    /// and one `SELECT` on `schema_version`.
    pub fn database(&self) -> Result<Connection, Error> {
        let connection = Connection::open(self.database)?;
        migrate::run(&connection, self.migrations)?;
        Ok(connection)
    }
}
