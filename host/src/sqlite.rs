//! `fermyon:spin/sqlite@2.0.0` on rusqlite.
//!
//! Each guest `open` checks out a connection of its own from the label's
//! pool and keeps it until the guest drops it, so a transaction a component
//! opens stays on one connection, as on Spin (a connection per `open`).
//! A connection that comes back mid-transaction (the guest trapped or
//! forgot to commit) is rolled back before anyone else gets it.
//!
//! Files are opened in WAL mode with `synchronous=FULL` (an acknowledged
//! write survives a power loss) and a busy timeout, so that several hosts can
//! share one database file.
//!
//! A read runs on the request's worker thread: in WAL mode it does not wait
//! for writers and never syncs, and most take microseconds. One still running after
//! [`INLINE_BUDGET`] is interrupted and run again inside `block_in_place`,
//! which hands this worker's other requests to another thread. Writes and
//! transaction control, which sync or may meet the busy timeout, always run
//! there. Handing the worker over costs two thread wake-ups: done for every
//! statement, it was a fifth of a GET's CPU (bench/README.md).
//!
//! Writers of one process take turns: a statement that writes in autocommit
//! mode first waits (asynchronously, in arrival order) for its database's
//! writer turn. SQLite's own busy handler polls with sleeps of up to 100 ms,
//! so under contention writers that arrive later overtake the ones asleep and
//! the tail latency reaches seconds; a queue hands the lock on at once.
//! Statements inside a guest's own transaction skip the queue, so a turn is
//! never awaited while holding SQLite's write lock (no lock-order deadlock);
//! other processes sharing the file still meet the busy timeout.
//!
//! A statement still running when its request's time is up is interrupted
//! (a progress handler checks the deadline), and the guest traps with
//! [`DeadlineExceeded`]: the 504 then means the work stopped, not that it
//! goes on holding the write lock and a CPU for nobody.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::metrics::METRICS;
use crate::sqlite_settings::{self, BUSY_TIMEOUT, MAX_IDLE};
use crate::state::State;

/// SQLite virtual-machine steps between two looks at the clock: a few
/// microseconds of work, so an overdue statement stops at once.
const CLOCK_CHECK_STEPS: i32 = 1000;

/// How long a read may hold the request's worker thread before it is
/// interrupted and run again where it blocks no other request. Reads that
/// take longer (reports, searches over many rows) pay this much twice.
const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// The trap of a guest whose statement ran past the request's deadline.
#[derive(Debug, thiserror::Error)]
#[error("SQLite statement interrupted at the request's deadline")]
pub struct DeadlineExceeded;

/// One configured label: where it lives, its idle connections and the turn
/// its writers wait for.
pub struct Database {
    label: String,
    location: Location,
    idle: Mutex<Vec<rusqlite::Connection>>,
    writer: tokio::sync::Mutex<()>,
}

enum Location {
    File(PathBuf),
    /// A named shared-cache in-memory database, alive while one connection
    /// to it is (the pool keeps one).
    Memory(String),
}

/// The databases a component may open: label to database. A label absent
/// from the map is `access-denied`; the value `None` is a grant whose label
/// is not configured (`no-such-database`).
pub type Grants = HashMap<String, Option<Arc<Database>>>;

