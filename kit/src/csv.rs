//! CSV as the services write it (RFC 4180: a header row, CRLF, cells quoted
//! only when they hold a separator, a quote or a line break), safe to open
//! in a spreadsheet.
//!
//! A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
//! return would run as a formula there (OWASP's "CSV injection"); [`text`]
//! prefixes such a cell, and one already starting with `'`, with a `'`,
//! and [`untext`] removes exactly that prefix again, so that importing an
//! export gives back what was exported. Numbers are written as they are: a
//! negative quantity stays a number.

use std::borrow::Cow;

/// What a spreadsheet would take as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
const NEUTRALISER: char = '\'';

/// `value` as a text cell that no spreadsheet runs.
pub fn text(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) || value.starts_with(NEUTRALISER) {
        Cow::Owned(format!("{NEUTRALISER}{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The text [`text`] was given, from a cell it wrote.
pub fn untext(cell: &str) -> &str {
    match cell.strip_prefix(NEUTRALISER) {
        Some(rest) if rest.starts_with(FORMULA_STARTS) || rest.starts_with(NEUTRALISER) => rest,
        _ => cell,
    }
}

/// Appends one record to `out`, quoting only the cells that need it, and
/// ends it with CRLF. Text cells must have gone through [`text`].
pub fn write_record<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    for (index, cell) in cells.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let cell = cell.as_ref();
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_records_quote_what_needs_it() {
        let mut out = String::new();
        write_record(
            &mut out,
            &["plain", "a,b", "say \"hi\"", "two\nlines", "", "é"],
        );
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,é\r\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_and_read_back_as_written() {
        for (value, cell) in [
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1", "'+1"),
            ("-M6", "'-M6"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'quoted", "''quoted"),
            ("''", "'''"),
            ("Écrou = M6", "Écrou = M6"),
            ("", ""),
        ] {
            assert_eq!(text(value), cell, "{value:?}");
            assert_eq!(untext(cell), value, "{cell:?}");
        }
        assert_eq!(untext("'plain"), "'plain", "a lone apostrophe is data");
    }
}
