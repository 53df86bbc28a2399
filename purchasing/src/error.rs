//! What can go wrong in purchasing, in the domain's words; mapped to HTTP
//! once, here, through `kit::Error`.

use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum PurchasingError {
    /// 409: supplier names are unique, case aside.
    #[error("Un fournisseur porte déjà ce nom.")]
    DuplicateSupplier,
    /// 400 on `supplier_id`: no such supplier.
    #[error("Fournisseur inconnu.")]
    UnknownSupplier,
    /// 409: an archived supplier gets no new offer nor order.
    #[error("Ce fournisseur est archivé.")]
    ArchivedSupplier,
    /// 409: deleting a supplier that offers or orders name.
    #[error("Des offres ou des commandes désignent ce fournisseur : archivez-le plutôt.")]
    SupplierInUse,
    /// 409: one offer per supplier and piece.
    #[error("Ce fournisseur a déjà une offre pour cette pièce : modifiez-la.")]
    DuplicateOffer,
    /// 400 on the field naming it: the catalogue does not know the piece.
    #[error("Pièce inconnue : {0}.")]
    UnknownPiece(String),
    /// 503: the catalogue or stock does not answer; nothing was changed.
    #[error("Le service {0} ne répond pas ; réessayez plus tard.")]
    PeerUnavailable(&'static str),
    /// 409: only a draft is edited, sent or deleted.
    #[error("La commande est {status} : seul un brouillon se modifie.")]
    NotDraft { status: String },
    /// 409: a draft without lines is not sent.
    #[error("Une commande sans ligne ne s'envoie pas.")]
    EmptyOrder,
    /// 409: goods are received on a sent order, until it is closed.
    #[error("La commande est {status} : elle ne reçoit pas de marchandise.")]
    NotReceivable { status: String },
    /// 409: received or cancelled orders are closed.
    #[error("La commande est {status} : elle ne s'annule plus.")]
    NotCancellable { status: String },
    /// 400 on `lines`: a line the order does not have.
    #[error("Ligne inconnue dans cette commande : {0}.")]
    UnknownLine(String),
    /// 409: more than ordered, without `over_receipt`.
    #[error(
        "Réception supérieure à la quantité restante ({0}) : cochez « accepter le surplus » si c'est voulu."
    )]
    OverReceipt(String),
    /// 422: an `Idempotency-Key` reused with a different request.
    #[error("Cette clé d'idempotence a déjà servi pour une autre réception.")]
    IdempotencyMismatch,
    /// 409: stock refused every movement of the receipt.
    #[error("Le stock a refusé la réception : {0}")]
    StockRefused(String),
    #[error(transparent)]
    Kit(#[from] kit::Error),
}

impl From<spin_sdk::sqlite::Error> for PurchasingError {
    fn from(error: spin_sdk::sqlite::Error) -> Self {
        Self::Kit(error.into())
    }
}

impl From<PurchasingError> for kit::Error {
    fn from(error: PurchasingError) -> Self {
        let detail = error.to_string();
        match error {
            PurchasingError::Kit(inner) => inner,
            PurchasingError::DuplicateSupplier
            | PurchasingError::ArchivedSupplier
            | PurchasingError::SupplierInUse
            | PurchasingError::DuplicateOffer
            | PurchasingError::NotDraft { .. }
            | PurchasingError::EmptyOrder
            | PurchasingError::NotReceivable { .. }
            | PurchasingError::NotCancellable { .. }
            | PurchasingError::OverReceipt(_)
            | PurchasingError::StockRefused(_) => kit::Error::Conflict(detail),
            PurchasingError::UnknownSupplier => field("supplier_id", detail),
            PurchasingError::UnknownPiece(_) => field("piece_id", detail),
            PurchasingError::UnknownLine(_) => field("lines", detail),
            PurchasingError::PeerUnavailable(_) => kit::Error::Unavailable(detail),
            PurchasingError::IdempotencyMismatch => kit::Error::Unprocessable(detail),
        }
    }
}

fn field(name: &str, detail: String) -> kit::Error {
    kit::Error::Validation(BTreeMap::from([(name.to_owned(), vec![detail])]))
}

/// French for an order's status, as messages say it.
pub fn status_fr(status: &str) -> String {
    match status {
        "draft" => "en brouillon",
        "sent" => "envoyée",
        "partial" => "partiellement reçue",
        "received" => "reçue",
        "cancelled" => "annulée",
        other => other,
    }
    .to_owned()
}
