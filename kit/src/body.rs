//! Reading a request body, JSON or CSV: 415 or 400 unless it says it is
//! what the route takes, 400 with a `detail` when it is not the expected
//! document. Never a 500 for bad input.
//! The host takes bodies up to 10 MiB, for CSV imports; a JSON document is
//! one object a person typed, so it gets a much smaller limit.

use serde::de::DeserializeOwned;
use spin_sdk::http::Request;

use crate::Error;
use crate::csv::Record;

/// The largest JSON body a route accepts: a piece with a long description
/// is a few KiB.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The largest JSON body that carries a list of lines (a purchase order, a
/// receipt: 200 lines at most), so that a list too long is told so (400)
/// rather than cut off by the size limit.
pub const MAX_LIST_JSON_BYTES: usize = 256 * 1024;

/// The body of `request` as a `T`. `T` should deny unknown fields, so that a
/// field the client may not set (`role`, `is_active`...) is refused, not ignored.
pub fn json<T: DeserializeOwned>(request: &Request) -> Result<T, Error> {
    json_of(content_type(request), request.body())
}

/// As [`json`], for a body that carries a list of lines
/// ([`MAX_LIST_JSON_BYTES`]).
pub fn json_list<T: DeserializeOwned>(request: &Request) -> Result<T, Error> {
    media_type_is_json(content_type(request))?;
    parse(request.body(), MAX_LIST_JSON_BYTES)
}

/// As [`json`], from the request's `Content-Type` and body.
pub fn json_of<T: DeserializeOwned>(content_type: &str, body: &[u8]) -> Result<T, Error> {
    media_type_is_json(content_type)?;
    parse(body, MAX_JSON_BYTES)
}

fn content_type(request: &Request) -> &str {
    request
        .header("content-type")
        .and_then(|value| value.as_str())
        .unwrap_or_default()
}

fn media_type_is_json(content_type: &str) -> Result<(), Error> {
    if is_json(content_type) {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType)
    }
}

/// `application/json`, parameters (`; charset=utf-8`) and case aside.
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The CSV records of `request` (header first, at least a header): 400
/// unless it says `text/csv`, is UTF-8 and parses.
pub fn csv(request: &Request) -> Result<(Record, Vec<Record>), Error> {
    let content_type = request
        .header("content-type")
        .and_then(|value| value.as_str())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("text/csv") {
        return Err(Error::BadRequest(
            "Le corps de la requête doit être du CSV (Content-Type: text/csv).".into(),
        ));
    }
    let text = std::str::from_utf8(request.body())
        .map_err(|_| Error::BadRequest("Le fichier doit être encodé en UTF-8.".into()))?;
    let mut records =
        crate::csv::parse(text).map_err(|error| Error::BadRequest(error.to_string()))?;
    if records.is_empty() {
        return Err(Error::BadRequest(
            "Le fichier est vide : il faut au moins l'en-tête.".into(),
        ));
    }
    let rows = records.split_off(1);
    Ok((records.remove(0), rows))
}

fn parse<T: DeserializeOwned>(body: &[u8], limit: usize) -> Result<T, Error> {
    if body.len() > limit {
        return Err(Error::PayloadTooLarge { limit });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest("Le corps de la requête est vide.".into()));
    }
    // Two steps so that broken JSON and a document of the wrong shape get
    // different messages; serde's text names the field, never our internals.
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| Error::BadRequest(format!("JSON invalide : {error}.")))?;
    if !value.is_object() {
        return Err(Error::BadRequest(
            "Le corps de la requête doit être un objet JSON.".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|error| Error::BadRequest(format!("Requête invalide : {error}.")))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Login {
        username: String,
    }

    #[test]
    fn json_media_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
        assert!(!is_json("application/jsonx"));
    }

    #[test]
    fn bad_bodies_are_400_with_a_detail() {
        for body in [
            &b""[..],
            b"  ",
            b"{",
            b"[1]",
            b"\"x\"",
            b"{}",
            b"{\"username\": 3}",
            b"{\"username\": \"a\", \"role\": \"admin\"}",
            b"\xff",
        ] {
            let error = parse::<Login>(body, MAX_JSON_BYTES).unwrap_err();
            assert_eq!(error.status(), 400, "{}", String::from_utf8_lossy(body));
        }
        let login: Login = parse(b"{\"username\": \"a\"}", MAX_JSON_BYTES).unwrap();
        assert_eq!(login.username, "a");
    }

    #[test]
    fn a_body_over_the_json_limit_is_413_before_it_is_parsed() {
        let name = "a".repeat(MAX_JSON_BYTES);
        let error = parse::<Login>(
            format!("{{\"username\": \"{name}\"}}").as_bytes(),
            MAX_JSON_BYTES,
        )
        .unwrap_err();
        assert_eq!(error.status(), 413);
        assert!(error.to_string().contains("65536"), "{error}");
    }
}
