//! A movement order as a client sends it, and the rules it must follow.
//! The bench's native baseline (`bench/src/stock.rs`) compiles this very
//! file, so that it validates exactly as stock does; it needs serde and
//! `kit` alone.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as Json;

/// Reason codes. ADJUST needs one; IN and OUT may give one.
pub const REASONS: &[&str] = &[
    "reception",
    "consumption",
    "return",
    "inventory",
    "damaged",
    "lost",
    "found",
    "correction",
    "other",
];

const MAX_NOTE: usize = 1000;

/// Where a movement that names no location goes: the location every
/// piece's stock was in before there were locations.
pub const DEFAULT_LOCATION: i64 = 1;
const MAX_QUANTITY: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    In,
    Out,
    Adjust,
    Transfer,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IN" => Some(Self::In),
            "OUT" => Some(Self::Out),
            "ADJUST" => Some(Self::Adjust),
            "TRANSFER" => Some(Self::Transfer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "IN",
            Self::Out => "OUT",
            Self::Adjust => "ADJUST",
            Self::Transfer => "TRANSFER",
        }
    }
}

/// The body of `POST /api/stock/movement/`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    piece_id: Option<Json>,
    #[serde(rename = "type")]
    kind: Option<Json>,
    quantity: Option<Json>,
    reason: Option<Json>,
    note: Option<Json>,
    location_id: Option<Json>,
    from_location_id: Option<Json>,
    to_location_id: Option<Json>,
}

/// A movement request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub piece_id: i64,
    pub kind: Kind,
    /// IN/OUT: how many (> 0). ADJUST: the counted new level (>= 0).
    pub quantity: i64,
    pub reason: Option<String>,
    pub note: String,
    /// The location it changes (a TRANSFER's source); `None`: the default.
    pub location: Option<i64>,
    /// A TRANSFER's destination; `None` for every other type.
    pub destination: Option<i64>,
}

impl Input {
    /// Every field checked, every problem reported at once.
    pub fn validate(self) -> Result<Order, kit::Error> {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut fail = |field: &str, message: &str| {
            errors
                .entry(field.to_owned())
                .or_default()
                .push(message.to_owned());
        };
        let piece_id = match self.piece_id.as_ref().and_then(Json::as_i64) {
            Some(id) if id > 0 => id,
            _ => {
                fail("piece_id", "Identifiant de pièce requis (entier positif).");
                0
            }
        };
        let kind = match self
            .kind
            .as_ref()
            .and_then(Json::as_str)
            .and_then(Kind::parse)
        {
            Some(kind) => kind,
            None => {
                fail("type", "Type requis : IN, OUT, ADJUST ou TRANSFER.");
                Kind::In
            }
        };
        let quantity = match self.quantity.as_ref().and_then(Json::as_i64) {
            Some(q) if q > MAX_QUANTITY => {
                fail("quantity", "Quantité trop grande.");
                0
            }
            Some(q) if q > 0 || (q == 0 && kind == Kind::Adjust) => q,
            Some(_) if kind == Kind::Adjust => {
                fail(
                    "quantity",
                    "Le niveau compté doit être un entier positif ou nul.",
                );
                0
            }
            _ => {
                fail(
                    "quantity",
                    "Quantité requise : un entier strictement positif.",
                );
                0
            }
        };
        let reason = match self.reason {
            None | Some(Json::Null) => {
                if kind == Kind::Adjust {
                    fail("reason", "Un ajustement exige un motif.");
                }
                None
            }
            Some(Json::String(r)) if REASONS.contains(&r.as_str()) => Some(r),
            Some(_) => {
                fail(
                    "reason",
                    &format!(
                        "Motif inconnu ; valeurs possibles : {}.",
                        REASONS.join(", ")
                    ),
                );
                None
            }
        };
        let note = match self.note {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(n)) if n.chars().count() <= MAX_NOTE => n.trim().to_owned(),
            Some(Json::String(_)) => {
                fail("note", &format!("{MAX_NOTE} caractères au plus."));
                String::new()
            }
            Some(_) => {
                fail("note", "Texte attendu.");
                String::new()
            }
        };
        let mut location = |field: &str, value: Option<Json>| match value {
            None | Some(Json::Null) => None,
            Some(value) => match value.as_i64() {
                Some(id) if id > 0 => Some(id),
                _ => {
                    fail(
                        field,
                        "Identifiant d'emplacement invalide (entier positif).",
                    );
                    None
                }
            },
        };
        let at = location("location_id", self.location_id);
        let from = location("from_location_id", self.from_location_id);
        let to = location("to_location_id", self.to_location_id);
        let (location, destination) = if kind == Kind::Transfer {
            if at.is_some() {
                fail(
                    "location_id",
                    "Un transfert prend from_location_id et to_location_id.",
                );
            }
            if from.is_none() {
                fail("from_location_id", "Emplacement de départ requis.");
            }
            if to.is_none() {
                fail("to_location_id", "Emplacement d'arrivée requis.");
            } else if to == from {
                fail(
                    "to_location_id",
                    "L'emplacement d'arrivée doit différer du départ.",
                );
            }
            (from, to)
        } else {
            for (field, given) in [("from_location_id", from), ("to_location_id", to)] {
                if given.is_some() {
                    fail(field, "Réservé aux transferts ; utilisez location_id.");
                }
            }
            (at, None)
        };
        if !errors.is_empty() {
            return Err(kit::Error::Validation(errors));
        }
        Ok(Order {
            piece_id,
            kind,
            quantity,
            reason,
            note,
            location,
            destination,
        })
    }
}