impl Database {
    /// Opens (creating if needed) the database and checks it is usable, so
    /// that a bad path fails at start rather than on the first request.
    pub fn open(label: &str, path: Option<&Path>) -> anyhow::Result<Arc<Self>> {
        let location = match path {
            Some(path) => {
                create_private(path).map_err(|e| {
                    anyhow::anyhow!(
                        "sqlite database `{label}`: cannot create {}: {e}",
                        path.display()
                    )
                })?;
                Location::File(path.to_owned())
            }
            None => Location::Memory(format!("file:spin-host-{label}?mode=memory&cache=shared")),
        };
        let db = Arc::new(Self {
            label: label.to_owned(),
            location,
            idle: Mutex::new(Vec::new()),
            writer: tokio::sync::Mutex::new(()),
        });
        let first = db
            .connect()
            .map_err(|e| anyhow::anyhow!("sqlite database `{label}`: {e}"))?;
        db.give_back(first);
        Ok(db)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    fn connect(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = match &self.location {
            Location::File(path) => rusqlite::Connection::open(path)?,
            Location::Memory(uri) => rusqlite::Connection::open_with_flags(
                uri,
                rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )?,
        };
        sqlite_settings::configure(&conn, matches!(self.location, Location::File(_)))?;
        Ok(conn)
    }

    fn take_idle(&self) -> Option<rusqlite::Connection> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn checkout(&self) -> rusqlite::Result<rusqlite::Connection> {
        self.take_idle().map_or_else(|| self.connect(), Ok)
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        conn.progress_handler(0, None::<fn() -> bool>);
        if !conn.is_autocommit() {
            // Best effort: a failed rollback leaves a connection we drop.
            if conn.execute_batch("ROLLBACK").is_err() {
                return;
            }
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// This process's writer turn, awaited at most the busy timeout: past
    /// it the statement runs anyway and SQLite's busy handler decides, so a
    /// queue never fails a statement that the handler alone would have let
    /// through.
    async fn writer_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let started = Instant::now();
        let turn = tokio::time::timeout(BUSY_TIMEOUT, self.writer.lock())
            .await
            .ok();
        METRICS.writer_waited(&self.label, started.elapsed());
        turn
    }

    /// Runs a batch of SQL (`--sqlite` at start).
    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        let conn = self.checkout()?;
        let result = conn.execute_batch(sql);
        self.give_back(conn);
        result
    }
}

/// A guest's open connection: its own rusqlite connection until dropped.
pub struct GuestConnection {
    db: Arc<Database>,
    /// Always `Some` until `Drop` hands it back to the pool.
    conn: Option<rusqlite::Connection>,
    clock: Arc<StatementClock>,
}

/// What the connection's progress handler stops a statement for: the
/// request's deadline, or the end of an inline read's budget.
struct StatementClock {
    deadline: Instant,
    started: Instant,
    /// Nanoseconds after `started` at which the inline read running now
    /// yields; `u64::MAX` while none runs.
    inline_until: AtomicU64,
}

impl StatementClock {
    fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            started: Instant::now(),
            inline_until: AtomicU64::new(u64::MAX),
        }
    }

    fn stops(&self) -> bool {
        let now = Instant::now();
        now >= self.deadline || self.nanos(now) >= self.inline_until.load(Ordering::Relaxed)
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.started).as_nanos()).unwrap_or(u64::MAX)
    }

    fn overdue(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// How a statement runs.
#[derive(Debug, PartialEq)]
enum Way {
    /// On the request's worker thread, within [`INLINE_BUDGET`].
    Inline,
    /// After this process's writer turn, off the worker thread.
    AfterTurn,
    /// Off the worker thread.
    Blocking,
}

impl GuestConnection {
    fn conn(&self) -> Result<&rusqlite::Connection, Error> {
        self.conn.as_ref().ok_or(Error::InvalidConnection)
    }

    /// Runs a read on this thread; `None` if it ran out of budget.
    fn run_inline(
        &self,
        conn: &rusqlite::Connection,
        sql: &str,
        parameters: &[Value],
    ) -> Option<rusqlite::Result<QueryResult>> {
        let until = self.clock.nanos(Instant::now() + INLINE_BUDGET);
        self.clock.inline_until.store(until, Ordering::Relaxed);
        let result = run(conn, sql, parameters);
        self.clock.inline_until.store(u64::MAX, Ordering::Relaxed);
        match result {
            Err(e) if interrupted(&e) && !self.clock.overdue() => None,
            result => Some(result),
        }
    }
}

impl Drop for GuestConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.db.give_back(conn);
        }
    }
}

impl sqlite::Host for State {}

