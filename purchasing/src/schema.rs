//! The `purchasing` database, oldest step first (see `kit::migrate`).
//!
//! Every write the API makes is one statement; what must move with it (an
//! order's lines, what a line has received, the order's status) moves in
//! that statement's triggers, so nothing is half written on a host that
//! gives no transaction across statements (libSQL over HTTP).

use kit::migrate::Migration;
use spin_sdk::sqlite::QueryResult;

/// Statuses in which an order still waits for goods: what they have not
/// received yet is "on order".
macro_rules! open_statuses {
    () => {
        "('draft', 'sent', 'partial')"
    };
}
pub(crate) use open_statuses;

/// Inserts `NEW.staged_lines` as `NEW`'s lines and empties the column.
macro_rules! stage_lines {
    () => {
        concat!("INSERT INTO order_lines (order_id, piece_id, reference, name, supplier_reference, quantity, unit_price_cents) \
            SELECT NEW.id, json_extract(value, '$.piece_id'), json_extract(value, '$.reference'), \
                json_extract(value, '$.name'), json_extract(value, '$.supplier_reference'), \
                json_extract(value, '$.quantity'), json_extract(value, '$.unit_price_cents') \
            FROM json_each(NEW.staged_lines) \
            WHERE json_type(value, '$.on_order') IS NULL \
               OR json_extract(value, '$.on_order') = (SELECT COALESCE(SUM(MAX(l.quantity - l.received, 0)), 0) \
                    FROM order_lines AS l JOIN orders AS o ON o.id = l.order_id \
                    WHERE l.piece_id = json_extract(value, '$.piece_id') \
                      AND o.status IN ", open_statuses!(), " AND o.id <> NEW.id); \
         UPDATE orders SET staged_lines = NULL WHERE id = NEW.id;")
    };
}

