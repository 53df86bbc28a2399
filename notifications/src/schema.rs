//! The `notifications` database, oldest step first (see `kit::migrate`).

use kit::migrate::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        // Says whose file this is, for anyone who opens it with `sqlite3`.
        statements: &[
            "CREATE TABLE IF NOT EXISTS service_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('service', 'notifications')",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            // One row per notification, whoever it is for. The audience is a
            // minimum role (`audience_role`: that role and above) or one
            // user (`audience_user`). `event_id` is the sender's idempotency
            // key: a redelivered event finds its row instead of a new one.
            "CREATE TABLE IF NOT EXISTS notifications (\
                id INTEGER PRIMARY KEY, \
                event_id TEXT UNIQUE, \
                type TEXT NOT NULL CHECK (type IN ('low_stock', 'out_of_stock', 'back_in_stock', 'manual')), \
                title TEXT NOT NULL, \
                message TEXT NOT NULL, \
                piece_id INTEGER, \
                piece_reference TEXT, \
                piece_name TEXT, \
                piece_category TEXT NOT NULL DEFAULT '', \
                quantity INTEGER, \
                min_stock INTEGER, \
                audience_role INTEGER, \
                audience_user INTEGER, \
                created_by TEXT, \
                created_at TEXT NOT NULL, \
                CHECK ((audience_role IS NULL) <> (audience_user IS NULL)))",
            "CREATE INDEX IF NOT EXISTS notifications_by_date ON notifications (created_at)",
            "CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications (audience_user) WHERE audience_user IS NOT NULL",
            // Read state is per user: one user's mark-read never touches another's.
            "CREATE TABLE IF NOT EXISTS reads (\
                notification_id INTEGER NOT NULL REFERENCES notifications (id), \
                user_id INTEGER NOT NULL, \
                read_at TEXT NOT NULL, \
                PRIMARY KEY (notification_id, user_id)) WITHOUT ROWID",
            // Purging a notification takes its read state along, in the same
            // statement (no reliance on `PRAGMA foreign_keys`).
            "CREATE TRIGGER IF NOT EXISTS notification_purge_takes_reads AFTER DELETE ON notifications \
             BEGIN DELETE FROM reads WHERE notification_id = OLD.id; END",
            // Stock alerts reach managers and admins unless they opt out or
            // restrict them to some categories (JSON array, empty = all).
            "CREATE TABLE IF NOT EXISTS preferences (\
                user_id INTEGER PRIMARY KEY, \
                stock_alerts INTEGER NOT NULL DEFAULT 1, \
                categories TEXT NOT NULL DEFAULT '[]', \
                updated_at TEXT NOT NULL)",
        ],
    },
    Migration {
        version: 3,
        statements: &[
            // Who receives each kind of stock alert: a minimum role (its
            // rank; `NULL`: none) and named users (JSON array of ids),
            // read when an alert is shown (`audience.rs`). Managers and up
            // by default, as before there was a choice.
            "CREATE TABLE IF NOT EXISTS audiences (\
                kind TEXT PRIMARY KEY CHECK (kind IN ('low_stock', 'out_of_stock', 'back_in_stock')), \
                min_role INTEGER, \
                users TEXT NOT NULL DEFAULT '[]', \
                updated_at TEXT NOT NULL)",
            "INSERT OR IGNORE INTO audiences (kind, min_role, users, updated_at) VALUES \
                ('low_stock', 2, '[]', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), \
                ('out_of_stock', 2, '[]', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), \
                ('back_in_stock', 2, '[]', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            // The pieces a user follows (JSON array of ids): their alerts
            // reach the user whatever the audience.
            "ALTER TABLE preferences ADD COLUMN pieces TEXT NOT NULL DEFAULT '[]'",
        ],
    },
    Migration {
        version: 4,
        statements: &[
            // Outgoing webhooks (`webhooks.rs`): where to POST which kinds
            // of event (JSON array), signed with `secret`.
            "CREATE TABLE IF NOT EXISTS webhooks (\
                id INTEGER PRIMARY KEY, \
                name TEXT NOT NULL DEFAULT '', \
                url TEXT NOT NULL, \
                events TEXT NOT NULL, \
                secret TEXT NOT NULL, \
                active INTEGER NOT NULL DEFAULT 1, \
                created_by TEXT NOT NULL, \
                created_at TEXT NOT NULL, \
                updated_at TEXT NOT NULL)",
            // One row per webhook and event, written when the event arrives
            // (UNIQUE: a redelivered event adds none), sent until the
            // receiver acknowledges it: the delivery log.
            "CREATE TABLE IF NOT EXISTS deliveries (\
                id INTEGER PRIMARY KEY, \
                webhook_id INTEGER NOT NULL REFERENCES webhooks (id), \
                event_id TEXT NOT NULL, \
                kind TEXT NOT NULL, \
                payload TEXT NOT NULL, \
                attempts INTEGER NOT NULL DEFAULT 0, \
                created_at TEXT NOT NULL, \
                last_attempt_at TEXT, \
                next_attempt_at TEXT NOT NULL, \
                delivered_at TEXT, \
                last_status INTEGER, \
                last_error TEXT, \
                UNIQUE (webhook_id, event_id))",
            "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) \
             WHERE delivered_at IS NULL",
            "CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, id)",
            // A webhook deleted takes its deliveries along, in its statement.
            "CREATE TRIGGER IF NOT EXISTS webhook_deletion_takes_deliveries AFTER DELETE ON webhooks \
             BEGIN DELETE FROM deliveries WHERE webhook_id = OLD.id; END",
        ],
    },
];

/// Now, UTC, ISO-8601 with milliseconds.
pub const NOW_SQL: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

#[cfg(test)]
mod tests {
    use kit::migrate::validate;

    use super::MIGRATIONS;

    #[test]
    fn migrations_are_ordered_and_idempotent() {
        assert_eq!(validate(MIGRATIONS), Ok(()));
    }

    #[test]
    fn the_default_audience_is_the_rank_of_managers() {
        let defaults = MIGRATIONS[2].statements[1];
        let rank = crate::inbox::rank(crate::inbox::STOCK_ALERT_AUDIENCE);
        assert_eq!(defaults.matches(&format!("', {rank}, '[]'")).count(), 3);
    }
}
