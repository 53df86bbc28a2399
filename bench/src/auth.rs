//! The bearer-token check of `kit::auth`, natively: per request, the JWKS is
//! parsed from its configured value (the component reads the Spin variable
//! and parses it on every request), then the token is verified with
//! jwt-simple under the same options: `alg` EdDSA whatever the header says,
//! `kid` one of the listed keys, signature, `iss`, `aud`, `exp` required,
//! 30 s of leeway.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::{
    Duration, Ed25519PublicKey, EdDSAPublicKeyLike, JWTClaims, Token, VerificationOptions,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::Error;

const ISSUER: &str = "gestion-de-stock";
const AUDIENCE: &str = "gestion-de-stock-api";
const LEEWAY_SECS: u64 = 30;
const ALGORITHM: &str = "EdDSA";
const MAX_TOKEN_LENGTH: usize = 4096;

const NO_CREDENTIALS: &str = "Informations d'authentification non fournies.";
const INVALID_TOKEN: &str = "Jeton invalide ou expiré.";
const INVALID_INTERNAL: &str = "Identifiant de service invalide.";
const ROLE_TOO_LOW: &str = "Vous n'avez pas la permission d'effectuer cette action.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Manager,
    Admin,
}

#[derive(Debug)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, minimum: Role) -> Result<(), Error> {
        if self.role >= minimum {
            Ok(())
        } else {
            Err(Error::Forbidden(ROLE_TOO_LOW))
        }
    }
}

#[derive(Deserialize)]
struct AccessClaims {
    role: Role,
    username: String,
    #[allow(dead_code)]
    sid: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: Option<String>,
    kid: Option<String>,
    x: Option<String>,
}

/// `kit::auth::authenticate`: the caller of a request whose
/// `Authorization` header is `authorization`, checked against `jwks`.
pub fn authenticate(authorization: Option<&[u8]>, jwks: &str) -> Result<Caller, Error> {
    let header = authorization.ok_or(Error::Unauthorized(NO_CREDENTIALS))?;
    let token = bearer_token(header).ok_or(Error::Unauthorized(INVALID_TOKEN))?;
    let keys = public_keys(jwks).ok_or(Error::Internal)?;
    verify(&keys, token).ok_or(Error::Unauthorized(INVALID_TOKEN))
}

/// `kit::auth::internal`: the service credential, in constant time.
pub fn internal(presented: Option<&[u8]>, expected: &str) -> Result<(), Error> {
    let presented = presented.unwrap_or_default();
    if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented)) {
        Ok(())
    } else {
        Err(Error::Unauthorized(INVALID_INTERNAL))
    }
}

fn bearer_token(header: &[u8]) -> Option<&str> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn public_keys(document: &str) -> Option<Vec<(String, Ed25519PublicKey)>> {
    let jwks: Jwks = serde_json::from_str(document).ok()?;
    if jwks.keys.is_empty() {
        return None;
    }
    let mut keys = Vec::with_capacity(jwks.keys.len());
    for jwk in jwks.keys {
        let (Some(kid), Some(x), "OKP", Some("Ed25519")) =
            (jwk.kid, jwk.x, jwk.kty.as_str(), jwk.crv.as_deref())
        else {
            return None;
        };
        let key = URL_SAFE_NO_PAD
            .decode(x)
            .ok()
            .and_then(|bytes| Ed25519PublicKey::from_bytes(&bytes).ok())?
            .with_key_id(&kid);
        keys.push((kid, key));
    }
    Some(keys)
}

fn verify(keys: &[(String, Ed25519PublicKey)], token: &str) -> Option<Caller> {
    if token.len() > MAX_TOKEN_LENGTH {
        return None;
    }
    let metadata = Token::decode_metadata(token).ok()?;
    if metadata.algorithm() != ALGORITHM {
        return None;
    }
    let kid = metadata.key_id()?;
    let (_, key) = keys.iter().find(|(known, _)| known == kid)?;
    let options = VerificationOptions {
        required_key_id: Some(kid.to_owned()),
        allowed_issuers: Some(HashSet::from([ISSUER.to_owned()])),
        allowed_audiences: Some(HashSet::from([AUDIENCE.to_owned()])),
        time_tolerance: Some(Duration::from_secs(LEEWAY_SECS)),
        max_token_length: Some(MAX_TOKEN_LENGTH),
        ..VerificationOptions::default()
    };
    let claims: JWTClaims<AccessClaims> = key.verify_token(token, Some(options)).ok()?;
    claims.expires_at?;
    let user_id = claims.subject.as_deref()?.parse().ok()?;
    Some(Caller {
        user_id,
        username: claims.custom.username,
        role: claims.custom.role,
    })
}
