//! What a write must find to apply: the `If-Match` header (RFC 9110
//! §13.1.1) or the body's `version`, compared with the piece's current one.

use kit::Error;
use serde_json::{Map, json};
use spin_sdk::http::Request;

/// An `If-Match` header (RFC 9110 §13.1.1): `*` or a list of entity tags.
#[derive(Debug, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    /// The opaque tags of the strong entity tags listed: `"3"` is `3`. A weak
    /// tag never matches for If-Match, so it is not kept.
    Tags(Vec<String>),
}

impl IfMatch {
    /// `*`, or one or more entity tags (`"3"`, `W/"3"`) separated by commas,
    /// spaces and tabs around; `None` for anything else (empty included).
    /// The document's pattern for the header says the same.
    fn parse(value: &str) -> Option<Self> {
        fn ows(text: &str) -> &str {
            text.trim_start_matches([' ', '\t'])
        }
        let value = value.trim_matches([' ', '\t']);
        if value == "*" {
            return Some(IfMatch::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            let (weak, tag) = match rest.strip_prefix("W/") {
                Some(tag) => (true, tag),
                None => (false, rest),
            };
            let tag = tag.strip_prefix('"')?;
            let end = tag.find('"')?;
            let opaque = &tag[..end];
            // etagc: visible ASCII but the double quote.
            if !opaque
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
            {
                return None;
            }
            if !weak {
                tags.push(opaque.to_owned());
            }
            rest = ows(&tag[end + 1..]);
            if rest.is_empty() {
                return Some(IfMatch::Tags(tags));
            }
            rest = ows(rest.strip_prefix(',')?);
        }
    }

    /// Strong comparison: the tag must be the version exactly (`"03"` is not `"3"`).
    pub fn check(&self, current: i64) -> Result<(), Error> {
        match self {
            IfMatch::Tags(tags) if !tags.contains(&current.to_string()) => {
                Err(Self::stale(current))
            }
            _ => Ok(()),
        }
    }

    pub fn stale(current: i64) -> Error {
        Error::PreconditionFailed(format!(
            "La pièce a été modifiée entre-temps (version actuelle {current}) : rechargez-la \
             puis recommencez."
        ))
    }
}

/// The request's `If-Match`, if it has one; a 400 when it is malformed, since
/// a precondition the client cannot have meant must not be guessed at.
pub fn if_match(request: &Request) -> Result<Option<IfMatch>, Error> {
    let Some(value) = request.header("if-match") else {
        return Ok(None);
    };
    value
        .as_str()
        .and_then(IfMatch::parse)
        .map(Some)
        .ok_or_else(|| {
            Error::BadRequest(
                "En-tête If-Match invalide : « * » ou un ou plusieurs ETag entre guillemets \
                 séparés par des virgules, par exemple \"3\"."
                    .into(),
            )
        })
}

pub fn stale_version(sent: i64, current: i64) -> Error {
    Error::ConflictWith {
        detail: format!(
            "La pièce a été modifiée entre-temps (version {sent} envoyée, version actuelle \
             {current}) : rechargez-la puis recommencez."
        ),
        members: Map::from_iter([("version".to_owned(), json!(current))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_names_versions() {
        let tags = |list: &[&str]| {
            Some(IfMatch::Tags(
                list.iter().map(|t| (*t).to_owned()).collect(),
            ))
        };
        assert_eq!(IfMatch::parse("*"), Some(IfMatch::Any));
        assert_eq!(IfMatch::parse(" * "), Some(IfMatch::Any));
        assert_eq!(IfMatch::parse("\"3\""), tags(&["3"]));
        assert_eq!(IfMatch::parse("\"1\", \"2\""), tags(&["1", "2"]));
        assert_eq!(IfMatch::parse("\"1\",\t\"a,b\""), tags(&["1", "a,b"]));
        assert_eq!(IfMatch::parse("W/\"3\""), tags(&[]));
        assert_eq!(IfMatch::parse("W/\"3\", \"4\""), tags(&["4"]));
        assert_eq!(IfMatch::parse("\"\""), tags(&[""]));
        assert!(IfMatch::parse("\"3\"").unwrap().check(3).is_ok());
        assert_eq!(
            IfMatch::parse("\"2\"")
                .unwrap()
                .check(3)
                .map_err(|e| e.status()),
            Err(412)
        );
        for other in ["\"03\"", "\"+3\"", "W/\"3\""] {
            assert!(IfMatch::parse(other).unwrap().check(3).is_err(), "{other}");
        }
        assert!(IfMatch::Any.check(7).is_ok());
    }

    #[test]
    fn a_malformed_if_match_is_refused() {
        for bad in [
            "",
            " ",
            "3",
            "\"3",
            "3\"",
            "\"3\",",
            ",\"3\"",
            "\"1\",,\"2\"",
            "\"1\" \"2\"",
            "w/\"3\"",
            "W/ \"3\"",
            "**",
            "*, \"3\"",
            "\"a b\"",
            "\"é\"",
            "\"\u{7f}\"",
        ] {
            assert_eq!(IfMatch::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_malformed_if_match_is_documented_as_a_400() {
        let document: serde_json::Value =
            serde_json::from_str(crate::SERVICE.openapi).expect("JSON");
        for method in ["put", "patch", "delete"] {
            let operation = &document["paths"]["/api/pieces/{id}/"][method];
            assert!(operation["responses"]["400"].is_object(), "{method}");
            let header = operation["parameters"]
                .as_array()
                .and_then(|p| p.iter().find(|p| p["name"] == "If-Match"))
                .expect("If-Match is documented");
            assert!(header["schema"]["pattern"].is_string(), "{method}");
        }
    }
}