impl Order {
    /// The location the movement changes (a TRANSFER's source).
    pub fn location(&self) -> i64 {
        self.location.unwrap_or(DEFAULT_LOCATION)
    }

    /// The request's identity for `Idempotency-Key` (FNV-1a over its
    /// canonical fields: a replay with a re-serialised body still matches).
    pub fn fingerprint(&self) -> String {
        // Locations are appended only when given, so that a key recorded
        // before locations existed still matches its replay.
        let mut canonical = format!(
            "{}|{}|{}|{}|{}",
            self.piece_id,
            self.kind.as_str(),
            self.quantity,
            self.reason.as_deref().unwrap_or(""),
            self.note
        );
        if let Some(location) = self.location {
            canonical.push_str(&format!("|@{location}"));
        }
        if let Some(destination) = self.destination {
            canonical.push_str(&format!("|>{destination}"));
        }
        let hash = canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{hash:016x}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(body: Json) -> Result<Order, kit::Error> {
        serde_json::from_value::<Input>(body).unwrap().validate()
    }

    fn fields(result: Result<Order, kit::Error>) -> Vec<String> {
        match result {
            Err(kit::Error::Validation(errors)) => errors.into_keys().collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_out_is_valid() {
        let order = input(json!({"piece_id": 3, "type": "OUT", "quantity": 2})).unwrap();
        assert_eq!(
            (order.piece_id, order.kind, order.quantity),
            (3, Kind::Out, 2)
        );
        assert_eq!(order.reason, None);
    }

    #[test]
    fn quantities_must_be_positive_integers_except_a_counted_zero() {
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "OUT", "quantity": 0}))),
            ["quantity"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": -3}))),
            ["quantity"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": 1.5}))),
            ["quantity"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": "2"}))),
            ["quantity"]
        );
        let zero =
            input(json!({"piece_id": 1, "type": "ADJUST", "quantity": 0, "reason": "inventory"}));
        assert_eq!(zero.unwrap().quantity, 0);
    }

    #[test]
    fn adjust_needs_a_known_reason() {
        assert_eq!(
            fields(input(
                json!({"piece_id": 1, "type": "ADJUST", "quantity": 4})
            )),
            ["reason"]
        );
        assert_eq!(
            fields(input(
                json!({"piece_id": 1, "type": "ADJUST", "quantity": 4, "reason": "because"})
            )),
            ["reason"]
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        assert_eq!(
            fields(input(json!({"type": "SIDEWAYS"}))),
            ["piece_id", "quantity", "type"]
        );
    }

    #[test]
    fn a_transfer_names_two_distinct_locations_and_nothing_else() {
        let order = input(json!({"piece_id": 1, "type": "TRANSFER", "quantity": 2,
            "from_location_id": 3, "to_location_id": 4}))
        .unwrap();
        assert_eq!((order.location(), order.destination), (3, Some(4)));
        assert_eq!(
            fields(input(
                json!({"piece_id": 1, "type": "TRANSFER", "quantity": 2,
                "from_location_id": 3, "to_location_id": 3})
            )),
            ["to_location_id"]
        );
        assert_eq!(
            fields(input(
                json!({"piece_id": 1, "type": "TRANSFER", "quantity": 2,
                "location_id": 3})
            )),
            ["from_location_id", "location_id", "to_location_id"]
        );
        assert_eq!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": 2,
                "to_location_id": 3}))),
            ["to_location_id"]
        );
    }

    #[test]
    fn a_movement_without_location_goes_to_the_default_one() {
        let order = input(json!({"piece_id": 1, "type": "OUT", "quantity": 2})).unwrap();
        assert_eq!(order.location(), DEFAULT_LOCATION);
        let elsewhere =
            input(json!({"piece_id": 1, "type": "OUT", "quantity": 2, "location_id": 7})).unwrap();
        assert_eq!(elsewhere.location(), 7);
        assert_ne!(order.fingerprint(), elsewhere.fingerprint());
        assert!(
            fields(input(json!({"piece_id": 1, "type": "IN", "quantity": 2,
            "location_id": "A"})))
                == ["location_id"]
        );
    }

    #[test]
    fn fingerprints_from_before_locations_are_unchanged() {
        let order = input(json!({"piece_id": 1, "type": "IN", "quantity": 2})).unwrap();
        assert_eq!(order.fingerprint(), "e80985e0ba49fd31");
    }

    #[test]
    fn fingerprint_ignores_formatting_but_not_content() {
        let a = input(json!({"piece_id": 1, "type": "IN", "quantity": 2})).unwrap();
        let b = input(json!({"quantity": 2, "type": "IN", "piece_id": 1, "note": null})).unwrap();
        let c = input(json!({"piece_id": 1, "type": "IN", "quantity": 3})).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
