//! A tiny migration runner: ordered steps, each applied once per database and
//! recorded in `schema_version`.
//!
//! Replicas of a service share one SQLite file and may start at the same
//! moment, and a Spin host promises no transaction spanning several `execute`
//! calls. So the runner takes no lock: two instances may both find a step
//! pending and both apply it. That is safe because every statement must be
//! idempotent (`CREATE ... IF NOT EXISTS`, `INSERT OR IGNORE`,
//! `DROP ... IF EXISTS`; [`validate`] enforces it) and recording a version is
//! itself an `INSERT OR IGNORE`. A step is recorded only after all of its
//! statements succeeded, so a step cut short is simply re-run.
//!
//! Every request opens the database afresh (a new instance remembers
//! nothing), so the check that nothing is pending must be cheap: once every
//! step is recorded, the runner stores their count in the header's
//! `user_version`, and one `PRAGMA user_version` then answers. A list that
//! grew since finds a smaller count and takes the full path again.
//!
//! Each statement string holds exactly one SQL statement (hosts prepare one at
//! a time) and starts with its keyword, no comment before it. SQLite has no
//! idempotent `ALTER TABLE ... ADD COLUMN`: the runner guards it, running it
//! only while the table lacks the column (and taking "it exists now" from a
//! replica that added it at the same moment as done).

use spin_sdk::sqlite::{Connection, Value};

use crate::Error;

/// One schema step.
#[derive(Debug)]
pub struct Migration {
    /// Position in the list, starting at 1; never reused or renumbered.
    pub version: i64,
    /// Idempotent statements, applied in order.
    pub statements: &'static [&'static str],
}

/// Why a migration list is unusable; a programming error, caught by each
/// service's unit test and, as a last resort, at run time.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMigrations {
    #[error("migration at position {position} has version {version}; versions must be 1, 2, 3...")]
    OutOfOrder { position: usize, version: i64 },
    #[error("migration {version} has no statement")]
    Empty { version: i64 },
    #[error("migration {version} has a statement that is not idempotent: {statement}")]
    NotIdempotent {
        version: i64,
        statement: &'static str,
    },
}

const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS schema_version (\
     version INTEGER PRIMARY KEY, \
     applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))";
const SELECT_APPLIED: &str = "SELECT version FROM schema_version";
const RECORD_APPLIED: &str = "INSERT OR IGNORE INTO schema_version (version) VALUES (?)";
const READ_COMPLETE: &str = "PRAGMA user_version";

/// Statement openings that can run any number of times with one effect.
const IDEMPOTENT_OPENINGS: &[&[&str]] = &[
    &["CREATE", "TABLE", "IF", "NOT", "EXISTS"],
    &["CREATE", "INDEX", "IF", "NOT", "EXISTS"],
    &["CREATE", "UNIQUE", "INDEX", "IF", "NOT", "EXISTS"],
    &["CREATE", "TRIGGER", "IF", "NOT", "EXISTS"],
    &["CREATE", "VIEW", "IF", "NOT", "EXISTS"],
    &["CREATE", "VIRTUAL", "TABLE", "IF", "NOT", "EXISTS"],
    &["INSERT", "OR", "IGNORE"],
    &["DROP", "TABLE", "IF", "EXISTS"],
    &["DROP", "INDEX", "IF", "EXISTS"],
    &["DROP", "TRIGGER", "IF", "EXISTS"],
    &["DROP", "VIEW", "IF", "EXISTS"],
];

