//! Which unique constraint, or which trigger, refused a write.
//!
//! Spin's `fermyon:spin/sqlite` interface reports a constraint failure as
//! `io(message)`: no error code crosses it, on Spin as on our host. This is
//! the one place that reads SQLite's fixed wording (`UNIQUE constraint
//! failed: t.a, t.b`, which a remote backend may prefix), so services match
//! on columns, never on message text.

use spin_sdk::sqlite::Error;

/// Whether `error` is a unique constraint on `column` (`table.column`).
pub fn is_unique_violation(error: &Error, column: &str) -> bool {
    unique_columns(error).is_some_and(|columns| columns.contains(&column))
}

/// Whether `error` is a trigger's `RAISE(ABORT, message)` (the message is
/// a marker the schema and its service share).
pub fn is_raised(error: &Error, message: &str) -> bool {
    matches!(error, Error::Io(text) if text.lines().any(|line| line.trim().ends_with(message)))
}

/// The `table.column`s of the unique constraint `error` reports, if it is one.
fn unique_columns(error: &Error) -> Option<Vec<&str>> {
    const MARK: &str = "UNIQUE constraint failed: ";
    let Error::Io(message) = error else {
        return None;
    };
    let (_, columns) = message.split_once(MARK)?;
    let columns = columns.lines().next().unwrap_or_default();
    Some(columns.split(',').map(str::trim).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(message: &str) -> Error {
        Error::Io(message.to_owned())
    }

    #[test]
    fn a_unique_violation_names_its_columns() {
        let error = io("UNIQUE constraint failed: movements.idempotency_key");
        assert!(is_unique_violation(&error, "movements.idempotency_key"));
        assert!(!is_unique_violation(&error, "movements.reverses"));
        let two = io("SQLite error: UNIQUE constraint failed: t.a, t.b");
        assert_eq!(unique_columns(&two), Some(vec!["t.a", "t.b"]));
    }

    #[test]
    fn other_failures_are_not_unique_violations() {
        for error in [
            io("NOT NULL constraint failed: pieces.name"),
            io("no such table: pieces_reference_key"),
            Error::DatabaseFull,
        ] {
            assert!(!is_unique_violation(&error, "pieces.reference_key"));
        }
    }
}
