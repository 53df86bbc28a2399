//! What pieces asks the stock service, through stock's internal routes:
//! before a `DELETE`, whether the piece was ever used ([`usage`]). What
//! became of a piece reaches stock through the outbox (`outbox.rs`).

use serde::Deserialize;
use spin_sdk::http::Method;

use kit::Error;

/// Spin variable holding stock's `host:port` (see `spin.toml`).
const STOCK_URL_VARIABLE: &str = "stock_url";

/// Stock's answer for one piece.
#[derive(Debug, Deserialize)]
pub struct Usage {
    piece_id: i64,
    pub has_stock: bool,
    pub has_movements: bool,
}

impl Usage {
    /// A piece with stock or history must stay, archived: the ledger names it.
    pub fn in_use(&self) -> bool {
        self.has_stock || self.has_movements
    }
}

/// Whether piece `id` has stock or movements; 503 if stock cannot say
/// (unreachable, not 2xx, not the expected JSON), so that the caller
/// changes nothing rather than delete a piece the ledger still names.
pub async fn usage(id: i64) -> Result<Usage, Error> {
    ask(id).await.map_err(|why| {
        eprintln!("stock usage of piece {id}: {why}");
        Error::Unavailable(
            "Le service de stock ne répond pas : impossible de savoir si la pièce a du stock ou \
             des mouvements. Rien n'a été modifié ; réessayez plus tard."
                .into(),
        )
    })
}

async fn ask(id: i64) -> Result<Usage, String> {
    let path = format!("/api/stock/internal/usage/{id}/");
    let response = kit::peer::call(STOCK_URL_VARIABLE, Method::Get, &path, &[], None)
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let status = *response.status();
    if !(200..300).contains(&status) {
        return Err(format!("status {status}"));
    }
    let usage: Usage = serde_json::from_slice(response.body())
        .map_err(|error| format!("unexpected answer: {error}"))?;
    if usage.piece_id != id {
        return Err(format!("answer about piece {} instead", usage.piece_id));
    }
    Ok(usage)
}
