//! The `pieces` database schema, oldest step first (see `kit::migrate`).

use kit::migrate::Migration;

/// The outbox row of a piece as it now is (`NEW`), unless already there.
macro_rules! piece_changed {
    () => {
        "INSERT INTO outbox (piece_id, version, payload) SELECT NEW.id, NEW.version, \
                    json_object('id', NEW.id, 'version', NEW.version, 'reference', NEW.reference, \
                    'name', NEW.name, 'category', NEW.category, 'unit', NEW.unit, 'min_stock', NEW.min_stock, \
                    'price_cents', NEW.price_cents, \
                    'archived', json(CASE WHEN NEW.archived THEN 'true' ELSE 'false' END), 'deleted', json('false')) \
                WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE piece_id = NEW.id AND version = NEW.version);"
    };
}

/// The triggers that write each new or changed piece to the outbox.
macro_rules! outbox_piece_added {
    () => {
        concat!(
            "CREATE TRIGGER IF NOT EXISTS outbox_piece_added AFTER INSERT ON pieces BEGIN ",
            piece_changed!(),
            " END"
        )
    };
}

macro_rules! outbox_piece_changed {
    () => {
        concat!(
            "CREATE TRIGGER IF NOT EXISTS outbox_piece_changed AFTER UPDATE ON pieces \
             WHEN NEW.version <> OLD.version BEGIN ",
            piece_changed!(),
            " END"
        )
    };
}

