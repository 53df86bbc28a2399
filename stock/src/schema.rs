//! The `stock` database, oldest step first (see `kit::migrate`).
//!
//! The rules that must hold under any concurrency live in the schema, so
//! that each movement is ONE statement (`INSERT INTO ledger ... SELECT`
//! reading the levels it changes) and needs no transaction across several
//! `execute` calls, which not every Spin host promises:
//! - `levels.quantity` (a piece's total) and `location_levels.quantity`
//!   (what one location holds) have `CHECK (quantity >= 0)`;
//! - the `ledger` insert trigger moves the total and the location levels
//!   and, on a status crossing, writes the alert to the outbox: levels,
//!   ledger and event commit together or not at all;
//! - a stocktake's validation is one `UPDATE` of its status, whose trigger
//!   writes every adjustment: all of them, once.

use kit::migrate::Migration;

/// What a new catalogue row, or a newer version of one, does in the
/// statement that writes it: the "to order" alert for a new piece under its
/// minimum, then stock's copy of the piece created, updated or dropped
/// (dropped only if `$ledger`, the ledger table, never mentions it; after
/// `$unlink`, which removes what else names such a piece).
macro_rules! catalogue_follows {
    ($ledger:literal, $unlink:literal) => {
        concat!("BEGIN \
                INSERT INTO outbox (event_id, payload, created_at, next_attempt_at) \
                SELECT 'catalogue-' || NEW.piece_id, json_object(\
                    'event_id', 'catalogue-' || NEW.piece_id, \
                    'type', 'out_of_stock', \
                    'piece', json_object('id', NEW.piece_id, 'reference', NEW.reference, 'name', NEW.name, \
                        'category', NEW.category), \
                    'quantity', 0, \
                    'previous_quantity', 0, \
                    'min_stock', NEW.min_stock, \
                    'reason', 'new_piece', \
                    'occurred_at', NEW.changed_at), \
                    NEW.changed_at, NEW.changed_at \
                WHERE NEW.deleted = 0 AND NEW.archived = 0 AND NEW.min_stock > 0 \
                  AND NOT EXISTS (SELECT 1 FROM pieces WHERE piece_id = NEW.piece_id) \
                  AND NOT EXISTS (SELECT 1 FROM outbox WHERE event_id = 'catalogue-' || NEW.piece_id); \
                INSERT INTO pieces (piece_id, reference, name, category, min_stock, archived, refreshed_at) \
                SELECT NEW.piece_id, NEW.reference, NEW.name, NEW.category, NEW.min_stock, NEW.archived, NEW.changed_at \
                WHERE NEW.deleted = 0 AND NOT EXISTS (SELECT 1 FROM pieces WHERE piece_id = NEW.piece_id); \
                UPDATE pieces SET reference = NEW.reference, name = NEW.name, category = NEW.category, \
                    min_stock = NEW.min_stock, archived = NEW.archived, refreshed_at = NEW.changed_at \
                WHERE piece_id = NEW.piece_id AND NEW.deleted = 0 \
                  AND (reference, name, category, min_stock, archived) \
                      IS NOT (NEW.reference, NEW.name, NEW.category, NEW.min_stock, NEW.archived); \
                ", $unlink, " \
                DELETE FROM levels WHERE piece_id = NEW.piece_id AND NEW.deleted = 1 \
                  AND NOT EXISTS (SELECT 1 FROM ", $ledger, " WHERE piece_id = NEW.piece_id); \
                DELETE FROM pieces WHERE piece_id = NEW.piece_id AND NEW.deleted = 1 \
                  AND NOT EXISTS (SELECT 1 FROM ", $ledger, " WHERE piece_id = NEW.piece_id); \
             END")
    };
}