/// Applies the steps of `migrations` that `connection`'s database lacks.
pub fn run(connection: &Connection, migrations: &[Migration]) -> Result<(), Error> {
    let complete = connection
        .execute(READ_COMPLETE, &[])?
        .rows
        .first()
        .and_then(|row| row.get::<i64>(0))
        .unwrap_or(0);
    if up_to_date(complete, migrations) {
        return Ok(());
    }
    validate(migrations).map_err(|invalid| Error::Internal(invalid.into()))?;
    connection.execute(CREATE_SCHEMA_VERSION, &[])?;
    let applied: Vec<i64> = connection
        .execute(SELECT_APPLIED, &[])?
        .rows
        .iter()
        .filter_map(|row| row.get::<i64>(0))
        .collect();
    for migration in pending(migrations, &applied) {
        for statement in migration.statements {
            apply(connection, statement)?;
        }
        connection.execute(RECORD_APPLIED, &[Value::Integer(migration.version)])?;
    }
    // A pragma takes no parameter; the count is an integer we computed.
    connection.execute(&format!("PRAGMA user_version = {}", migrations.len()), &[])?;
    Ok(())
}

/// Runs one statement of a step; an added column only while it is missing.
fn apply(connection: &Connection, statement: &str) -> Result<(), Error> {
    let Some((table, column)) = added_column(statement) else {
        connection.execute(statement, &[])?;
        return Ok(());
    };
    let has_column = || -> Result<bool, Error> {
        let found = connection.execute(
            "SELECT 1 FROM pragma_table_info(?) WHERE name = ?",
            &[
                Value::Text(table.to_owned()),
                Value::Text(column.to_owned()),
            ],
        )?;
        Ok(!found.rows.is_empty())
    };
    if has_column()? {
        return Ok(());
    }
    match connection.execute(statement, &[]) {
        Ok(_) => Ok(()),
        Err(_) if has_column()? => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// `(table, column)` of an `ALTER TABLE <table> ADD COLUMN <column> ...`.
fn added_column(statement: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = statement.split_whitespace().take(6).collect();
    let keyword = |index: usize, expected: &str| {
        words
            .get(index)
            .is_some_and(|word| word.eq_ignore_ascii_case(expected))
    };
    (words.len() == 6
        && keyword(0, "ALTER")
        && keyword(1, "TABLE")
        && keyword(3, "ADD")
        && keyword(4, "COLUMN"))
    .then(|| (words[2], words[5]))
}

/// Whether a database whose header records `complete` steps has every one
/// of `migrations` (versions count from 1, so the last is their count).
fn up_to_date(complete: i64, migrations: &[Migration]) -> bool {
    i64::try_from(migrations.len()).is_ok_and(|count| complete >= count)
}

/// Checks that versions run 1, 2, 3... and that every statement is idempotent.
pub fn validate(migrations: &[Migration]) -> Result<(), InvalidMigrations> {
    for (index, migration) in migrations.iter().enumerate() {
        let position = index + 1;
        if i64::try_from(position) != Ok(migration.version) {
            return Err(InvalidMigrations::OutOfOrder {
                position,
                version: migration.version,
            });
        }
        if migration.statements.is_empty() {
            return Err(InvalidMigrations::Empty {
                version: migration.version,
            });
        }
        if let Some(statement) = migration
            .statements
            .iter()
            .find(|statement| !is_idempotent(statement))
        {
            return Err(InvalidMigrations::NotIdempotent {
                version: migration.version,
                statement,
            });
        }
    }
    Ok(())
}

/// The steps not yet recorded in `applied`, in order.
fn pending<'m>(
    migrations: &'m [Migration],
    applied: &[i64],
) -> impl Iterator<Item = &'m Migration> {
    migrations
        .iter()
        .filter(move |migration| !applied.contains(&migration.version))
}

