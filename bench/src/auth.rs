//! The bearer-token check of `kit::auth`, natively: per request, the JWKS is
//! parsed from its configured value (the component reads the Spin variable
//! and parses it on every request), then the token goes through kit's own
//! verification, so both sides do the same work.

use kit::auth::{Caller, PublicKeys, Role};
use subtle::ConstantTimeEq;

use crate::error::Error;

const NO_CREDENTIALS: &str = "Informations d'authentification non fournies.";
const INVALID_TOKEN: &str = "Jeton invalide ou expiré.";
const INVALID_INTERNAL: &str = "Identifiant de service invalide.";
const ROLE_TOO_LOW: &str = "Vous n'avez pas la permission d'effectuer cette action.";

/// `kit::auth::authenticate`: the caller of a request whose
/// `Authorization` header is `authorization`, checked against `jwks`.
pub fn authenticate(authorization: Option<&[u8]>, jwks: &str) -> Result<Caller, Error> {
    let header = authorization.ok_or(Error::Unauthorized(NO_CREDENTIALS))?;
    let token = kit::auth::bearer_token(header).ok_or(Error::Unauthorized(INVALID_TOKEN))?;
    let keys = PublicKeys::from_jwks(jwks).map_err(|_| Error::Internal)?;
    keys.verify(token, None)
        .map(|session| session.caller)
        .map_err(|_| Error::Unauthorized(INVALID_TOKEN))
}

/// `Caller::require`, answered as the baseline's error.
pub fn require(caller: &Caller, minimum: Role) -> Result<(), Error> {
    caller
        .require(minimum)
        .map_err(|_| Error::Forbidden(ROLE_TOO_LOW))
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