/// A piece's fields as the audit trail keeps them, from `NEW` or `OLD`.
macro_rules! snapshot {
    ($row:literal) => {
        concat!(
            "json_object('reference', ",
            $row,
            ".reference, 'name', ",
            $row,
            ".name, \
             'description', ",
            $row,
            ".description, 'category', ",
            $row,
            ".category, \
             'unit', ",
            $row,
            ".unit, 'price_cents', ",
            $row,
            ".price_cents, \
             'min_stock', ",
            $row,
            ".min_stock, 'location', ",
            $row,
            ".location, \
             'barcode', ",
            $row,
            ".barcode, 'archived', json(CASE WHEN ",
            $row,
            ".archived THEN 'true' ELSE 'false' END))"
        )
    };
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        // Says whose file this is, for anyone who opens it with `sqlite3`.
        statements: &[
            "CREATE TABLE IF NOT EXISTS service_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('service', 'pieces')",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            // AUTOINCREMENT: a deleted piece's id is never given to another,
            // since stock and its ledger keep ids. `reference_key`,
            // `name_key` and `search` are derived in Rust (`text.rs`) from
            // the columns beside them, because SQLite folds ASCII only.
            // The CHECKs restate the rules `model.rs` applies, as a last
            // line that no code path can write around.
            "CREATE TABLE IF NOT EXISTS pieces (\
                id INTEGER PRIMARY KEY AUTOINCREMENT, \
                reference TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 64), \
                reference_key TEXT NOT NULL, \
                name TEXT NOT NULL CHECK (length(name) >= 1), \
                name_key TEXT NOT NULL, \
                description TEXT NOT NULL DEFAULT '', \
                category TEXT NOT NULL DEFAULT '', \
                unit TEXT NOT NULL, \
                price_cents INTEGER NOT NULL CHECK (price_cents >= 0), \
                min_stock INTEGER NOT NULL CHECK (min_stock >= 0), \
                location TEXT NOT NULL DEFAULT '', \
                barcode TEXT CHECK (barcode IS NULL OR length(barcode) >= 1), \
                archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)), \
                version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1), \
                created_at TEXT NOT NULL, \
                updated_at TEXT NOT NULL, \
                created_by TEXT NOT NULL, \
                search TEXT NOT NULL)",
            // Uniqueness lives in the schema, so two concurrent writers
            // cannot both pass a check made before their insert.
            "CREATE UNIQUE INDEX IF NOT EXISTS pieces_reference_key ON pieces (reference_key)",
            "CREATE UNIQUE INDEX IF NOT EXISTS pieces_barcode ON pieces (barcode) WHERE barcode IS NOT NULL",
            // One index per ordering, so a page of a large catalogue reads
            // its rows in order instead of sorting the whole table.
            "CREATE INDEX IF NOT EXISTS pieces_name_key ON pieces (name_key, id)",
            "CREATE INDEX IF NOT EXISTS pieces_updated_at ON pieces (updated_at, id)",
            "CREATE INDEX IF NOT EXISTS pieces_category ON pieces (category, reference_key)",
            "CREATE INDEX IF NOT EXISTS pieces_archived ON pieces (archived, reference_key)",
            // Substring search in an index: FTS5's trigram tokenizer finds
            // any run of three or more characters, as `LIKE '%run%'` would,
            // without reading every row. The table holds no copy of the
            // text (`content=`); the triggers keep it in step with `search`.
            "CREATE VIRTUAL TABLE IF NOT EXISTS pieces_fts USING fts5(\
                search, content='pieces', content_rowid='id', tokenize='trigram')",
            "CREATE TRIGGER IF NOT EXISTS pieces_fts_insert AFTER INSERT ON pieces BEGIN \
                INSERT INTO pieces_fts (rowid, search) VALUES (new.id, new.search); \
             END",
            "CREATE TRIGGER IF NOT EXISTS pieces_fts_delete AFTER DELETE ON pieces BEGIN \
                INSERT INTO pieces_fts (pieces_fts, rowid, search) VALUES ('delete', old.id, old.search); \
             END",
            "CREATE TRIGGER IF NOT EXISTS pieces_fts_update AFTER UPDATE OF search ON pieces BEGIN \
                INSERT INTO pieces_fts (pieces_fts, rowid, search) VALUES ('delete', old.id, old.search); \
                INSERT INTO pieces_fts (rowid, search) VALUES (new.id, new.search); \
             END",
        ],
    },
    Migration {
        version: 3,
        statements: &[
            // The outbox of catalogue changes: what stock must learn, oldest
            // first, written by the triggers below in the statement that
            // makes the change (an import of 10,000 pieces included), so
            // none is lost; delivered right after the response, and by the
            // sidecar's flush in the stack, then deleted (`outbox.rs`).
            // Stock keeps the newest version of each piece, so a repeated or
            // late delivery changes nothing. The trigger bodies guard with
            // NOT EXISTS rather than `OR IGNORE`, which the import's upsert
            // would override.
            "CREATE TABLE IF NOT EXISTS outbox (\
                seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                piece_id INTEGER NOT NULL, \
                version INTEGER NOT NULL, \
                payload TEXT NOT NULL, \
                UNIQUE (piece_id, version))",
            outbox_piece_added!(),
            outbox_piece_changed!(),
            "CREATE TRIGGER IF NOT EXISTS outbox_piece_deleted AFTER DELETE ON pieces BEGIN \
                INSERT INTO outbox (piece_id, version, payload) SELECT OLD.id, OLD.version + 1, \
                    json_object('id', OLD.id, 'version', OLD.version + 1, 'reference', OLD.reference, \
                    'name', OLD.name, 'category', OLD.category, 'unit', OLD.unit, 'min_stock', OLD.min_stock, \
                    'archived', json(CASE WHEN OLD.archived THEN 'true' ELSE 'false' END), 'deleted', json('true')) \
                WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE piece_id = OLD.id AND version = OLD.version + 1); \
             END",
            // Pieces created before stock learnt of every change: each is
            // told once.
            "INSERT OR IGNORE INTO outbox (piece_id, version, payload) \
             SELECT id, version, json_object('id', pieces.id, 'version', pieces.version, 'reference', pieces.reference, \
                    'name', pieces.name, 'category', pieces.category, 'unit', pieces.unit, 'min_stock', pieces.min_stock, \
                    'archived', json(CASE WHEN pieces.archived THEN 'true' ELSE 'false' END), 'deleted', json('false')) FROM pieces",
        ],
    },
    Migration {
        version: 4,
        statements: &[
            // Who made a piece's latest change: every write sets it, so the
            // audit trigger below can name them.
            "ALTER TABLE pieces ADD COLUMN updated_by TEXT NOT NULL DEFAULT ''",
            // The audit trail of the catalogue: one row per created,
            // changed, archived or deleted piece, with who, when, and the
            // piece before and after (`NULL` for a creation's before and a
            // deletion's after); written by the triggers of the statement
            // that makes the change, never updated nor deleted.
            "CREATE TABLE IF NOT EXISTS audit (\
                id INTEGER PRIMARY KEY, \
                piece_id INTEGER NOT NULL, \
                action TEXT NOT NULL CHECK (action IN ('create', 'update', 'archive', 'restore', 'delete')), \
                username TEXT NOT NULL, \
                at TEXT NOT NULL, \
                before TEXT, \
                after TEXT)",
            "CREATE INDEX IF NOT EXISTS audit_by_piece ON audit (piece_id, id)",
            "CREATE INDEX IF NOT EXISTS audit_by_user ON audit (username, id)",
            "CREATE INDEX IF NOT EXISTS audit_by_date ON audit (at)",
            "CREATE TRIGGER IF NOT EXISTS audit_is_never_updated BEFORE UPDATE ON audit \
             BEGIN SELECT RAISE(ABORT, 'the audit trail is never updated'); END",
            "CREATE TRIGGER IF NOT EXISTS audit_is_never_deleted BEFORE DELETE ON audit \
             BEGIN SELECT RAISE(ABORT, 'the audit trail is never deleted'); END",
            concat!(
                "CREATE TRIGGER IF NOT EXISTS audit_piece_created AFTER INSERT ON pieces BEGIN \
                 INSERT INTO audit (piece_id, action, username, at, before, after) \
                 VALUES (NEW.id, 'create', NEW.created_by, NEW.created_at, NULL, ",
                snapshot!("NEW"),
                "); END"
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS audit_piece_changed AFTER UPDATE ON pieces \
                 WHEN NEW.version <> OLD.version BEGIN \
                 INSERT INTO audit (piece_id, action, username, at, before, after) \
                 VALUES (NEW.id, CASE WHEN NEW.archived AND NOT OLD.archived THEN 'archive' \
                    WHEN OLD.archived AND NOT NEW.archived THEN 'restore' ELSE 'update' END, \
                    NEW.updated_by, NEW.updated_at, ",
                snapshot!("OLD"),
                ", ",
                snapshot!("NEW"),
                "); END"
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS audit_piece_deleted AFTER DELETE ON pieces BEGIN \
                 INSERT INTO audit (piece_id, action, username, at, before, after) \
                 VALUES (OLD.id, 'delete', OLD.updated_by, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ",
                snapshot!("OLD"),
                ", NULL); END"
            ),
        ],
    },
    Migration {
        version: 5,
        statements: &[
            // Stock values its stock at the catalogue's prices: every
            // change now carries the price, and each piece is told once
            // more as it is (stock takes a price for a version it already
            // holds without one). A change still pending keeps its payload
            // without a price; stock's next read of that piece fills it.
            "DROP TRIGGER IF EXISTS outbox_piece_added",
            "DROP TRIGGER IF EXISTS outbox_piece_changed",
            outbox_piece_added!(),
            outbox_piece_changed!(),
            "INSERT OR IGNORE INTO outbox (piece_id, version, payload) \
             SELECT id, version, json_object('id', pieces.id, 'version', pieces.version, 'reference', pieces.reference, \
                    'name', pieces.name, 'category', pieces.category, 'unit', pieces.unit, 'min_stock', pieces.min_stock, \
                    'price_cents', pieces.price_cents, \
                    'archived', json(CASE WHEN pieces.archived THEN 'true' ELSE 'false' END), 'deleted', json('false')) FROM pieces",
        ],
    },
];

#[cfg(test)]
mod tests {
    use kit::migrate::validate;

    use super::MIGRATIONS;

    #[test]
    fn migrations_are_ordered_and_idempotent() {
        assert_eq!(validate(MIGRATIONS), Ok(()));
    }
}