/// A status crossing (ok / low / out, see `STATUS_SQL`) becomes one event,
/// written by the trigger on `$ledger`'s inserts with the movement that
/// caused it. A piece's first reception is not "back" in stock: it never
/// was; a TRANSFER changes no total, so it never crosses.
macro_rules! crossing_alerts {
    ($ledger:literal) => {
        concat!(
            "BEGIN \
                INSERT INTO outbox (event_id, payload, created_at, next_attempt_at) \
                SELECT 'movement-' || NEW.id, json_object(\
                    'event_id', 'movement-' || NEW.id, \
                    'type', crossing.kind, \
                    'piece', json_object('id', p.piece_id, 'reference', p.reference, 'name', p.name, \
                        'category', p.category), \
                    'quantity', NEW.level_after, \
                    'previous_quantity', NEW.level_after - NEW.delta, \
                    'min_stock', p.min_stock, \
                    'movement_id', NEW.id, \
                    'occurred_at', NEW.created_at), \
                    NEW.created_at, NEW.created_at \
                FROM pieces AS p, (SELECT CASE \
                    WHEN NEW.level_after = 0 AND NEW.level_after - NEW.delta > 0 THEN 'out_of_stock' \
                    WHEN NEW.level_after > 0 AND NEW.level_after <= p2.min_stock \
                         AND NEW.level_after - NEW.delta > p2.min_stock THEN 'low_stock' \
                    WHEN NEW.level_after > p2.min_stock AND NEW.level_after - NEW.delta <= p2.min_stock \
                         AND EXISTS (SELECT 1 FROM ", $ledger, " AS earlier \
                                     WHERE earlier.piece_id = NEW.piece_id AND earlier.id < NEW.id) \
                         THEN 'back_in_stock' \
                    END AS kind FROM pieces AS p2 WHERE p2.piece_id = NEW.piece_id) AS crossing \
                WHERE p.piece_id = NEW.piece_id AND crossing.kind IS NOT NULL; \
             END"
        )
    };
}

