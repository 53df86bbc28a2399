//! What pieces and the stock service say to each other, through stock's
//! internal routes: before a `DELETE`, whether the piece was ever used
//! ([`usage`]); after any change pieces has committed, what became of the
//! piece ([`changed`], [`deleted`]), so that stock's list shows it as it is.

use serde::Deserialize;
use spin_sdk::http::{Method, Request, Response};

use kit::Error;

use crate::model::Piece;

/// Spin variable holding stock's `host:port` (see `spin.toml`).
const STOCK_URL_VARIABLE: &str = "stock_url";
/// Spin variable holding the service-to-service credential.
const INTERNAL_SECRET_VARIABLE: &str = "internal_secret";

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
    let variable =
        |name| spin_sdk::variables::get(name).map_err(|error| format!("variable {name}: {error}"));
    let url = format!(
        "http://{}/api/stock/internal/usage/{id}/",
        variable(STOCK_URL_VARIABLE)?
    );
    let request = Request::get(url)
        .header(
            kit::auth::INTERNAL_SECRET_HEADER,
            variable(INTERNAL_SECRET_VARIABLE)?,
        )
        .build();
    let response: Response = spin_sdk::http::send(request)
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

/// Tells stock that `piece` changed (edited or archived): stock updates its
/// copy if it knows the piece. Called once the change is committed, and
/// best effort: a failure is logged and changes nothing of pieces' answer;
/// stock reads the piece again at its next movement.
pub async fn changed(piece: &Piece) {
    tell(
        Method::Put,
        piece.id,
        Some(piece.to_internal_json().to_string()),
    )
    .await;
}

/// Tells stock that piece `id` was deleted; best effort, as [`changed`].
pub async fn deleted(id: i64) {
    tell(Method::Delete, id, None).await;
}

async fn tell(method: Method, id: i64, body: Option<String>) {
    if let Err(why) = send(method.clone(), id, body).await {
        eprintln!("telling stock of piece {id} ({method}): {why}");
    }
}

async fn send(method: Method, id: i64, body: Option<String>) -> Result<(), String> {
    let variable =
        |name| spin_sdk::variables::get(name).map_err(|error| format!("variable {name}: {error}"));
    let url = format!(
        "http://{}/api/stock/internal/pieces/{id}/",
        variable(STOCK_URL_VARIABLE)?
    );
    let mut request = Request::builder();
    request.method(method).uri(url).header(
        kit::auth::INTERNAL_SECRET_HEADER,
        variable(INTERNAL_SECRET_VARIABLE)?,
    );
    if let Some(body) = body {
        request
            .header("content-type", "application/json")
            .body(body);
    }
    let response: Response = spin_sdk::http::send(request.build())
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    match *response.status() {
        200..=299 => Ok(()),
        status => Err(format!("status {status}")),
    }
}