impl sqlite::HostConnection for State {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<GuestConnection>, Error>> {
        let db = match self.component.sqlite.get(&label) {
            None => return Ok(Err(Error::AccessDenied)),
            Some(None) => return Ok(Err(Error::NoSuchDatabase)),
            Some(Some(db)) => db.clone(),
        };
        // Opening a file (an empty pool) may wait for a lock.
        let checkout = match db.take_idle() {
            Some(conn) => Ok(conn),
            None => tokio::task::block_in_place(|| db.connect()),
        };
        let conn = match checkout {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(to_wit_error(e))),
        };
        let clock = Arc::new(StatementClock::new(self.deadline));
        let stops = clock.clone();
        conn.progress_handler(CLOCK_CHECK_STEPS, Some(move || stops.stops()));
        let resource = self.table.push(GuestConnection {
            db,
            conn: Some(conn),
            clock,
        })?;
        Ok(Ok(resource))
    }

    async fn execute(
        &mut self,
        this: Resource<GuestConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let (db, way) = {
            let guest = self.table.get(&this)?;
            let conn = match guest.conn() {
                Ok(conn) => conn,
                Err(e) => return Ok(Err(e)),
            };
            match way(conn, &statement) {
                Ok(Way::Inline) => match guest.run_inline(conn, &statement, &parameters) {
                    Some(result) => return answer(&guest.db, result),
                    None => (guest.db.clone(), Way::Blocking),
                },
                Ok(way) => (guest.db.clone(), way),
                Err(e) => return answer(&guest.db, Err(e)),
            }
        };
        // The connection is not `Sync`: no reference to it may live across
        // the wait for a turn.
        let _turn = match way {
            Way::AfterTurn => db.writer_turn().await,
            _ => None,
        };
        let conn = match self.table.get(&this)?.conn() {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(e)),
        };
        answer(
            &db,
            tokio::task::block_in_place(|| run(conn, &statement, &parameters)),
        )
    }

    async fn drop(&mut self, this: Resource<GuestConnection>) -> wasmtime::Result<()> {
        // `GuestConnection`'s Drop returns the connection to the pool.
        self.table.delete(this)?;
        Ok(())
    }
}

/// How `sql` must run: a write in autocommit mode (`BEGIN IMMEDIATE` too)
/// takes the write lock for a transaction of its own, so waits for its
/// turn; a write inside the guest's transaction and transaction control (a
/// `COMMIT` or the last `RELEASE` syncs) block; other statements only read.
/// Prepared through the statement cache, so `run` then finds it there.
fn way(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<Way> {
    let readonly = conn.prepare_cached(sql)?.readonly();
    Ok(match (readonly, conn.is_autocommit()) {
        (false, true) => Way::AfterTurn,
        (false, false) => Way::Blocking,
        (true, _) if controls_transaction(sql) => Way::Blocking,
        (true, _) => Way::Inline,
    })
}

/// SQLite counts transaction control as read-only, since it changes no
/// row itself.
fn controls_transaction(sql: &str) -> bool {
    let keyword = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]
        .iter()
        .any(|control| keyword.eq_ignore_ascii_case(control))
}

fn run(
    conn: &rusqlite::Connection,
    sql: &str,
    parameters: &[Value],
) -> rusqlite::Result<QueryResult> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(parameters.iter().map(to_sql)))?;
    let mut result = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(from_sql))
            .collect::<rusqlite::Result<_>>()?;
        result.push(RowResult { values });
    }
    Ok(QueryResult {
        columns,
        rows: result,
    })
}

fn to_sql(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Integer(i) => V::Integer(*i),
        Value::Real(f) => V::Real(*f),
        Value::Text(s) => V::Text(s.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
        Value::Null => V::Null,
    }
}

fn from_sql(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// The guest sees SQLite's answer, except an interrupt: past the inline
/// budget a read runs again, so an interrupt that reaches here is the
/// deadline's, and then the guest stops. A busy database is counted.
fn answer(
    db: &Database,
    result: rusqlite::Result<QueryResult>,
) -> wasmtime::Result<Result<QueryResult, Error>> {
    let e = match result {
        Ok(result) => return Ok(Ok(result)),
        Err(e) => e,
    };
    if interrupted(&e) {
        return Err(DeadlineExceeded.into());
    }
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
        METRICS.busy(&db.label);
    }
    Ok(Err(to_wit_error(e)))
}

fn interrupted(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

fn to_wit_error(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => Error::DatabaseFull,
        _ => Error::Io(e.to_string()),
    }
}

