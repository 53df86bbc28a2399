//! The `notifications` database schema, oldest step first (see `kit::migrate`).

use kit::migrate::Migration;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    // Says whose file this is, for anyone who opens it with `sqlite3`.
    statements: &[
        "CREATE TABLE IF NOT EXISTS service_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('service', 'notifications')",
    ],
}];

#[cfg(test)]
mod tests {
    use kit::migrate::validate;

    use super::MIGRATIONS;

    #[test]
    fn migrations_are_ordered_and_idempotent() {
        assert_eq!(validate(MIGRATIONS), Ok(()));
    }
}
