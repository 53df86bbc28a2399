//! The SQL of a movement's path. The bench's native baseline
//! (`bench/src/stock.rs`) compiles this very file, so that what it measures
//! is what stock runs; it holds constants only, and needs no crate.

/// An ISO 8601 UTC timestamp with milliseconds, as every table stores time.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// Columns every movement answer is built from, over [`movement_source`].
macro_rules! movement_columns {
    () => {
        "m.id, m.piece_id, p.reference, p.name, m.type, m.quantity, m.delta, m.level_after, \
         m.location_id, here.code AS location_code, m.to_location_id, there.code AS to_location_code, \
         m.reason, m.note, m.user_id, m.username, m.created_at, m.reverses"
    };
}

/// The ledger with its pieces and locations, as `m`, `p`, `here`, `there`.
macro_rules! movement_source {
    () => {
        " FROM ledger AS m JOIN pieces AS p USING (piece_id) \
         LEFT JOIN locations AS here ON here.id = m.location_id \
         LEFT JOIN locations AS there ON there.id = m.to_location_id"
    };
}

pub const NOW: &str = now!();
pub const MOVEMENT_COLUMNS: &str = movement_columns!();
pub const MOVEMENT_SOURCE: &str = movement_source!();

/// A movement and the levels it leaves, computed from the levels it reads,
/// in one statement: `?1` piece, `?2` type, `?3` quantity, `?4` reason,
/// `?5` note, `?6` user id, `?7` user name, `?8` idempotency key, `?9`
/// request hash, `?10` the movement it reverses, `?11` its location (a
/// TRANSFER's source), `?12` a TRANSFER's destination. An ADJUST's quantity
/// is the new level of its location. No row when the piece has no level
/// row yet, a location is unknown or archived, or an OUT or TRANSFER
/// exceeds what its location holds.
pub const RECORD_MOVEMENT: &str = concat!(
    "INSERT INTO ledger (piece_id, type, quantity, delta, level_after, reason, note, \
        user_id, username, created_at, idempotency_key, request_hash, reverses, location_id, \
        to_location_id) \
     SELECT ?1, ?2, ?3, at.delta, total.quantity + at.delta, ?4, ?5, ?6, ?7, ",
    now!(),
    ", ?8, ?9, ?10, ?11, ?12 \
     FROM levels AS total, \
        (SELECT quantity AS here, \
                CASE ?2 WHEN 'IN' THEN ?3 WHEN 'OUT' THEN -?3 WHEN 'TRANSFER' THEN 0 \
                ELSE ?3 - quantity END AS delta \
         FROM (SELECT COALESCE((SELECT quantity FROM location_levels \
                                WHERE piece_id = ?1 AND location_id = ?11), 0) AS quantity)) AS at \
     WHERE total.piece_id = ?1 AND (?2 NOT IN ('OUT', 'TRANSFER') OR at.here >= ?3) \
       AND EXISTS (SELECT 1 FROM locations WHERE id = ?11 AND archived = 0) \
       AND (?12 IS NULL OR EXISTS (SELECT 1 FROM locations WHERE id = ?12 AND archived = 0)) \
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
    movement_source!(),
    " WHERE m.id = ?1"
);

/// Stock's copy of piece `?1`, with the catalogue version it holds (0 for
/// a piece known before stock kept versions).
pub const CACHED_PIECE: &str = "SELECT p.piece_id, p.reference, p.name, p.category, p.min_stock, p.archived, \
     COALESCE(c.version, 0) AS version, c.price_cents \
     FROM pieces AS p LEFT JOIN catalogue AS c USING (piece_id) WHERE p.piece_id = ?1";

/// Records what pieces says of its pieces, `?1` a JSON array of changes
/// (`id`, `version`, `reference`, `name`, `category`, `min_stock`,
/// `price_cents`, `archived`, `deleted`), each unless stock holds a newer
/// version of its piece already, or the same one with its price; the
/// catalogue's triggers bring `pieces` in step in the same statement.
/// Returns the pieces whose row changed.
pub const RECORD_CATALOGUE: &str = concat!(
    "INSERT INTO catalogue (piece_id, version, reference, name, category, min_stock, price_cents, \
        archived, deleted, changed_at) \
     SELECT json_extract(c.value, '$.id'), json_extract(c.value, '$.version'), \
        json_extract(c.value, '$.reference'), json_extract(c.value, '$.name'), \
        COALESCE(json_extract(c.value, '$.category'), ''), json_extract(c.value, '$.min_stock'), \
        json_extract(c.value, '$.price_cents'), \
        json_extract(c.value, '$.archived'), COALESCE(json_extract(c.value, '$.deleted'), 0), ",
    now!(),
    " FROM json_each(?1) AS c WHERE true \
     ON CONFLICT (piece_id) DO UPDATE SET version = excluded.version, \
        reference = excluded.reference, name = excluded.name, category = excluded.category, \
        min_stock = excluded.min_stock, price_cents = COALESCE(excluded.price_cents, catalogue.price_cents), \
        archived = excluded.archived, deleted = excluded.deleted, changed_at = excluded.changed_at \
     WHERE excluded.version > catalogue.version \
        OR (excluded.version = catalogue.version AND catalogue.price_cents IS NULL \
            AND excluded.price_cents IS NOT NULL) \
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
