//! What can go wrong in stock, in the domain's words; mapped to HTTP
//! once, here, through `kit::Error`.

use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    /// 409: an OUT larger than the level; says how much there is.
    #[error("Stock insuffisant : {available} disponible(s).")]
    Insufficient { available: i64 },
    /// 400 on `piece_id`: the pieces service does not know it.
    #[error("Pièce inconnue.")]
    UnknownPiece,
    /// 409: archived pieces take no movement.
    #[error("La pièce {reference} est archivée : aucun mouvement possible.")]
    ArchivedPiece { reference: String },
    /// 503: the piece is not known here and the pieces service cannot say.
    #[error("Le service des pièces ne répond pas ; réessayez plus tard.")]
    PiecesUnavailable,
    /// 422: an `Idempotency-Key` reused with a different request.
    #[error("Cette clé d'idempotence a déjà servi pour une autre requête.")]
    IdempotencyMismatch,
    /// 409: a movement is reversed at most once.
    #[error("Ce mouvement a déjà été annulé.")]
    AlreadyReversed,
    /// 409: reversals are not reversed (reverse the original again instead).
    #[error("Une annulation ne s'annule pas.")]
    ReversalOfReversal,
    /// 409: an ADJUST that changed nothing has nothing to reverse.
    #[error("Ce mouvement n'a rien changé : rien à annuler.")]
    NothingToReverse,
    /// 400 on the field naming it: no such location.
    #[error("Emplacement inconnu.")]
    UnknownLocation(&'static str),
    /// 409: an archived location takes no movement and no child.
    #[error("Cet emplacement est archivé.")]
    ArchivedLocation(&'static str),
    /// 409: movements without a location go to the default one.
    #[error("L'emplacement par défaut ne s'archive ni ne se supprime.")]
    DefaultLocation,
    /// 409: archiving or deleting a location that holds stock.
    #[error("L'emplacement contient du stock : transférez-le d'abord.")]
    LocationHoldsStock,
    /// 409: archiving a location while a count of it is open.
    #[error("Un inventaire de cet emplacement est ouvert : validez-le ou annulez-le d'abord.")]
    LocationBeingCounted,
    /// 409: deleting a location that movements, counts or children name.
    #[error("Des mouvements, inventaires ou sous-emplacements le désignent : archivez-le plutôt.")]
    LocationInUse,
    /// 400 on `parent_id`: the tree would loop.
    #[error("Un emplacement ne se place ni sous lui-même ni sous un de ses descendants.")]
    LocationCycle,
    /// 409: location codes are unique, case aside.
    #[error("Ce code d'emplacement existe déjà.")]
    DuplicateLocationCode,
    /// 409: a location has one open count at a time.
    #[error("Un inventaire est déjà ouvert pour cet emplacement.")]
    CountAlreadyOpen,
    /// 409: lines are recorded only while the count is open.
    #[error("Cet inventaire est clos ({status}).")]
    CountClosed { status: String },
    /// 400 on `lines`: pieces stock does not know.
    #[error("Pièces inconnues : {0}.")]
    UnknownPieces(String),
    #[error(transparent)]
    Kit(#[from] kit::Error),
}

impl From<spin_sdk::sqlite::Error> for StockError {
    fn from(error: spin_sdk::sqlite::Error) -> Self {
        Self::Kit(error.into())
    }
}

impl From<StockError> for kit::Error {
    fn from(error: StockError) -> Self {
        let detail = error.to_string();
        match error {
            StockError::Kit(inner) => inner,
            StockError::Insufficient { available } => kit::Error::ConflictWith {
                detail,
                members: serde_json::Map::from_iter([("available".to_owned(), available.into())]),
            },
            StockError::ArchivedPiece { .. }
            | StockError::AlreadyReversed
            | StockError::ReversalOfReversal
            | StockError::NothingToReverse
            | StockError::ArchivedLocation(_)
            | StockError::DefaultLocation
            | StockError::LocationHoldsStock
            | StockError::LocationBeingCounted
            | StockError::LocationInUse
            | StockError::DuplicateLocationCode
            | StockError::CountAlreadyOpen
            | StockError::CountClosed { .. } => kit::Error::Conflict(detail),
            StockError::UnknownPiece => field("piece_id", detail),
            StockError::UnknownLocation(name) => field(name, detail),
            StockError::LocationCycle => field("parent_id", detail),
            StockError::UnknownPieces(_) => field("lines", detail),
            StockError::PiecesUnavailable => kit::Error::Unavailable(detail),
            StockError::IdempotencyMismatch => kit::Error::Unprocessable(detail),
        }
    }
}

fn field(name: &str, detail: String) -> kit::Error {
    kit::Error::Validation(BTreeMap::from([(name.to_owned(), vec![detail])]))
}
