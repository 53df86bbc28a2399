//! The `stock` database, oldest step first (see `kit::migrate`).
//!
//! The rules that must hold under any concurrency live in the schema, so
//! that each movement is ONE statement (`INSERT INTO movements ... SELECT`
//! reading the level it changes) and needs no transaction across several
//! `execute` calls, which not every Spin host promises:
//! - `levels.quantity` has `CHECK (quantity >= 0)`;
//! - the `movements` insert trigger moves the level and, on a status
//!   crossing, writes the alert to the outbox: level, ledger and event
//!   commit together or not at all.

use kit::migrate::Migration;

/// What a new catalogue row, or a newer version of one, does in the
/// statement that writes it: the "to order" alert for a new piece under its
/// minimum, then stock's copy of the piece created, updated or dropped.
macro_rules! catalogue_follows {
    () => {
        "BEGIN \
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
                DELETE FROM levels WHERE piece_id = NEW.piece_id AND NEW.deleted = 1 \
                  AND NOT EXISTS (SELECT 1 FROM movements WHERE piece_id = NEW.piece_id); \
                DELETE FROM pieces WHERE piece_id = NEW.piece_id AND NEW.deleted = 1 \
                  AND NOT EXISTS (SELECT 1 FROM movements WHERE piece_id = NEW.piece_id); \
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
            // A status crossing (ok / low / out, see `STATUS_SQL`) becomes one
            // event, written with the movement that caused it. A piece's
            // first reception is not "back" in stock: it never was.
            "CREATE TRIGGER IF NOT EXISTS movement_crossing_alerts AFTER INSERT ON movements \
             BEGIN \
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
                         AND EXISTS (SELECT 1 FROM movements AS earlier \
                                     WHERE earlier.piece_id = NEW.piece_id AND earlier.id < NEW.id) \
                         THEN 'back_in_stock' \
                    END AS kind FROM pieces AS p2 WHERE p2.piece_id = NEW.piece_id) AS crossing \
                WHERE p.piece_id = NEW.piece_id AND crossing.kind IS NOT NULL; \
             END",
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
                catalogue_follows!()
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS catalogue_changed AFTER UPDATE ON catalogue ",
                catalogue_follows!()
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
