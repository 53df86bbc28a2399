//! Django REST Framework pagination: `?page=&page_size=` in, `{count, next,
//! previous, results}` out, with absolute links built from the URL the
//! client used (Spin's `spin-full-url`, which keeps Traefik's host).

use serde_json::{Value as Json, json};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, QueryResult, Value};

pub const DEFAULT_SIZE: i64 = 50;
pub const MAX_SIZE: i64 = 200;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page {
    pub number: i64,
    pub size: i64,
}

impl Page {
    /// Reads `page` and `page_size`; a size above the cap is capped, not
    /// refused, as DRF does.
    pub fn from_query(query: &Query) -> Result<Self, crate::Error> {
        let number = match query.get("page") {
            None => 1,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| crate::Error::field("page", "Numéro de page invalide."))?,
        };
        let size = match query.get("page_size") {
            None => DEFAULT_SIZE,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| crate::Error::field("page_size", "Taille de page invalide."))?
                .min(MAX_SIZE),
        };
        Ok(Self { number, size })
    }

    /// Saturates: a page number past any table is just an empty page (404).
    pub fn offset(&self) -> i64 {
        (self.number - 1).saturating_mul(self.size)
    }

    /// The paginated document; a page past the end is a 404, as in DRF.
    pub fn document(
        &self,
        request: &Request,
        count: i64,
        results: Vec<Json>,
    ) -> Result<Json, crate::Error> {
        if self.number > 1 && self.offset() >= count {
            return Err(crate::Error::NotFound);
        }
        let link = |number: i64| link_to(request, number);
        Ok(json!({
            "count": count,
            "next": (self.offset() + self.size < count).then(|| link(self.number + 1)),
            "previous": (self.number > 1).then(|| link(self.number - 1)),
            "results": results,
        }))
    }
}

fn link_to(request: &Request, number: i64) -> String {
    let full = request
        .header("spin-full-url")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let (base, query) = full.split_once('?').unwrap_or((full, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("page={number}"));
    format!("{base}?{}", pairs.join("&"))
}

/// This page of `query` (a `SELECT` without `ORDER BY` or `LIMIT`) in
/// `order_by` order, with the number of rows `query` selects in all. A page
/// past the end is a 404, found before the rows are read.
impl Page {
    pub fn select(
        &self,
        db: &Connection,
        query: &str,
        order_by: &str,
        params: &[Value],
    ) -> Result<(i64, QueryResult), crate::Error> {
        let count = count(db, &format!("FROM ({query})"), params)?;
        if self.number > 1 && self.offset() >= count {
            return Err(crate::Error::NotFound);
        }
        let rows = db.execute(
            &format!(
                "{query} ORDER BY {order_by} LIMIT {} OFFSET {}",
                self.size,
                self.offset()
            ),
            params,
        )?;
        Ok((count, rows))
    }
}

/// The row count of `SELECT count(*) <from_where>`.
pub fn count(db: &Connection, from_where: &str, params: &[Value]) -> Result<i64, crate::Error> {
    let result = db.execute(&format!("SELECT count(*) AS n {from_where}"), params)?;
    Ok(result
        .rows()
        .next()
        .and_then(|row| row.get::<i64>("n"))
        .unwrap_or(0))
}

/// A decoded query string.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Self {
        Self(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The last value of `name`, if not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The integer `name` holds, within `bounds`; `None` when absent.
    pub fn integer(
        &self,
        name: &str,
        bounds: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, crate::Error> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        raw.parse::<i64>()
            .ok()
            .filter(|n| bounds.contains(n))
            .map(Some)
            .ok_or_else(|| {
                crate::Error::field(
                    name,
                    format!(
                        "Nombre entier de {} à {} attendu.",
                        bounds.start(),
                        bounds.end()
                    ),
                )
            })
    }
}

/// Percent-decoding (`+` is a space); bad escapes stay as written.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A calendar date `YYYY-MM-DD` (RFC 3339 `full-date`, the document's
/// `format: date`): the shape alone is not enough, `2026-02-30` names no day
/// and SQLite would silently compare against nothing.
pub fn date<'a>(field: &str, value: &'a str) -> Result<&'a str, crate::Error> {
    if is_calendar_date(value) {
        Ok(value)
    } else {
        Err(crate::Error::field(
            field,
            "Date attendue au format AAAA-MM-JJ, et qui existe.",
        ))
    }
}

fn is_calendar_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return false;
    }
    let number = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let q = Query::parse("search=%C3%A9crou+M6&status=low&empty=");
        assert_eq!(q.get("search"), Some("écrou M6"));
        assert_eq!(q.get("status"), Some("low"));
        assert_eq!(q.get("empty"), None);
    }

    #[test]
    fn page_size_is_capped_and_bad_values_refused() {
        let page = Page::from_query(&Query::parse("page=2&page_size=5000")).unwrap();
        assert_eq!(
            page,
            Page {
                number: 2,
                size: MAX_SIZE
            }
        );
        assert!(Page::from_query(&Query::parse("page=0")).is_err());
        assert!(Page::from_query(&Query::parse("page_size=abc")).is_err());
    }

    #[test]
    fn dates_must_exist_on_the_calendar() {
        for good in [
            "2026-11-25",
            "2024-02-29",
            "2000-02-29",
            "0000-01-01",
            "9999-12-31",
        ] {
            assert!(is_calendar_date(good), "{good}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-04-31",
            "2026-1-01",
            "2026-01-01T00:00",
            "+026-01-01",
            "２０２６-01-01",
            "",
        ] {
            assert!(!is_calendar_date(bad), "{bad}");
        }
    }
}
