//! One line per event on stderr, for the processes the stack runs (the host
//! and the sidecar): `LOG_FORMAT=json` makes each line a JSON object
//! (`ts`, `level`, `message`, then the event's fields), anything else a
//! line of text (`ts LEVEL message key=value...`).
//!
//! A line is written with one `write` to a locked stderr, so events of
//! concurrent requests never interleave.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// `LOG_FORMAT=json`, or text.
    pub fn from_env() -> Self {
        match std::env::var("LOG_FORMAT") {
            Ok(value) if value.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// The process's format, read once.
fn format() -> Format {
    static FORMAT: OnceLock<Format> = OnceLock::new();
    *FORMAT.get_or_init(Format::from_env)
}

/// Writes one event; `fields` with an empty value are left out.
pub fn event(level: Level, message: &str, fields: &[(&str, &str)]) {
    let line = render(format(), &utc_now(), level, message, fields);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn info(message: &str, fields: &[(&str, &str)]) {
    event(Level::Info, message, fields);
}

pub fn warn(message: &str, fields: &[(&str, &str)]) {
    event(Level::Warn, message, fields);
}

pub fn error(message: &str, fields: &[(&str, &str)]) {
    event(Level::Error, message, fields);
}

fn render(
    format: Format,
    ts: &str,
    level: Level,
    message: &str,
    fields: &[(&str, &str)],
) -> String {
    let fields = fields.iter().filter(|(_, value)| !value.is_empty());
    let mut line = String::new();
    match format {
        Format::Json => {
            let _ = write!(
                line,
                r#"{{"ts":"{ts}","level":"{}","message":{}"#,
                level.name(),
                quoted(message)
            );
            for (name, value) in fields {
                let _ = write!(line, ",{}:{}", quoted(name), quoted(value));
            }
            line.push('}');
        }
        Format::Text => {
            let _ = write!(
                line,
                "{ts} {:<5} {}",
                level.name().to_uppercase(),
                one_line(message)
            );
            for (name, value) in fields {
                let _ = write!(line, " {name}={}", one_line(value));
            }
        }
    }
    line.push('\n');
    line
}

fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A multi-line message (an error's causes, a backtrace) on one line.
fn one_line(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// `2026-12-02T05:01:02.123Z`.
fn utc_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_objects_with_the_fields_given() {
        let line = render(
            Format::Json,
            "2026-12-02T05:01:02.123Z",
            Level::Warn,
            "cannot send\n\"twice\"",
            &[("component", "stock"), ("request_id", "")],
        );
        assert!(
            line.ends_with("}\n") && line.matches('\n').count() == 1,
            "{line}"
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "warn");
        assert_eq!(value["message"], "cannot send\n\"twice\"");
        assert_eq!(value["component"], "stock");
        assert!(
            value.get("request_id").is_none(),
            "empty fields are left out"
        );
    }

    #[test]
    fn text_lines_hold_a_multi_line_message_on_one_line() {
        let line = render(
            Format::Text,
            "2026-12-02T05:01:02.123Z",
            Level::Error,
            "failed\nCaused by:\n  trap\n",
            &[("component", "stock")],
        );
        assert_eq!(
            line,
            "2026-12-02T05:01:02.123Z ERROR failed | Caused by: |   trap component=stock\n"
        );
    }

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_789), (2026, 12, 2));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
