//! How the host sets up a SQLite connection for a component. The bench's
//! native baseline (`bench/src/database.rs`) compiles this very file, so
//! that it measures with the host's settings; it needs rusqlite alone.

use std::time::Duration;

/// How long a statement waits for another writer before failing with
/// `database is locked`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per database; more are closed when returned.
pub const MAX_IDLE: usize = 32;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// A new connection's settings. A file gets WAL mode and `synchronous=FULL`
/// (an acknowledged write survives a power loss) and every connection a busy
/// timeout, so that several hosts can share one file. A component reaches
/// only the database it was granted: ATTACH would let it open any file the
/// host can read.
pub fn configure(conn: &rusqlite::Connection, file: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if file {
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}