fn is_idempotent(statement: &str) -> bool {
    let words: Vec<String> = statement
        .split_whitespace()
        .take(6)
        .map(str::to_ascii_uppercase)
        .collect();
    added_column(statement).is_some()
        || IDEMPOTENT_OPENINGS.iter().any(|opening| {
            words.len() >= opening.len() && words.iter().zip(*opening).all(|(w, o)| w == o)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_STEPS: &[Migration] = &[
        Migration {
            version: 1,
            statements: &["CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY)"],
        },
        Migration {
            version: 2,
            statements: &[
                "create  index if not exists a_id\n ON a (id)",
                "INSERT OR IGNORE INTO a (id) VALUES (1)",
            ],
        },
    ];

    #[test]
    fn an_added_column_is_guarded_by_name() {
        assert_eq!(
            added_column("ALTER TABLE pieces ADD COLUMN updated_by TEXT NOT NULL DEFAULT ''"),
            Some(("pieces", "updated_by"))
        );
        assert_eq!(added_column("alter table t add column c"), Some(("t", "c")));
        assert_eq!(added_column("ALTER TABLE t RENAME COLUMN a TO b"), None);
        assert!(!is_idempotent("ALTER TABLE t DROP COLUMN c"));
    }

    #[test]
    fn a_valid_list_passes() {
        assert_eq!(validate(TWO_STEPS), Ok(()));
        assert_eq!(validate(&[]), Ok(()));
    }

    #[test]
    fn versions_must_count_from_one() {
        let list = [Migration {
            version: 2,
            statements: &["CREATE TABLE IF NOT EXISTS a (id INTEGER)"],
        }];
        assert_eq!(
            validate(&list),
            Err(InvalidMigrations::OutOfOrder {
                position: 1,
                version: 2
            })
        );
    }

    #[test]
    fn a_step_needs_a_statement() {
        let list = [Migration {
            version: 1,
            statements: &[],
        }];
        assert_eq!(
            validate(&list),
            Err(InvalidMigrations::Empty { version: 1 })
        );
    }

    #[test]
    fn non_idempotent_statements_are_refused() {
        for statement in [
            "CREATE TABLE a (id INTEGER)",
            "INSERT INTO a (id) VALUES (1)",
            "ALTER TABLE a RENAME TO b",
            "-- comment\nCREATE TABLE IF NOT EXISTS a (id INTEGER)",
            "CREATE TABLE IF",
            "CREATE VIRTUAL TABLE f USING fts5(t)",
        ] {
            assert!(!is_idempotent(statement), "{statement}");
        }
    }

    #[test]
    fn idempotent_statements_are_recognised_whatever_the_spacing_and_case() {
        for statement in [
            "CREATE TABLE IF NOT EXISTS a (id INTEGER)",
            "create unique index if not exists a_id on a (id)",
            "CREATE\tTRIGGER IF NOT EXISTS t AFTER INSERT ON a BEGIN SELECT 1; END",
            "insert or ignore into a values (1)",
            "ALTER TABLE a ADD COLUMN b TEXT",
            "DROP VIEW IF EXISTS v",
            "CREATE VIRTUAL TABLE IF NOT EXISTS f USING fts5(t)",
        ] {
            assert!(is_idempotent(statement), "{statement}");
        }
    }

    #[test]
    fn pending_skips_recorded_versions_and_keeps_order() {
        let versions: Vec<i64> = pending(TWO_STEPS, &[1]).map(|m| m.version).collect();
        assert_eq!(versions, [2]);
        let versions: Vec<i64> = pending(TWO_STEPS, &[]).map(|m| m.version).collect();
        assert_eq!(versions, [1, 2]);
        assert_eq!(pending(TWO_STEPS, &[2, 1]).count(), 0);
    }

    #[test]
    fn only_a_header_counting_every_step_skips_the_runner() {
        assert!(up_to_date(2, TWO_STEPS));
        assert!(up_to_date(3, TWO_STEPS), "a newer list ran here before");
        assert!(!up_to_date(1, TWO_STEPS), "the list grew since");
        assert!(
            !up_to_date(0, TWO_STEPS),
            "a database this runner never completed"
        );
        assert!(up_to_date(0, &[]));
    }

    #[test]
    fn bookkeeping_statements_are_idempotent_themselves() {
        assert!(is_idempotent(CREATE_SCHEMA_VERSION));
        assert!(is_idempotent(RECORD_APPLIED));
    }
}
