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

/// Stock's copy of piece `?1`, with the catalogue version it holds (0 for
/// a piece known before stock kept versions).
pub const CACHED_PIECE: &str = "SELECT p.piece_id, p.reference, p.name, p.category, p.min_stock, p.archived, \
     COALESCE(c.version, 0) AS version \
     FROM pieces AS p LEFT JOIN catalogue AS c USING (piece_id) WHERE p.piece_id = ?1";

/// Records what pieces says of its pieces, `?1` a JSON array of changes
/// (`id`, `version`, `reference`, `name`, `category`, `min_stock`,
/// `archived`, `deleted`), each unless stock holds a newer version of its
/// piece already; the catalogue's triggers bring `pieces` in step in the
/// same statement. Returns the pieces whose row changed.
pub const RECORD_CATALOGUE: &str = concat!(
    "INSERT INTO catalogue (piece_id, version, reference, name, category, min_stock, archived, \
        deleted, changed_at) \
     SELECT json_extract(c.value, '$.id'), json_extract(c.value, '$.version'), \
        json_extract(c.value, '$.reference'), json_extract(c.value, '$.name'), \
        COALESCE(json_extract(c.value, '$.category'), ''), json_extract(c.value, '$.min_stock'), \
        json_extract(c.value, '$.archived'), COALESCE(json_extract(c.value, '$.deleted'), 0), ",
    now!(),
    " FROM json_each(?1) AS c WHERE true \
     ON CONFLICT (piece_id) DO UPDATE SET version = excluded.version, \
        reference = excluded.reference, name = excluded.name, category = excluded.category, \
        min_stock = excluded.min_stock, archived = excluded.archived, deleted = excluded.deleted, \
        changed_at = excluded.changed_at \
     WHERE excluded.version > catalogue.version \
     RETURNING piece_id"
);

/// The folded text search compares, `?1` a JSON array of `id`,
/// `reference`, `name` and their folded forms: written for each piece whose
/// stored reference and name are still those, so a stale fold never lands.
pub const WRITE_FOLDED: &str = "INSERT INTO pieces_folded (piece_id, reference, name) \
     SELECT p.piece_id, json_extract(f.value, '$.reference_folded'), json_extract(f.value, '$.name_folded') \
     FROM json_each(?1) AS f JOIN pieces AS p ON p.piece_id = json_extract(f.value, '$.id') \
        AND p.reference = json_extract(f.value, '$.reference') AND p.name = json_extract(f.value, '$.name') \
     WHERE true ON CONFLICT (piece_id) DO NOTHING";
