//! The `auth` database schema, oldest step first (see `kit::migrate`).

use kit::migrate::Migration;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        // Says whose file this is, for anyone who opens it with `sqlite3`.
        statements: &[
            "CREATE TABLE IF NOT EXISTS service_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT OR IGNORE INTO service_meta (key, value) VALUES ('service', 'auth')",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            // `username_key` is the username lower-cased (Unicode-aware, in
            // Rust): the UNIQUE constraint on it makes `Alice` and `alice`
            // one account, atomically, whatever the concurrency.
            "CREATE TABLE IF NOT EXISTS users (\
                id INTEGER PRIMARY KEY, \
                username TEXT NOT NULL, \
                username_key TEXT NOT NULL UNIQUE, \
                password_hash TEXT NOT NULL, \
                role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'manager', 'admin')), \
                is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)), \
                date_joined TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), \
                last_login TEXT)",
            // A family is one login session: every refresh token rotated from
            // one login. Revoking it ends the session at once.
            "CREATE TABLE IF NOT EXISTS refresh_families (\
                id TEXT PRIMARY KEY, \
                user_id INTEGER NOT NULL REFERENCES users (id), \
                created_at INTEGER NOT NULL, \
                revoked_at INTEGER)",
            "CREATE INDEX IF NOT EXISTS refresh_families_user ON refresh_families (user_id)",
            // Only the SHA-256 of a refresh token is stored: a copy of the
            // database does not let anyone refresh. `used_at` set = rotated.
            "CREATE TABLE IF NOT EXISTS refresh_tokens (\
                hash TEXT PRIMARY KEY, \
                family_id TEXT NOT NULL REFERENCES refresh_families (id), \
                expires_at INTEGER NOT NULL, \
                used_at INTEGER)",
            "CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id)",
            // One row per failed login, keyed `user:<username_key>` and
            // `client:<address>`; rows older than the window are pruned.
            "CREATE TABLE IF NOT EXISTS login_failures (\
                id INTEGER PRIMARY KEY, \
                key TEXT NOT NULL, \
                at INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS login_failures_key_at ON login_failures (key, at)",
        ],
    },
    Migration {
        version: 3,
        statements: &[
            // Attempts counted before the password check (`throttle`), for
            // the client's budget: the pair is SHA-256(scope, name, client),
            // so a row's size does not depend on what a caller typed.
            "CREATE TABLE IF NOT EXISTS login_attempts (\
                id INTEGER PRIMARY KEY, \
                pair TEXT NOT NULL, \
                client TEXT NOT NULL, \
                at INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS login_attempts_pair_at ON login_attempts (pair, at)",
            "CREATE INDEX IF NOT EXISTS login_attempts_client_at ON login_attempts (client, at)",
            "CREATE INDEX IF NOT EXISTS login_attempts_at ON login_attempts (at)",
            // Names that logged in from a client: exempt from its budget.
            "CREATE TABLE IF NOT EXISTS login_known (pair TEXT PRIMARY KEY, at INTEGER NOT NULL)",
            "DROP TABLE IF EXISTS login_failures",
        ],
    },
    Migration {
        version: 4,
        statements: &[
            // One client's attempts on one name, as a token bucket.
            "CREATE TABLE IF NOT EXISTS login_buckets (\
                key TEXT PRIMARY KEY, \
                tokens REAL NOT NULL, \
                at INTEGER NOT NULL)",
            "CREATE INDEX IF NOT EXISTS login_buckets_at ON login_buckets (at)",
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
