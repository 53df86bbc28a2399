//! Access tokens for the load, signed as `auth` signs them (EdDSA, the
//! run's key and kid, `iss`, `aud`, `sub`, `exp`), so every request pays
//! the same token check a user's request does.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jwt_simple::prelude::{Claims, Duration, Ed25519KeyPair, EdDSAKeyPairLike};

/// A token of `role` for user 1 (`bench`), valid for an hour: the whole run.
pub fn mint(private_key: &str, role: &str) -> Result<String> {
    mint_for(private_key, role, "gestion-de-stock-api")
}

/// As [`mint`], for audience `audience`: a token whose signature holds but
/// that the check refuses (after verifying it) when the audience is not ours.
pub fn mint_for(private_key: &str, role: &str, audience: &str) -> Result<String> {
    let (kid, encoded) = private_key
        .split_once(':')
        .context("the JWT private key is not `<kid>:<base64>`")?;
    let key = Ed25519KeyPair::from_bytes(&STANDARD.decode(encoded)?)
        .map_err(|e| anyhow::anyhow!("the JWT private key: {e}"))?
        .with_key_id(kid);
    let claims = Claims::with_custom_claims(
        serde_json::json!({ "role": role, "username": "bench", "sid": "bench" }),
        Duration::from_hours(1),
    )
    .with_issuer("gestion-de-stock")
    .with_audience(audience)
    .with_subject(1);
    key.sign(claims)
        .map_err(|e| anyhow::anyhow!("cannot sign a token: {e}"))
}