/// Creates a database file the host's user alone may read (0600, in
/// directories of 0700 it creates): users' password hashes live in one.
/// SQLite gives its `-wal` and `-shm` files the database file's mode. An
/// existing file keeps the mode its owner gave it.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open("a", Some(&dir.path().join("a.db"))).unwrap();
        let other = dir.path().join("b.db");
        let err = db
            .execute_batch(&format!("ATTACH DATABASE '{}' AS b", other.display()))
            .unwrap_err();
        assert!(err.to_string().contains("too many attached"), "{err}");
    }

    #[test]
    fn files_are_in_wal_mode_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open("a", Some(&dir.path().join("a.db"))).unwrap();
        let conn = db.checkout().unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }

    #[test]
    fn an_abandoned_transaction_is_rolled_back_before_reuse() {
        let db = Database::open("mem-rollback", None).unwrap();
        db.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let conn = db.checkout().unwrap();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (1);")
            .unwrap();
        db.give_back(conn);
        let conn = db.checkout().unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn reads_run_inline_writes_wait_for_a_turn_or_block() {
        let db = Database::open("mem-writes", None).unwrap();
        db.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let conn = db.checkout().unwrap();
        let way = |sql| way(&conn, sql).unwrap();
        assert_eq!(way("INSERT INTO t VALUES (1)"), Way::AfterTurn);
        assert_eq!(way("UPDATE t SET x = 2"), Way::AfterTurn);
        assert_eq!(way("SELECT x FROM t"), Way::Inline);
        assert_eq!(way("PRAGMA user_version"), Way::Inline);
        for control in [
            "BEGIN",
            " begin deferred",
            "SAVEPOINT a",
            "RELEASE a",
            "END",
        ] {
            assert_eq!(way(control), Way::Blocking, "{control}");
        }
        // It takes the write lock at once, as a write does.
        assert_eq!(way("BEGIN IMMEDIATE"), Way::AfterTurn);
        conn.execute_batch("BEGIN").unwrap();
        assert_eq!(way("INSERT INTO t VALUES (1)"), Way::Blocking);
        assert_eq!(way("SELECT x FROM t"), Way::Inline);
        assert_eq!(way("COMMIT"), Way::Blocking);
        conn.execute_batch("COMMIT").unwrap();
        assert!(super::way(&conn, "SELECT nope FROM t").is_err());
        db.give_back(conn);
    }

    /// A read counting to two million takes far longer than the budget.
    const SLOW_READ: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
        WHERE i < 2000000) SELECT count(*) FROM n";

    fn guest(db: &Arc<Database>, deadline: Instant) -> GuestConnection {
        let clock = Arc::new(StatementClock::new(deadline));
        let conn = db.checkout().unwrap();
        let stops = clock.clone();
        conn.progress_handler(CLOCK_CHECK_STEPS, Some(move || stops.stops()));
        GuestConnection {
            db: db.clone(),
            conn: Some(conn),
            clock,
        }
    }

    #[test]
    fn a_read_past_its_budget_gives_way_and_then_runs_whole() {
        let db = Database::open("mem-budget", None).unwrap();
        let guest = guest(&db, Instant::now() + Duration::from_secs(60));
        let conn = guest.conn().unwrap();
        let quick = guest.run_inline(conn, "SELECT 1", &[]);
        assert!(matches!(quick, Some(Ok(_))));
        assert!(guest.run_inline(conn, SLOW_READ, &[]).is_none());
        // Outside an inline run, only the deadline stops it.
        let whole = run(conn, SLOW_READ, &[]).unwrap();
        assert!(matches!(
            whole.rows[0].values[..],
            [Value::Integer(2_000_000)]
        ));
    }

    #[test]
    fn an_inline_read_past_the_deadline_is_the_deadline() {
        let db = Database::open("mem-deadline", None).unwrap();
        let guest = guest(&db, Instant::now());
        let conn = guest.conn().unwrap();
        let late = guest.run_inline(conn, SLOW_READ, &[]);
        assert!(matches!(late, Some(Err(e)) if interrupted(&e)));
    }

    #[tokio::test]
    async fn writer_turns_are_taken_one_at_a_time() {
        let db = Database::open("mem-turns", None).unwrap();
        let first = db.writer_turn().await;
        assert!(first.is_some());
        assert!(db.writer.try_lock().is_err());
        drop(first);
        assert!(db.writer_turn().await.is_some());
    }

    #[test]
    fn rows_and_columns_round_trip() {
        let db = Database::open("mem-rows", None).unwrap();
        let conn = db.checkout().unwrap();
        let r = run(
            &conn,
            "SELECT ?1 AS i, ?2 AS f, ?3 AS t, ?4 AS b, ?5 AS n",
            &[
                Value::Integer(7),
                Value::Real(1.5),
                Value::Text("é".into()),
                Value::Blob(vec![1, 2]),
                Value::Null,
            ],
        )
        .unwrap();
        assert_eq!(r.columns, ["i", "f", "t", "b", "n"]);
        assert!(matches!(
            r.rows[0].values.as_slice(),
            [Value::Integer(7), Value::Real(_), Value::Text(t), Value::Blob(_), Value::Null] if t == "é"
        ));
    }
}