/// An order whose lines have received something is partly or wholly
/// received; one that has received nothing (all refused) is back to sent.
macro_rules! follow_receipts {
    () => {
        "UPDATE orders SET \
            status = CASE \
                WHEN NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = NEW.order_id AND received < quantity) THEN 'received' \
                WHEN EXISTS (SELECT 1 FROM order_lines WHERE order_id = NEW.order_id AND received > 0) THEN 'partial' \
                ELSE 'sent' END, \
            closed_at = CASE WHEN NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = NEW.order_id AND received < quantity) \
                THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END, \
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
         WHERE id = NEW.order_id AND status IN ('sent', 'partial', 'received');"
    };
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        // Says whose file this is, for anyone who opens it with `sqlite3`.
        statements: &[
            "CREATE TABLE IF NOT EXISTS service_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('service', 'purchasing')",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE IF NOT EXISTS suppliers (\
                id INTEGER PRIMARY KEY, \
                name TEXT NOT NULL UNIQUE COLLATE NOCASE, \
                contact TEXT NOT NULL DEFAULT '', \
                email TEXT NOT NULL DEFAULT '', \
                phone TEXT NOT NULL DEFAULT '', \
                notes TEXT NOT NULL DEFAULT '', \
                archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)), \
                created_at TEXT NOT NULL, \
                updated_at TEXT NOT NULL)",
            // What a supplier sells a piece for; pieces are the catalogue's
            // ids (another service's), so no foreign key reaches them.
            "CREATE TABLE IF NOT EXISTS offers (\
                id INTEGER PRIMARY KEY, \
                supplier_id INTEGER NOT NULL REFERENCES suppliers (id), \
                piece_id INTEGER NOT NULL CHECK (piece_id > 0), \
                supplier_reference TEXT NOT NULL DEFAULT '', \
                unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0), \
                currency TEXT NOT NULL CHECK (length(currency) = 3), \
                min_order_quantity INTEGER NOT NULL DEFAULT 1 CHECK (min_order_quantity >= 1), \
                pack_size INTEGER NOT NULL DEFAULT 1 CHECK (pack_size >= 1), \
                lead_time_days INTEGER NOT NULL DEFAULT 0 CHECK (lead_time_days >= 0), \
                preferred INTEGER NOT NULL DEFAULT 0 CHECK (preferred IN (0, 1)), \
                created_at TEXT NOT NULL, \
                updated_at TEXT NOT NULL, \
                UNIQUE (supplier_id, piece_id))",
            "CREATE INDEX IF NOT EXISTS offers_by_piece ON offers (piece_id)",
            "CREATE UNIQUE INDEX IF NOT EXISTS one_preferred_offer ON offers (piece_id) WHERE preferred = 1",
            // Choosing an offer unchooses the piece's other one in the same
            // statement.
            "CREATE TRIGGER IF NOT EXISTS offer_preferred_on_insert BEFORE INSERT ON offers \
             WHEN NEW.preferred = 1 BEGIN \
                UPDATE offers SET preferred = 0 WHERE piece_id = NEW.piece_id AND preferred = 1; END",
            "CREATE TRIGGER IF NOT EXISTS offer_preferred_on_update BEFORE UPDATE OF preferred ON offers \
             WHEN NEW.preferred = 1 AND OLD.preferred = 0 BEGIN \
                UPDATE offers SET preferred = 0 WHERE piece_id = NEW.piece_id AND preferred = 1 AND id <> NEW.id; END",
            // How many units a piece is brought back up to when it is
            // reordered; without a row, twice its minimum.
            "CREATE TABLE IF NOT EXISTS targets (\
                piece_id INTEGER PRIMARY KEY, \
                target INTEGER NOT NULL CHECK (target >= 0), \
                updated_at TEXT NOT NULL)",
            // `staged_lines` carries an order's lines into the statement
            // that creates or edits it (JSON), and is emptied by the
            // trigger that writes them.
            "CREATE TABLE IF NOT EXISTS orders (\
                id INTEGER PRIMARY KEY, \
                supplier_id INTEGER NOT NULL REFERENCES suppliers (id), \
                status TEXT NOT NULL DEFAULT 'draft' \
                    CHECK (status IN ('draft', 'sent', 'partial', 'received', 'cancelled')), \
                currency TEXT NOT NULL CHECK (length(currency) = 3), \
                note TEXT NOT NULL DEFAULT '', \
                created_by TEXT NOT NULL, \
                created_at TEXT NOT NULL, \
                updated_at TEXT NOT NULL, \
                sent_at TEXT, \
                closed_at TEXT, \
                staged_lines TEXT)",
            "CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, id)",
            "CREATE TABLE IF NOT EXISTS order_lines (\
                id INTEGER PRIMARY KEY, \
                order_id INTEGER NOT NULL REFERENCES orders (id), \
                piece_id INTEGER NOT NULL, \
                reference TEXT NOT NULL, \
                name TEXT NOT NULL, \
                supplier_reference TEXT NOT NULL DEFAULT '', \
                quantity INTEGER NOT NULL CHECK (quantity > 0), \
                unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0), \
                received INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0), \
                UNIQUE (order_id, piece_id))",
            "CREATE INDEX IF NOT EXISTS order_lines_by_piece ON order_lines (piece_id)",
            // A new order's lines, or a draft's new set of lines. A line
            // staged with `on_order` (the reorder list's) is written only if
            // the piece still has exactly that much on order: two "create
            // the orders" at once order each piece once.
            concat!(
                "CREATE TRIGGER IF NOT EXISTS order_lines_staged_on_insert AFTER INSERT ON orders \
                 WHEN NEW.staged_lines IS NOT NULL BEGIN ",
                stage_lines!(),
                " END"
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS order_lines_staged_on_update AFTER UPDATE OF staged_lines ON orders \
                 WHEN NEW.staged_lines IS NOT NULL BEGIN \
                    DELETE FROM order_lines WHERE order_id = NEW.id; ",
                stage_lines!(),
                " END"
            ),
            // A draft goes with its lines (sent orders are never deleted).
            "CREATE TRIGGER IF NOT EXISTS order_lines_go_with_draft BEFORE DELETE ON orders BEGIN \
                DELETE FROM order_lines WHERE order_id = OLD.id; END",
            // One row per order line received at once. `receipt` groups the
            // rows of one request (its idempotency key, or a random one);
            // `state` follows the IN movement in stock: pending until stock
            // records it, then recorded (with its movement) or refused.
            "CREATE TABLE IF NOT EXISTS receptions (\
                id INTEGER PRIMARY KEY, \
                receipt TEXT NOT NULL, \
                fingerprint TEXT NOT NULL, \
                order_id INTEGER NOT NULL REFERENCES orders (id), \
                line_id INTEGER NOT NULL REFERENCES order_lines (id), \
                piece_id INTEGER NOT NULL, \
                quantity INTEGER NOT NULL CHECK (quantity > 0), \
                location_id INTEGER, \
                over_receipt INTEGER NOT NULL DEFAULT 0 CHECK (over_receipt IN (0, 1)), \
                user_id INTEGER NOT NULL, \
                username TEXT NOT NULL, \
                created_at TEXT NOT NULL, \
                state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'recorded', 'refused')), \
                detail TEXT, \
                movement_id INTEGER, \
                attempts INTEGER NOT NULL DEFAULT 0, \
                next_attempt_at TEXT NOT NULL, \
                UNIQUE (receipt, line_id))",
            "CREATE INDEX IF NOT EXISTS receptions_pending ON receptions (next_attempt_at) WHERE state = 'pending'",
            "CREATE INDEX IF NOT EXISTS receptions_by_order ON receptions (order_id)",
            // Goods are received on a sent order, and no more than it
            // awaits unless the receipt says so: the whole statement fails,
            // so a receipt is recorded whole or not at all.
            "CREATE TRIGGER IF NOT EXISTS reception_on_sent_order BEFORE INSERT ON receptions \
             WHEN (SELECT status FROM orders WHERE id = NEW.order_id) NOT IN ('sent', 'partial', 'received') \
             BEGIN SELECT RAISE(ABORT, 'order not receivable'); END",
            "CREATE TRIGGER IF NOT EXISTS reception_within_order BEFORE INSERT ON receptions \
             WHEN NEW.over_receipt = 0 \
              AND (SELECT received + NEW.quantity > quantity FROM order_lines WHERE id = NEW.line_id) \
             BEGIN SELECT RAISE(ABORT, 'over-receipt'); END",
            // Goods in: the line counts them and the order's status follows,
            // in the statement that records the reception.
            concat!(
                "CREATE TRIGGER IF NOT EXISTS reception_counts AFTER INSERT ON receptions BEGIN \
                    UPDATE order_lines SET received = received + NEW.quantity WHERE id = NEW.line_id; ",
                follow_receipts!(),
                " END"
            ),
            // Stock refused the movement: the goods are not in, the line
            // forgets them.
            concat!(
                "CREATE TRIGGER IF NOT EXISTS reception_refused AFTER UPDATE OF state ON receptions \
                 WHEN NEW.state = 'refused' AND OLD.state = 'pending' BEGIN \
                    UPDATE order_lines SET received = received - NEW.quantity WHERE id = NEW.line_id; ",
                follow_receipts!(),
                " END"
            ),
        ],
    },
];

/// Now, UTC, ISO-8601 with milliseconds.
pub const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// The id an `INSERT ... RETURNING id` wrote.
pub fn inserted_id(result: &QueryResult) -> Result<i64, kit::Error> {
    result
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("id"))
        .ok_or_else(|| kit::Error::Internal("no id returned".into()))
}

/// `Ok` when a `... RETURNING id` touched its row, 404 when there was none.
pub fn found(result: &QueryResult) -> Result<(), kit::Error> {
    match result.rows().next() {
        Some(_) => Ok(()),
        None => Err(kit::Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use kit::migrate::validate;

    use super::MIGRATIONS;

    #[test]
    fn migrations_are_ordered_and_idempotent() {
        assert_eq!(validate(MIGRATIONS), Ok(()));
    }
}
