//! CSV as the services write and read it (RFC 4180: a header row, CRLF,
//! cells quoted only when they hold a separator, a quote or a line break),
//! safe to open in a spreadsheet.
//!
//! Parsed by hand because the format is small and an import must report
//! the *line* (1-based, as a spreadsheet or an editor shows it) where each
//! record starts, quoted line breaks included.
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

/// One cell from a JSON value: text neutralised as [`text`] does, numbers
/// as they are, null empty.
pub fn json_cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => text(s).into_owned(),
        other => other.to_string(),
    }
}

/// One parsed record: the line it starts on and its cells.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub cells: Vec<String>,
}

/// Why a file is not CSV at all (as opposed to a row with a bad value).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("ligne {line} : guillemet non fermé.")]
    UnclosedQuote { line: usize },
    #[error("ligne {line} : caractère inattendu après un guillemet fermant.")]
    AfterQuote { line: usize },
}

/// Splits `text` into records. Separators are `,`; lines end with CRLF or
/// LF; a cell in double quotes may hold separators, line breaks and `""` for
/// a quote. Blank lines are skipped (spreadsheets add one at the end).
pub fn parse(text: &str) -> Result<Vec<Record>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut quoted_cell = false;
        loop {
            match chars.next() {
                None => {
                    cells.push(std::mem::take(&mut cell));
                    break;
                }
                Some('"') if cell.is_empty() && !quoted_cell => {
                    quoted_cell = true;
                    loop {
                        match chars.next() {
                            None => return Err(SyntaxError::UnclosedQuote { line: start }),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                cell.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                cell.push(c);
                            }
                        }
                    }
                    if !matches!(chars.peek(), None | Some(',' | '\r' | '\n')) {
                        return Err(SyntaxError::AfterQuote { line });
                    }
                }
                Some(',') => {
                    cells.push(std::mem::take(&mut cell));
                    quoted_cell = false;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    cells.push(std::mem::take(&mut cell));
                    break;
                }
                Some(c) => cell.push(c),
            }
        }
        let blank = cells.len() == 1 && cells[0].is_empty() && !quoted_cell;
        if !blank {
            records.push(Record { line: start, cells });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_cells_neutralise_text_and_keep_numbers() {
        assert_eq!(json_cell(&json!("Écrou M6")), "Écrou M6");
        assert_eq!(json_cell(&json!("=cmd()")), "'=cmd()");
        assert_eq!(json_cell(&json!(null)), "");
        assert_eq!(json_cell(&json!(-3)), "-3");
    }

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

    fn cells(records: &[Record]) -> Vec<Vec<&str>> {
        records
            .iter()
            .map(|r| r.cells.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn plain_records_split_on_commas_and_line_ends() {
        let records = parse("a,b,c\r\n1,,3\n").expect("valid");
        assert_eq!(cells(&records), [vec!["a", "b", "c"], vec!["1", "", "3"]]);
        assert_eq!(records[1].line, 2);
    }

    #[test]
    fn quoted_cells_hold_separators_quotes_and_line_breaks() {
        let records = parse("r,n\n\"A,1\",\"dit \"\"bonjour\"\"\"\n\"deux\nlignes\",x\nlast,y")
            .expect("valid");
        assert_eq!(
            cells(&records),
            [
                vec!["r", "n"],
                vec!["A,1", "dit \"bonjour\""],
                vec!["deux\nlignes", "x"],
                vec!["last", "y"],
            ]
        );
        assert_eq!(
            records.iter().map(|r| r.line).collect::<Vec<_>>(),
            [1, 2, 3, 5]
        );
    }

    #[test]
    fn blank_lines_and_a_bom_are_skipped() {
        let records = parse("\u{feff}a\n\n\r\nb\n\n").expect("valid");
        assert_eq!(cells(&records), [vec!["a"], vec!["b"]]);
        assert_eq!(records[1].line, 4);
        assert_eq!(parse("").expect("valid"), []);
        // An explicitly quoted empty cell is a record, not a blank line.
        assert_eq!(cells(&parse("\"\"\n").expect("valid")), [vec![""]]);
    }

    #[test]
    fn a_trailing_comma_is_an_empty_last_cell() {
        assert_eq!(cells(&parse("a,\n").expect("valid")), [vec!["a", ""]]);
    }

    #[test]
    fn broken_quoting_names_its_line() {
        assert_eq!(
            parse("a\n\"open,b\nc"),
            Err(SyntaxError::UnclosedQuote { line: 2 })
        );
        assert_eq!(
            parse("a\n\"x\"y,b"),
            Err(SyntaxError::AfterQuote { line: 2 })
        );
    }

    #[test]
    fn what_is_written_parses_back() {
        let rows = [
            vec!["reference", "name"],
            vec!["ECR,8", "Écrou \"M8\"\r\nzingué"],
            vec!["", " espace "],
        ];
        let mut out = String::new();
        for row in &rows {
            write_record(&mut out, row);
        }
        let records = parse(&out).expect("valid");
        assert_eq!(cells(&records), rows);
    }
}
