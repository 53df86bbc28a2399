//! What can go wrong with a movement, in the domain's words; mapped to HTTP
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
            | StockError::NothingToReverse => kit::Error::Conflict(detail),
            StockError::UnknownPiece => {
                kit::Error::Validation(BTreeMap::from([("piece_id".to_owned(), vec![detail])]))
            }
            StockError::PiecesUnavailable => kit::Error::Unavailable(detail),
            StockError::IdempotencyMismatch => kit::Error::Unprocessable(detail),
        }
    }
}
