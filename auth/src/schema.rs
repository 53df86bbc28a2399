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
    Migration {
        version: 5,
        statements: &[
            // Who made an account's latest change: every write sets it, so
            // the audit triggers below can name them.
            "ALTER TABLE users ADD COLUMN changed_by TEXT NOT NULL DEFAULT ''",
            // The accounts' audit trail: each creation, and each change of
            // role, active flag or password (never the hash: only that it
            // changed), with who, when, before and after; written in the
            // statement that makes the change, never updated nor deleted.
            "CREATE TABLE IF NOT EXISTS user_audit (\
                id INTEGER PRIMARY KEY, \
                user_id INTEGER NOT NULL, \
                username TEXT NOT NULL, \
                action TEXT NOT NULL CHECK (action IN ('create', 'update')), \
                actor TEXT NOT NULL, \
                at TEXT NOT NULL, \
                before TEXT, \
                after TEXT NOT NULL, \
                password_changed INTEGER NOT NULL CHECK (password_changed IN (0, 1)))",
            "CREATE INDEX IF NOT EXISTS user_audit_by_user ON user_audit (user_id, id)",
            "CREATE INDEX IF NOT EXISTS user_audit_by_actor ON user_audit (actor, id)",
            "CREATE INDEX IF NOT EXISTS user_audit_by_date ON user_audit (at)",
            "CREATE TRIGGER IF NOT EXISTS user_audit_is_never_updated BEFORE UPDATE ON user_audit \
             BEGIN SELECT RAISE(ABORT, 'the audit trail is never updated'); END",
            "CREATE TRIGGER IF NOT EXISTS user_audit_is_never_deleted BEFORE DELETE ON user_audit \
             BEGIN SELECT RAISE(ABORT, 'the audit trail is never deleted'); END",
            concat!(
                "CREATE TRIGGER IF NOT EXISTS user_audit_created AFTER INSERT ON users BEGIN \
                 INSERT INTO user_audit (user_id, username, action, actor, at, before, after, password_changed) \
                 VALUES (NEW.id, NEW.username, 'create', NEW.changed_by, ",
                now!(),
                ", NULL, ",
                account!("NEW"),
                ", 0); END"
            ),
            concat!(
                "CREATE TRIGGER IF NOT EXISTS user_audit_changed AFTER UPDATE OF role, is_active, password_hash ON users \
                 WHEN OLD.role IS NOT NEW.role OR OLD.is_active IS NOT NEW.is_active \
                   OR OLD.password_hash IS NOT NEW.password_hash BEGIN \
                 INSERT INTO user_audit (user_id, username, action, actor, at, before, after, password_changed) \
                 VALUES (NEW.id, NEW.username, 'update', NEW.changed_by, ",
                now!(),
                ", ",
                account!("OLD"),
                ", ",
                account!("NEW"),
                ", OLD.password_hash IS NOT NEW.password_hash); END"
            ),
        ],
    },
];

/// What the audit trail keeps of an account, from `NEW` or `OLD`.
macro_rules! account {
    ($row:literal) => {
        concat!(
            "json_object('username', ",
            $row,
            ".username, 'role', ",
            $row,
            ".role, \
             'is_active', json(CASE WHEN ",
            $row,
            ".is_active THEN 'true' ELSE 'false' END))"
        )
    };
}
use account;

/// Now, UTC, ISO 8601 with milliseconds.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}
use now;

#[cfg(test)]
mod tests {
    use kit::migrate::validate;

    use super::MIGRATIONS;

    #[test]
    fn migrations_are_ordered_and_idempotent() {
        assert_eq!(validate(MIGRATIONS), Ok(()));
    }
}
