//! `POST /api/stock/movement/` as `stock/src` records it: token check and
//! role, the JSON body read and validated, the schema check, the piece read
//! from pieces over HTTP (internal route) and remembered, the two
//! statements of `movement::record`, then the movement read back as the
//! API shows it (201). The statements are stock's own: this crate compiles
//! `stock/src/statements.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kit::auth::{Caller, Role};
use rusqlite::types::Value as Sql;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::App;
use crate::auth;
use crate::database::Connection;
use crate::error::Error;
use crate::statements;

const REASONS: &[&str] = &[
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
const MAX_QUANTITY: i64 = 1_000_000_000;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    In,
    Out,
    Adjust,
}

impl Kind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "IN" => Some(Self::In),
            "OUT" => Some(Self::Out),
            "ADJUST" => Some(Self::Adjust),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::In => "IN",
            Self::Out => "OUT",
            Self::Adjust => "ADJUST",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    piece_id: Option<Json>,
    #[serde(rename = "type")]
    kind: Option<Json>,
    quantity: Option<Json>,
    reason: Option<Json>,
    note: Option<Json>,
}

struct Order {
    piece_id: i64,
    kind: Kind,
    quantity: i64,
    reason: Option<String>,
    note: String,
}

impl Input {
    /// `movement::Input::validate`.
    fn validate(self) -> Result<Order, Error> {
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
                fail("type", "Type requis : IN, OUT ou ADJUST.");
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
        if !errors.is_empty() {
            return Err(Error::Validation(
                errors
                    .into_iter()
                    .map(|(field, messages)| (field, json!(messages)))
                    .collect(),
            ));
        }
        Ok(Order {
            piece_id,
            kind,
            quantity,
            reason,
            note,
        })
    }
}

impl Order {
    /// `Order::fingerprint` (computed by the component whether or not an
    /// `Idempotency-Key` came).
    fn fingerprint(&self) -> String {
        let canonical = format!(
            "{}|{}|{}|{}|{}",
            self.piece_id,
            self.kind.as_str(),
            self.quantity,
            self.reason.as_deref().unwrap_or(""),
            self.note
        );
        let hash = canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{hash:016x}")
    }
}

/// What stock keeps of a piece (`pieces.rs` of stock).
#[derive(PartialEq, Eq, Deserialize)]
struct Piece {
    id: i64,
    reference: String,
    name: String,
    #[serde(default)]
    category: String,
    min_stock: i64,
    archived: bool,
}

