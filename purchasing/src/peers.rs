//! What purchasing asks of the other services, on their internal routes:
//! a piece of the catalogue (pieces), the pieces at or below their minimum
//! (stock), and the IN movements of what was received (stock).

use serde::{Deserialize, Serialize};
use spin_sdk::http::{Method, Response};

use crate::error::PurchasingError;

#[derive(Debug, Clone, Deserialize)]
pub struct Piece {
    pub id: i64,
    pub reference: String,
    pub name: String,
    pub archived: bool,
}

/// The catalogue's piece `id`; `None` when pieces does not know it.
pub async fn piece(id: i64) -> Result<Option<Piece>, PurchasingError> {
    let path = format!("/api/pieces/internal/pieces/{id}/");
    let response = kit::peer::call("pieces_url", Method::Get, &path, &[], None)
        .await
        .map_err(|why| unavailable("pieces", &why))?;
    match *response.status() {
        404 => Ok(None),
        200 => parse(&response, "pieces").map(Some),
        status => Err(unavailable("pieces", &format!("status {status}"))),
    }
}

/// A piece at or below its minimum, as stock sees it now.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Candidate {
    pub piece_id: i64,
    pub reference: String,
    pub name: String,
    pub quantity: i64,
    pub min_stock: i64,
}

/// Every active piece with a minimum that stock holds at or below it.
pub async fn reorder_candidates() -> Result<Vec<Candidate>, PurchasingError> {
    let response = kit::peer::call(
        "stock_url",
        Method::Get,
        "/api/stock/internal/reorder/",
        &[],
        None,
    )
    .await
    .map_err(|why| unavailable("stock", &why))?;
    match *response.status() {
        200 => parse(&response, "stock"),
        status => Err(unavailable("stock", &format!("status {status}"))),
    }
}

/// One IN movement stock records for a reception, at most once per `key`.
#[derive(Debug, Serialize)]
pub struct Receipt {
    pub key: String,
    pub piece_id: i64,
    pub quantity: i64,
    pub location_id: Option<i64>,
    pub user_id: i64,
    pub username: String,
    pub note: String,
}

/// What stock did with one [`Receipt`]: its movement (new, or the one the
/// key recorded before), or why it refused it.
#[derive(Debug, Deserialize)]
pub struct Outcome {
    pub key: String,
    pub movement_id: Option<i64>,
    pub refused: Option<String>,
}

/// Sends `receipts` to stock; `Err` when stock gave no answer about them
/// (down, or unable to check its pieces): they are tried again later.
pub async fn record_receipts(receipts: &[Receipt]) -> Result<Vec<Outcome>, String> {
    let body = serde_json::json!({ "receipts": receipts }).to_string();
    let response = kit::peer::call(
        "stock_url",
        Method::Post,
        "/api/stock/internal/receipts/",
        &[],
        Some(body),
    )
    .await?;
    match *response.status() {
        200 => serde_json::from_slice::<Vec<Outcome>>(response.body())
            .map_err(|e| format!("unexpected answer from stock: {e}")),
        status => Err(format!("stock answered {status}")),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    response: &Response,
    peer: &'static str,
) -> Result<T, PurchasingError> {
    serde_json::from_slice(response.body())
        .map_err(|e| unavailable(peer, &format!("unexpected answer: {e}")))
}

fn unavailable(peer: &'static str, why: &str) -> PurchasingError {
    eprintln!("{peer} service unavailable: {why}");
    PurchasingError::PeerUnavailable(peer)
}