/// A catalogue version stock learnt, as the `piece_changed` event of the
/// outgoing webhooks, once per piece and version, while they want it.
macro_rules! piece_forwarded {
    () => {
        "WHEN (SELECT value FROM service_meta WHERE key = 'forward_pieces') = '1' \
         BEGIN \
            INSERT INTO outbox (event_id, payload, created_at, next_attempt_at) \
            SELECT 'piece-' || NEW.piece_id || '-' || NEW.version, json_object(\
                'event_id', 'piece-' || NEW.piece_id || '-' || NEW.version, \
                'type', 'piece_changed', \
                'occurred_at', NEW.changed_at, \
                'piece', json_object('id', NEW.piece_id, 'version', NEW.version, \
                    'reference', NEW.reference, 'name', NEW.name, 'category', NEW.category, \
                    'min_stock', NEW.min_stock, 'price_cents', NEW.price_cents, \
                    'archived', json(CASE WHEN NEW.archived THEN 'true' ELSE 'false' END), \
                    'deleted', json(CASE WHEN NEW.deleted THEN 'true' ELSE 'false' END))), \
                NEW.changed_at, NEW.changed_at \
            WHERE NOT EXISTS (SELECT 1 FROM outbox \
                              WHERE event_id = 'piece-' || NEW.piece_id || '-' || NEW.version); \
         END"
    };
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        // Says whose file this is, for anyone who opens it with `sqlite3`.
        statements: &[
            "CREATE TABLE IF NOT EXISTS service_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('service', 'stock')",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            // What stock knows of each piece, read from the pieces service
            // on every movement and kept to serve while it is down; a row
            // is rewritten only when the piece changed, so `refreshed_at`
            // is when the copy last changed.
            "CREATE TABLE IF NOT EXISTS pieces (\
                piece_id INTEGER PRIMARY KEY, \
                reference TEXT NOT NULL, \
                name TEXT NOT NULL, \
                category TEXT NOT NULL DEFAULT '', \
                min_stock INTEGER NOT NULL CHECK (min_stock >= 0), \
                archived INTEGER NOT NULL DEFAULT 0, \
                refreshed_at TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS levels (\
                piece_id INTEGER PRIMARY KEY REFERENCES pieces (piece_id), \
                quantity INTEGER NOT NULL DEFAULT 0 CHECK (quantity >= 0), \
                updated_at TEXT NOT NULL)",
            // The ledger: never updated, never deleted. `delta` is the signed
            // change, `level_after` the level it left.
            "CREATE TABLE IF NOT EXISTS movements (\
                id INTEGER PRIMARY KEY, \
                piece_id INTEGER NOT NULL REFERENCES pieces (piece_id), \
                type TEXT NOT NULL CHECK (type IN ('IN', 'OUT', 'ADJUST')), \
                quantity INTEGER NOT NULL CHECK (quantity >= 0), \
                delta INTEGER NOT NULL, \
                level_after INTEGER NOT NULL CHECK (level_after >= 0), \
                reason TEXT, \
                note TEXT NOT NULL DEFAULT '', \
                user_id INTEGER NOT NULL, \
                username TEXT NOT NULL, \
                created_at TEXT NOT NULL, \
                reverses INTEGER UNIQUE REFERENCES movements (id), \
                idempotency_key TEXT UNIQUE, \
                request_hash TEXT)",
            "CREATE INDEX IF NOT EXISTS movements_by_piece ON movements (piece_id, id)",
            "CREATE INDEX IF NOT EXISTS movements_by_date ON movements (created_at)",
            "CREATE INDEX IF NOT EXISTS movements_by_user ON movements (username)",
            // Events for the notifications service, delivered until
            // acknowledged; `event_id` is the idempotency key it dedups on.
            "CREATE TABLE IF NOT EXISTS outbox (\
                id INTEGER PRIMARY KEY, \
                event_id TEXT NOT NULL UNIQUE, \
                payload TEXT NOT NULL, \
                created_at TEXT NOT NULL, \
                attempts INTEGER NOT NULL DEFAULT 0, \
                next_attempt_at TEXT NOT NULL, \
                delivered_at TEXT)",
            "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL",
            // Ledger immutability, enforced where no code path can skip it.
            "CREATE TRIGGER IF NOT EXISTS movements_are_never_updated BEFORE UPDATE ON movements \
             BEGIN SELECT RAISE(ABORT, 'movements are never updated'); END",
            "CREATE TRIGGER IF NOT EXISTS movements_are_never_deleted BEFORE DELETE ON movements \
             BEGIN SELECT RAISE(ABORT, 'movements are never deleted'); END",
            // The level follows the ledger, in the same statement.
            "CREATE TRIGGER IF NOT EXISTS movement_moves_level AFTER INSERT ON movements \
             BEGIN \
                UPDATE levels SET quantity = NEW.level_after, updated_at = NEW.created_at \
                WHERE piece_id = NEW.piece_id; \
             END",
            concat!(
                "CREATE TRIGGER IF NOT EXISTS movement_crossing_alerts AFTER INSERT ON movements ",
                crossing_alerts!("movements")
            ),
        ],
    },
    Migration {
        version: 3,
        statements: &[
            // The folded reference and name of each piece (`kit::text::fold`:
            // lowercased, accents dropped), which `search` compares, since
            // SQLite folds ASCII only. A side table rather than two columns:
            // `ADD COLUMN` is not idempotent. Written in Rust after each
            // write of a piece (`pieces::remember`), and guarded there by the
            // piece's current text; a row present is always current, since
            // the triggers below drop it in the statement that makes it
            // stale. A piece without one (remembered before this step, or
            // whose folding write failed) is folded at query time instead.
            "CREATE TABLE IF NOT EXISTS pieces_folded (\
                piece_id INTEGER PRIMARY KEY REFERENCES pieces (piece_id), \
                reference TEXT NOT NULL, \
                name TEXT NOT NULL)",
            "CREATE TRIGGER IF NOT EXISTS pieces_folded_renamed AFTER UPDATE OF reference, name ON pieces \
             WHEN OLD.reference IS NOT NEW.reference OR OLD.name IS NOT NEW.name \
             BEGIN DELETE FROM pieces_folded WHERE piece_id = NEW.piece_id; END",
            "CREATE TRIGGER IF NOT EXISTS pieces_folded_forgotten AFTER DELETE ON pieces \
             BEGIN DELETE FROM pieces_folded WHERE piece_id = OLD.piece_id; END",
        ],
    },
    Migration {
        version: 4,
        statements: &[
            // The catalogue as pieces last said it, one row per piece it
            // ever told of, with the piece's version: pieces sends each
            // change it commits (its outbox), and a movement's own read of
            // a piece lands here too; a change older than the row is
            // ignored (`RECORD_CATALOGUE`), so a late or repeated delivery
            // never undoes a newer one. The triggers below make `pieces`
            // follow in the same statement: a new piece is listed at 0 at
            // once, a deleted one (never moved: pieces checks) goes.
            "CREATE TABLE IF NOT EXISTS catalogue (\
                piece_id INTEGER PRIMARY KEY, \
                version INTEGER NOT NULL, \
                reference TEXT NOT NULL, \
                name TEXT NOT NULL, \
                category TEXT NOT NULL DEFAULT '', \
                min_stock INTEGER NOT NULL CHECK (min_stock >= 0), \
                archived INTEGER NOT NULL DEFAULT 0, \
                deleted INTEGER NOT NULL DEFAULT 0, \
                changed_at TEXT NOT NULL)",
            // A piece new to stock with a minimum above its level (0) is
            // the first thing to order: one alert, keyed on the piece. The
            // bodies guard with NOT EXISTS rather than `OR IGNORE`, which
            // the upsert that fires them would override.
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_added AFTER INSERT ON catalogue ",
                catalogue_follows!("movements", "")
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_changed AFTER UPDATE ON catalogue ",
                catalogue_follows!("movements", "")
            ),
        ],
    },
    Migration {
        version: 5,
        statements: &[
            // Where stock is: a tree of locations (site, zone, bin). The
            // default location (id 1) takes every movement that names none,
            // so clients from before locations keep their meaning; it is
            // never archived nor deleted.
            "CREATE TABLE IF NOT EXISTS locations (\
                id INTEGER PRIMARY KEY, \
                code TEXT NOT NULL UNIQUE COLLATE NOCASE, \
                name TEXT NOT NULL, \
                parent_id INTEGER REFERENCES locations (id), \
                archived INTEGER NOT NULL DEFAULT 0, \
                created_at TEXT NOT NULL, \
                updated_at TEXT NOT NULL, \
                CHECK (parent_id IS NOT id))",
            "CREATE INDEX IF NOT EXISTS locations_by_parent ON locations (parent_id)",
            "INSERT OR IGNORE INTO locations (id, code, name, parent_id, archived, created_at, updated_at) \
             VALUES (1, 'DEFAUT', 'Emplacement par défaut', NULL, 0, \
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            // How much of each piece each location holds. `levels` keeps
            // the piece's total, the sum of its rows here: the ledger's
            // trigger moves both in the movement's statement.
            "CREATE TABLE IF NOT EXISTS location_levels (\
                piece_id INTEGER NOT NULL REFERENCES pieces (piece_id), \
                location_id INTEGER NOT NULL REFERENCES locations (id), \
                quantity INTEGER NOT NULL CHECK (quantity >= 0), \
                updated_at TEXT NOT NULL, \
                PRIMARY KEY (piece_id, location_id)) WITHOUT ROWID",
            // Without the quantity, which every movement changes.
            "CREATE INDEX IF NOT EXISTS location_levels_by_location \
             ON location_levels (location_id, piece_id)",
            // Stock from before locations is in the default location.
            "INSERT OR IGNORE INTO location_levels (piece_id, location_id, quantity, updated_at) \
             SELECT piece_id, 1, quantity, updated_at FROM levels WHERE quantity > 0",
            // The ledger again, now with locations and transfers: SQLite
            // cannot widen `movements`' type CHECK in place, so its rows
            // are copied here (ids kept) and the old table goes in the
            // next step, once this one is recorded. A TRANSFER moves
            // `quantity` from `location_id` to `to_location_id` and leaves
            // the total alone; every other type touches `location_id` only.
            "CREATE TABLE IF NOT EXISTS ledger (\
                id INTEGER PRIMARY KEY, \
                piece_id INTEGER NOT NULL REFERENCES pieces (piece_id), \
                type TEXT NOT NULL CHECK (type IN ('IN', 'OUT', 'ADJUST', 'TRANSFER')), \
                location_id INTEGER NOT NULL REFERENCES locations (id), \
                to_location_id INTEGER REFERENCES locations (id), \
                quantity INTEGER NOT NULL CHECK (quantity >= 0), \
                delta INTEGER NOT NULL, \
                level_after INTEGER NOT NULL CHECK (level_after >= 0), \
                reason TEXT, \
                note TEXT NOT NULL DEFAULT '', \
                user_id INTEGER NOT NULL, \
                username TEXT NOT NULL, \
                created_at TEXT NOT NULL, \
                reverses INTEGER UNIQUE REFERENCES ledger (id), \
                idempotency_key TEXT UNIQUE, \
                request_hash TEXT, \
                CHECK (CASE type WHEN 'TRANSFER' \
                    THEN to_location_id IS NOT NULL AND to_location_id <> location_id AND delta = 0 \
                    ELSE to_location_id IS NULL END))",
            // Before the triggers below exist: the copy moves no level.
            "INSERT OR IGNORE INTO ledger (id, piece_id, type, location_id, to_location_id, quantity, \
                delta, level_after, reason, note, user_id, username, created_at, reverses, \
                idempotency_key, request_hash) \
             SELECT id, piece_id, type, 1, NULL, quantity, delta, level_after, reason, note, user_id, \
                username, created_at, reverses, idempotency_key, request_hash FROM movements",
            "CREATE INDEX IF NOT EXISTS ledger_by_piece ON ledger (piece_id, id)",
            "CREATE INDEX IF NOT EXISTS ledger_by_date ON ledger (created_at)",
            "CREATE INDEX IF NOT EXISTS ledger_by_user ON ledger (username)",
            "CREATE INDEX IF NOT EXISTS ledger_by_location ON ledger (location_id, id)",
            "CREATE INDEX IF NOT EXISTS ledger_by_destination ON ledger (to_location_id, id) \
             WHERE to_location_id IS NOT NULL",
            "CREATE TRIGGER IF NOT EXISTS ledger_is_never_updated BEFORE UPDATE ON ledger \
             BEGIN SELECT RAISE(ABORT, 'movements are never updated'); END",
            "CREATE TRIGGER IF NOT EXISTS ledger_is_never_deleted BEFORE DELETE ON ledger \
             BEGIN SELECT RAISE(ABORT, 'movements are never deleted'); END",
            // The total and the location levels follow the ledger, in the
            // same statement; `CHECK (quantity >= 0)` guards both. A row is
            // new only where the movement adds (an OUT or a transfer's
            // source needs stock there); SQLite checks the candidate row
            // before the conflict, hence its quantity floored at 0.
            "CREATE TRIGGER IF NOT EXISTS ledger_moves_levels AFTER INSERT ON ledger \
             BEGIN \
                UPDATE levels SET quantity = NEW.level_after, updated_at = NEW.created_at \
                WHERE piece_id = NEW.piece_id; \
                INSERT INTO location_levels (piece_id, location_id, quantity, updated_at) \
                SELECT NEW.piece_id, place.id, MAX(place.change, 0), NEW.created_at \
                FROM (SELECT NEW.location_id AS id, \
                        CASE NEW.type WHEN 'TRANSFER' THEN -NEW.quantity ELSE NEW.delta END AS change \
                      UNION ALL SELECT NEW.to_location_id, NEW.quantity) AS place \
                WHERE place.id IS NOT NULL \
                ON CONFLICT (piece_id, location_id) DO UPDATE SET updated_at = excluded.updated_at, \
                    quantity = quantity + CASE WHEN location_id = NEW.to_location_id THEN NEW.quantity \
                        WHEN NEW.type = 'TRANSFER' THEN -NEW.quantity ELSE NEW.delta END; \
             END",
            concat!(
                "CREATE TRIGGER IF NOT EXISTS ledger_crossing_alerts AFTER INSERT ON ledger ",
                crossing_alerts!("ledger")
            ),
            // Stocktakes: a count of one location. Opening snapshots what
            // the location holds (`expected`); validating turns each
            // counted line into one ADJUST that applies the difference
            // counted - expected on top of the level at validation, so
            // movements made during the count are kept (never below 0).
            "CREATE TABLE IF NOT EXISTS counts (\
                id INTEGER PRIMARY KEY, \
                location_id INTEGER NOT NULL REFERENCES locations (id), \
                status TEXT NOT NULL DEFAULT 'open' \
                    CHECK (status IN ('open', 'validated', 'cancelled')), \
                note TEXT NOT NULL DEFAULT '', \
                opened_by_id INTEGER NOT NULL, \
                opened_by TEXT NOT NULL, \
                opened_at TEXT NOT NULL, \
                closed_by_id INTEGER, \
                closed_by TEXT, \
                closed_at TEXT)",
            "CREATE UNIQUE INDEX IF NOT EXISTS counts_one_open_per_location \
             ON counts (location_id) WHERE status = 'open'",
            "CREATE TABLE IF NOT EXISTS count_lines (\
                count_id INTEGER NOT NULL REFERENCES counts (id), \
                piece_id INTEGER NOT NULL REFERENCES pieces (piece_id), \
                expected INTEGER NOT NULL CHECK (expected >= 0), \
                counted INTEGER CHECK (counted >= 0), \
                counted_by TEXT, \
                counted_at TEXT, \
                PRIMARY KEY (count_id, piece_id)) WITHOUT ROWID",
            "CREATE TRIGGER IF NOT EXISTS count_snapshots_its_location AFTER INSERT ON counts \
             BEGIN \
                INSERT INTO count_lines (count_id, piece_id, expected) \
                SELECT NEW.id, piece_id, quantity FROM location_levels \
                WHERE location_id = NEW.location_id AND quantity > 0; \
             END",
            // Validation is the one statement that closes the count: a
            // second one finds it closed and adjusts nothing. Each line's
            // movement is also keyed on count and piece.
            "CREATE TRIGGER IF NOT EXISTS count_validation_adjusts AFTER UPDATE OF status ON counts \
             WHEN OLD.status = 'open' AND NEW.status = 'validated' \
             BEGIN \
                INSERT INTO levels (piece_id, quantity, updated_at) \
                SELECT piece_id, 0, NEW.closed_at FROM count_lines \
                WHERE count_id = NEW.id AND counted IS NOT NULL \
                  AND piece_id NOT IN (SELECT piece_id FROM levels); \
                INSERT INTO ledger (piece_id, type, location_id, quantity, delta, level_after, reason, \
                    note, user_id, username, created_at, idempotency_key) \
                SELECT line.piece_id, 'ADJUST', NEW.location_id, line.target, line.target - line.here, \
                    total.quantity + line.target - line.here, 'inventory', 'Inventaire n° ' || NEW.id, \
                    NEW.closed_by_id, NEW.closed_by, NEW.closed_at, \
                    'count-' || NEW.id || '-' || line.piece_id \
                FROM (SELECT c.piece_id, COALESCE(here.quantity, 0) AS here, \
                        MAX(0, COALESCE(here.quantity, 0) + c.counted - c.expected) AS target \
                      FROM count_lines AS c LEFT JOIN location_levels AS here \
                        ON here.piece_id = c.piece_id AND here.location_id = NEW.location_id \
                      WHERE c.count_id = NEW.id AND c.counted IS NOT NULL) AS line \
                JOIN levels AS total ON total.piece_id = line.piece_id \
                WHERE line.target <> line.here; \
             END",
        ],
    },
    Migration {
        version: 6,
        statements: &[
            // The catalogue's triggers read the new ledger (and a deleted
            // piece leaves the counts that named it without moving it:
            // foreign keys hold), then the old table goes, its own
            // triggers with it (copied in step 5).
            "DROP TRIGGER IF EXISTS catalogue_added",
            "DROP TRIGGER IF EXISTS catalogue_changed",
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_added AFTER INSERT ON catalogue ",
                catalogue_follows!(
                    "ledger",
                    "DELETE FROM count_lines WHERE piece_id = NEW.piece_id AND NEW.deleted = 1 \
                       AND NOT EXISTS (SELECT 1 FROM ledger WHERE piece_id = NEW.piece_id);"
                )
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_changed AFTER UPDATE ON catalogue ",
                catalogue_follows!(
                    "ledger",
                    "DELETE FROM count_lines WHERE piece_id = NEW.piece_id AND NEW.deleted = 1 \
                       AND NOT EXISTS (SELECT 1 FROM ledger WHERE piece_id = NEW.piece_id);"
                )
            ),
            "DROP TABLE IF EXISTS movements",
        ],
    },
    Migration {
        version: 7,
        statements: &[
            // The stock list's default order (active pieces by reference),
            // read from an index: a page deep in 100,000 pieces walks it
            // instead of sorting them all.
            "CREATE INDEX IF NOT EXISTS pieces_listed ON pieces (archived, reference, piece_id)",
        ],
    },
    Migration {
        version: 8,
        statements: &[
            // A piece's unit price in cents, which values the stock (`NULL`
            // until pieces tells it: changes sent before prices were).
            "ALTER TABLE catalogue ADD COLUMN price_cents INTEGER",
            // What was used, by date: the OUT movements no reversal names,
            // with every column the reports read of them (the reports name
            // it: without statistics, SQLite would rather walk the unique
            // index of `reverses` for `reverses IS NULL`, all of it).
            "CREATE INDEX IF NOT EXISTS ledger_used \
             ON ledger (created_at, piece_id, quantity, type, reverses) \
             WHERE type = 'OUT' AND reverses IS NULL",
            // Dormant stock: a level's `updated_at` is its piece's last
            // movement (the ledger's trigger sets it).
            "CREATE INDEX IF NOT EXISTS levels_by_quantity ON levels (quantity, updated_at)",
        ],
    },
    Migration {
        version: 9,
        statements: &[
            // While an outgoing webhook wants them (notifications says so:
            // `forwarding.rs`), each movement and each catalogue change is
            // an event in the outbox too, written in the statement that
            // makes it; otherwise nothing is written.
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('forward_movements', '0')",
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('forward_pieces', '0')",
            "CREATE TRIGGER IF NOT EXISTS ledger_forwarded AFTER INSERT ON ledger \
             WHEN (SELECT value FROM service_meta WHERE key = 'forward_movements') = '1' \
             BEGIN \
                INSERT INTO outbox (event_id, payload, created_at, next_attempt_at) \
                SELECT 'ledger-' || NEW.id, json_object(\
                    'event_id', 'ledger-' || NEW.id, \
                    'type', 'movement', \
                    'occurred_at', NEW.created_at, \
                    'movement', json_object('id', NEW.id, 'piece_id', NEW.piece_id, \
                        'reference', p.reference, 'name', p.name, 'type', NEW.type, \
                        'quantity', NEW.quantity, 'delta', NEW.delta, 'level_after', NEW.level_after, \
                        'location_id', NEW.location_id, 'to_location_id', NEW.to_location_id, \
                        'reason', NEW.reason, 'note', NEW.note, 'user', NEW.username, \
                        'reverses', NEW.reverses)), \
                    NEW.created_at, NEW.created_at \
                FROM pieces AS p WHERE p.piece_id = NEW.piece_id; \
             END",
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_forwarded_added AFTER INSERT ON catalogue ",
                piece_forwarded!()
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_forwarded_changed AFTER UPDATE ON catalogue ",
                piece_forwarded!()
            ),
        ],
    },
];

/// Now, UTC, ISO-8601 with milliseconds: every timestamp is SQLite's, so
/// that two hosts on one file agree on order.
pub const NOW_SQL: &str = crate::statements::NOW;

/// The status of a level against its piece's minimum, as SQL over
/// `quantity` and `min_stock`: `out` at zero, `low` at or below the minimum
/// (the reorder point), else `ok`. The crossing trigger above uses the same
/// thresholds, so an alert fires exactly when the status changes.
pub const STATUS_SQL: &str =
    "CASE WHEN quantity = 0 THEN 'out' WHEN quantity <= min_stock THEN 'low' ELSE 'ok' END";

#[cfg(test)]
mod tests {
    use kit::migrate::validate;

    use super::MIGRATIONS;

    #[test]
    fn migrations_are_ordered_and_idempotent() {
        assert_eq!(validate(MIGRATIONS), Ok(()));
    }
}