/// `kit::body::json`: 415 unless JSON, 400 unless an object of the shape.
fn body_json(headers: &HeaderMap, body: &[u8]) -> Result<Input, Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_json = content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Error::UnsupportedMediaType);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::BadRequest("Le corps de la requête est vide.".into()));
    }
    let value: Json = serde_json::from_slice(body)
        .map_err(|error| Error::BadRequest(format!("JSON invalide : {error}.")))?;
    if !value.is_object() {
        return Err(Error::BadRequest(
            "Le corps de la requête doit être un objet JSON.".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|error| Error::BadRequest(format!("Requête invalide : {error}.")))
}

/// `record` in stock's `lib.rs`, without an `Idempotency-Key` (the
/// benchmark sends none).
pub async fn record(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    let caller = auth::authenticate(authorization, &app.jwt_public_keys)?;
    auth::require(&caller, Role::Operator)?;
    let order = body_json(&headers, &body)?.validate()?;
    if order.kind == Kind::Adjust {
        auth::require(&caller, Role::Manager)?;
    }
    let _fingerprint = order.fingerprint();
    let db = tokio::task::block_in_place(|| app.stock.open())?;
    // `movable`: the piece fresh from pieces, remembered if it changed, not
    // archived.
    let piece = fetch(&app, order.piece_id).await?;
    tokio::task::block_in_place(|| -> Result<(), Error> {
        if cached(&db, order.piece_id)?.as_ref() != Some(&piece) {
            db.write(|db| remember(db, &piece))?;
        }
        Ok(())
    })?;
    if piece.archived {
        return Err(Error::Conflict(format!(
            "La pièce {} est archivée : aucun mouvement possible.",
            piece.reference
        )));
    }
    let movement = tokio::task::block_in_place(|| -> Result<Option<Json>, Error> {
        match insert(&db, &order, &caller)? {
            Some(id) => find(&db, id),
            None => Ok(None),
        }
    })?;
    match movement {
        Some(movement) => Ok((
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            movement.to_string(),
        )
            .into_response()),
        None => Err(Error::Conflict("Stock insuffisant.".into())),
    }
}

/// `pieces::fetch` of stock: the internal route of pieces.
async fn fetch(app: &App, piece_id: i64) -> Result<Piece, Error> {
    let path = format!("/api/pieces/internal/pieces/{piece_id}/");
    let (status, body) = app
        .client
        .get(
            &app.pieces_url,
            &path,
            &[("x-internal-secret", app.internal_secret.as_str())],
        )
        .await
        .map_err(|why| Error::Unavailable(format!("pieces: {why}")))?;
    match status {
        200 => serde_json::from_slice(&body)
            .map_err(|e| Error::Unavailable(format!("unexpected answer: {e}"))),
        404 => Err(Error::BadRequest("Pièce inconnue.".into())),
        other => Err(Error::Unavailable(format!("pieces: status {other}"))),
    }
}

/// `pieces::cached` of stock.
fn cached(db: &rusqlite::Connection, piece_id: i64) -> Result<Option<Piece>, Error> {
    let mut statement = db.prepare_cached(statements::CACHED_PIECE)?;
    let mut rows = statement.query([piece_id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(Piece {
        id: row.get("piece_id")?,
        reference: row.get("reference")?,
        name: row.get("name")?,
        category: row.get("category")?,
        min_stock: row.get("min_stock")?,
        archived: row.get::<_, i64>("archived")? != 0,
    }))
}

/// `pieces::remember` of stock: the copy, then the folded text search reads.
fn remember(db: &rusqlite::Connection, piece: &Piece) -> Result<(), Error> {
    db.prepare_cached(statements::REMEMBER_PIECE)?
        .execute(rusqlite::params![
            piece.id,
            piece.reference,
            piece.name,
            piece.category,
            piece.min_stock,
            i64::from(piece.archived),
        ])?;
    db.prepare_cached(statements::WRITE_FOLDED)?
        .execute(rusqlite::params![
            piece.id,
            kit::text::fold(&piece.reference),
            kit::text::fold(&piece.name),
            piece.reference,
            piece.name,
        ])?;
    Ok(())
}

/// `movement::record`: the one `INSERT ... SELECT`, and only when it finds
/// no row, the level row and the statement again.
fn insert(db: &Connection<'_>, order: &Order, caller: &Caller) -> Result<Option<i64>, Error> {
    if let Some(id) = db.write(|db| insert_movement(db, order, caller))? {
        return Ok(Some(id));
    }
    db.write(|db| {
        db.prepare_cached(statements::ENSURE_LEVEL)?
            .execute([order.piece_id])
    })?;
    db.write(|db| insert_movement(db, order, caller))
}

fn insert_movement(
    db: &rusqlite::Connection,
    order: &Order,
    caller: &Caller,
) -> Result<Option<i64>, Error> {
    let params = [
        Sql::Integer(order.piece_id),
        Sql::Text(order.kind.as_str().to_owned()),
        Sql::Integer(order.quantity),
        order.reason.clone().map_or(Sql::Null, Sql::Text),
        Sql::Text(order.note.clone()),
        Sql::Integer(caller.user_id),
        Sql::Text(caller.username.clone()),
        Sql::Null,
        Sql::Null,
        Sql::Null,
    ];
    let mut statement = db.prepare_cached(statements::RECORD_MOVEMENT)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    Ok(match rows.next()? {
        Some(row) => Some(row.get("id")?),
        None => None,
    })
}

/// `movement::find` and `movement::to_json`.
fn find(db: &rusqlite::Connection, id: i64) -> Result<Option<Json>, Error> {
    let mut statement = db.prepare_cached(statements::FIND_MOVEMENT)?;
    let mut rows = statement.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "id": row.get::<_, Option<i64>>("id")?,
        "piece_id": row.get::<_, Option<i64>>("piece_id")?,
        "reference": row.get::<_, Option<String>>("reference")?,
        "name": row.get::<_, Option<String>>("name")?,
        "type": row.get::<_, Option<String>>("type")?,
        "quantity": row.get::<_, Option<i64>>("quantity")?,
        "delta": row.get::<_, Option<i64>>("delta")?,
        "level_after": row.get::<_, Option<i64>>("level_after")?,
        "reason": row.get::<_, Option<String>>("reason")?,
        "note": row.get::<_, Option<String>>("note")?,
        "user_id": row.get::<_, Option<i64>>("user_id")?,
        "user": row.get::<_, Option<String>>("username")?,
        "created_at": row.get::<_, Option<String>>("created_at")?,
        "reverses": row.get::<_, Option<i64>>("reverses")?,
    })))
}
