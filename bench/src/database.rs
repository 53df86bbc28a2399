//! A service's SQLite file as the host hands it to a component: pooled
//! connections opened with the host's settings (this crate compiles
//! `host/src/sqlite_settings.rs`), writes that take
//! turns as the host's do, and on every open the
//! schema check `kit::migrate::run` makes (`Service::database`).
//!
//! The baseline runs on the very files the host's components created and
//! migrated, so the schema, its indexes and its triggers are theirs; the
//! check is the runner's fast path: the header's `user_version` counts
//! every migration the service knows of.

use std::ops::Deref;
use std::sync::Mutex;

use crate::error::Error;
use crate::sqlite_settings::{self, MAX_IDLE};

const READ_COMPLETE: &str = "PRAGMA user_version";

pub struct Database {
    path: String,
    /// The versions the service's migration list holds (`schema.rs`).
    migrations: i64,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// The host's writer turn (`host/src/sqlite.rs`).
    writer: Mutex<()>,
}

impl Database {
    pub fn new(path: String, migrations: i64) -> Self {
        Self {
            path,
            migrations,
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(()),
        }
    }

    /// `Service::database()`: a connection, then the schema check.
    pub fn open(&self) -> Result<Connection<'_>, Error> {
        let connection = Connection {
            db: self,
            conn: Some(self.checkout()?),
        };
        let complete: i64 = connection
            .prepare_cached(READ_COMPLETE)?
            .query_row([], |row| row.get(0))?;
        if complete < self.migrations {
            eprintln!("{}: schema not migrated by the host", self.path);
            return Err(Error::Internal);
        }
        Ok(connection)
    }

    /// A raw connection with the host's settings (the movement loop).
    pub fn connect(path: &str) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(path)?;
        sqlite_settings::configure(&conn, true)?;
        Ok(conn)
    }

    fn checkout(&self) -> rusqlite::Result<rusqlite::Connection> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => Self::connect(&self.path),
        }
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// A checked-out connection, back in the pool when dropped.
pub struct Connection<'a> {
    db: &'a Database,
    conn: Option<rusqlite::Connection>,
}

impl Connection<'_> {
    /// Runs `write`, a statement that writes in autocommit mode, in this
    /// process's writer turn, as the host runs a component's writes.
    pub fn write<T>(&self, write: impl FnOnce(&rusqlite::Connection) -> T) -> T {
        let _turn = self.db.writer.lock().unwrap_or_else(|e| e.into_inner());
        write(self)
    }
}

impl Deref for Connection<'_> {
    type Target = rusqlite::Connection;

    fn deref(&self) -> &rusqlite::Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.db.give_back(conn);
        }
    }
}
