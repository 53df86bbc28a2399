//! The SQL of a movement's path. The bench's native baseline
//! (`bench/src/stock.rs`) compiles this very file, so that what it measures
//! is what stock runs; it holds constants only, and needs no crate.

/// An ISO 8601 UTC timestamp with milliseconds, as every table stores time.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// Columns every movement answer is built from.
macro_rules! movement_columns {
    () => {
        "m.id, m.piece_id, p.reference, p.name, m.type, m.quantity, m.delta, m.level_after, \
         m.reason, m.note, m.user_id, m.username, m.created_at, m.reverses"
    };
}

pub const NOW: &str = now!();
pub const MOVEMENT_COLUMNS: &str = movement_columns!();

/// A movement and the level it leaves, computed from the level it reads, in
/// one statement: `?1` piece, `?2` type, `?3` quantity, `?4` reason, `?5`
/// note, `?6` user id, `?7` user name, `?8` idempotency key, `?9` request
/// hash, `?10` the movement it reverses. No row when the piece has no level
/// row yet, or an OUT exceeds the level.
pub const RECORD_MOVEMENT: &str = concat!(
    "INSERT INTO movements (piece_id, type, quantity, delta, level_after, reason, note, \
        user_id, username, created_at, idempotency_key, request_hash, reverses) \
     SELECT ?1, ?2, ?3, \
        CASE ?2 WHEN 'IN' THEN ?3 WHEN 'OUT' THEN -?3 ELSE ?3 - quantity END, \
        CASE ?2 WHEN 'IN' THEN quantity + ?3 WHEN 'OUT' THEN quantity - ?3 ELSE ?3 END, \
        ?4, ?5, ?6, ?7, ",
    now!(),
    ", ?8, ?9, ?10 \
     FROM levels WHERE piece_id = ?1 AND (?2 <> 'OUT' OR quantity >= ?3) \
     RETURNING id"
);

/// The level row of piece `?1`, at 0, unless it has one.
pub const ENSURE_LEVEL: &str = concat!(
    "INSERT OR IGNORE INTO levels (piece_id, quantity, updated_at) VALUES (?1, 0, ",
    now!(),
    ")"
);

/// Movement `?1` as the API shows it.
pub const FIND_MOVEMENT: &str = concat!(
    "SELECT ",
    movement_columns!(),
    " FROM movements AS m JOIN pieces AS p USING (piece_id) WHERE m.id = ?1"
);

/// Stock's copy of piece `?1`.
pub const CACHED_PIECE: &str = "SELECT piece_id, reference, name, category, min_stock, archived FROM pieces WHERE piece_id = ?1";

/// Stores stock's copy of a piece (`?1` id, `?2` reference, `?3` name,
/// `?4` category, `?5` minimum, `?6` archived), writing only what changed.
pub const REMEMBER_PIECE: &str = concat!(
    "INSERT INTO pieces (piece_id, reference, name, category, min_stock, archived, refreshed_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ",
    now!(),
    ") \
     ON CONFLICT (piece_id) DO UPDATE SET reference = excluded.reference, name = excluded.name, \
     category = excluded.category, min_stock = excluded.min_stock, archived = excluded.archived, \
     refreshed_at = excluded.refreshed_at \
     WHERE (pieces.reference, pieces.name, pieces.category, pieces.min_stock, pieces.archived) \
     IS NOT (excluded.reference, excluded.name, excluded.category, excluded.min_stock, excluded.archived)"
);

/// The folded reference `?2` and name `?3` of piece `?1` for search, when
/// its stored reference and name are still `?4` and `?5`.
pub const WRITE_FOLDED: &str = "INSERT INTO pieces_folded (piece_id, reference, name) \
     SELECT piece_id, ?2, ?3 FROM pieces WHERE piece_id = ?1 AND reference = ?4 AND name = ?5 \
     ON CONFLICT (piece_id) DO NOTHING";
