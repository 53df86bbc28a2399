//! The one token check every service uses, the roles, and the shared
//! credential of service-to-service calls.
//!
//! Access tokens are JWTs signed by `auth` with Ed25519 (`alg: EdDSA`) and a
//! `kid`. Every service verifies them on its own, offline, against the public
//! keys of the Spin variable `jwt_public_keys` (a JWKS document): no network
//! call per request, and a key rotation is one variable holding two keys.
//!
//! **Invariant:** [`authenticate`] (or [`session`], which it wraps) is the only
//! place a bearer token is checked; services never decode a token themselves.
//! Whatever is wrong with a token, the client gets the same 401: the exact
//! reason would only help someone forging one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use jwt_simple::prelude::{
    Audiences, Claims, Clock, Duration, Ed25519KeyPair, EdDSAKeyPairLike, JWTClaims, Token,
    UnixTimeStamp,
};
use serde::{Deserialize, Serialize};
use spin_sdk::http::Request;
use subtle::ConstantTimeEq;

use crate::Error;

/// `iss` of every access token.
pub const ISSUER: &str = "gestion-de-stock";
/// `aud` of every access token: the API as a whole.
pub const AUDIENCE: &str = "gestion-de-stock-api";
/// Clock drift tolerated between the hosts that sign and verify.
pub const LEEWAY_SECS: u64 = 30;
/// The only signature algorithm accepted, whatever a token's header says.
pub const ALGORITHM: &str = "EdDSA";
/// Header carrying the service-to-service credential.
pub const INTERNAL_SECRET_HEADER: &str = "x-internal-secret";

/// Spin variable holding the JWKS of the keys that may sign access tokens.
const PUBLIC_KEYS_VARIABLE: &str = "jwt_public_keys";
/// Spin variable holding the service-to-service credential.
const INTERNAL_SECRET_VARIABLE: &str = "internal_secret";
/// Tokens longer than this are refused before any decoding (ours are ~400 B).
const MAX_TOKEN_LENGTH: usize = 4096;

const NO_CREDENTIALS: &str = "Informations d'authentification non fournies.";
const INVALID_TOKEN: &str = "Jeton invalide ou expiré.";
const INVALID_INTERNAL: &str = "Identifiant de service invalide.";
const ROLE_TOO_LOW: &str = "Vous n'avez pas la permission d'effectuer cette action.";

/// A user's role, lowest first: each role may do what the ones below it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also records IN and OUT movements.
    Operator,
    /// Also edits the catalogue, adjusts stock and creates notifications.
    Manager,
    /// Also manages users.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Manager, Role::Admin];

    /// The wire name (`viewer`...), as serde writes it and the database stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// The name the French UI shows.
    pub fn label_fr(self) -> &'static str {
        match self {
            Role::Viewer => "lecteur",
            Role::Operator => "magasinier",
            Role::Manager => "gestionnaire",
            Role::Admin => "administrateur",
        }
    }

    /// The role of a wire name, if it is one.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

/// Who is calling, as the access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller's role is `minimum` or above.
    pub fn require(&self, minimum: Role) -> Result<(), Error> {
        if self.role >= minimum {
            Ok(())
        } else {
            Err(Error::Forbidden(ROLE_TOO_LOW.into()))
        }
    }
}

/// A caller and the login session (refresh-token family) its token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub caller: Caller,
    /// `sid` claim: lets `auth` tell the current session from the others.
    pub id: String,
}

/// The caller of `request`, from its `Authorization: Bearer` access token;
/// 401 (with `WWW-Authenticate: Bearer`) when there is none or it is not valid.
pub fn authenticate(request: &Request) -> Result<Caller, Error> {
    session(request).map(|session| session.caller)
}

/// As [`authenticate`], with the session the token belongs to.
pub fn session(request: &Request) -> Result<Session, Error> {
    let header = request
        .header("authorization")
        .ok_or_else(|| Error::Unauthorized(NO_CREDENTIALS.into()))?;
    let token = bearer_token(header.as_bytes()).ok_or_else(invalid_token)?;
    let keys = PublicKeys::from_jwks(&read_variable(PUBLIC_KEYS_VARIABLE)?)
        .map_err(|error| Error::Internal(format!("{PUBLIC_KEYS_VARIABLE}: {error}").into()))?;
    keys.verify(token, None).map_err(|_| invalid_token())
}

/// 401 unless `request` carries the service-to-service credential, compared
/// in constant time. With no credential configured, nothing passes.
pub fn internal(request: &Request) -> Result<(), Error> {
    let expected = read_variable(INTERNAL_SECRET_VARIABLE)?;
    let presented = request
        .header(INTERNAL_SECRET_HEADER)
        .map(|value| value.as_bytes())
        .unwrap_or_default();
    if secrets_match(expected.as_bytes(), presented) {
        Ok(())
    } else {
        Err(Error::Unauthorized(INVALID_INTERNAL.into()))
    }
}

fn invalid_token() -> Error {
    Error::Unauthorized(INVALID_TOKEN.into())
}

fn read_variable(name: &str) -> Result<String, Error> {
    spin_sdk::variables::get(name)
        .map_err(|error| Error::Internal(format!("Spin variable {name}: {error}").into()))
}

/// The token of an `Authorization` value `Bearer <token>` (scheme
/// case-insensitive, RFC 9110 §11.1).
pub fn bearer_token(header: &[u8]) -> Option<&str> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An empty expected secret means "not configured": it matches nothing, so a
/// missing header cannot pass for an empty secret.
fn secrets_match(expected: &[u8], presented: &[u8]) -> bool {
    !expected.is_empty() && bool::from(expected.ct_eq(presented))
}

/// The claims `auth` adds to the registered ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub role: Role,
    pub username: String,
    /// The session (refresh-token family) that minted the token.
    pub sid: String,
}

/// Why a JWKS document or a private key is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a JWKS document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("key {0}: only OKP Ed25519 keys with a kid are supported")]
    Unsupported(usize),
    #[error("key {0}: `x` is not 32 bytes of base64url")]
    PublicKey(usize),
    #[error("the private key is not `<kid>:<base64 of the 64-byte key pair>`")]
    PrivateKey,
    #[error("no key: the document lists none")]
    Empty,
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

/// The keys that may sign access tokens, each known by its `kid`.
///
/// Signatures are checked with ed25519-dalek rather than jwt-simple's
/// verifier: on wasm32 jwt-simple's field arithmetic is made of 128-bit
/// products, each a call to compiler-rt's `__multi3`, where
/// curve25519-dalek uses 32-bit limbs; the check costs half as much per
/// request. jwt-simple still decodes the header and the claims, and signs.
pub struct PublicKeys(Vec<(String, VerifyingKey)>);

impl PublicKeys {
    /// Parses `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":...,"x":...}]}`.
    pub fn from_jwks(document: &str) -> Result<Self, KeyError> {
        let jwks: Jwks = serde_json::from_str(document)?;
        if jwks.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys = Vec::with_capacity(jwks.keys.len());
        for (index, jwk) in jwks.keys.into_iter().enumerate() {
            let (Some(kid), Some(x), "OKP", Some("Ed25519")) =
                (jwk.kid, jwk.x, jwk.kty.as_str(), jwk.crv.as_deref())
            else {
                return Err(KeyError::Unsupported(index));
            };
            let key = URL_SAFE_NO_PAD
                .decode(x)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
                .ok_or(KeyError::PublicKey(index))?;
            keys.push((kid, key));
        }
        Ok(Self(keys))
    }

    /// The session a token stands for, if it is an access token we signed:
    /// `alg` is EdDSA, its `kid` is one of ours, the signature holds, `iss`
    /// and `aud` are ours, `exp` is present and `exp`/`nbf`/`iat` hold within
    /// the leeway at `now` (the clock when `None`).
    pub fn verify(&self, token: &str, now: Option<UnixTimeStamp>) -> Result<Session, Rejected> {
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(Rejected::Malformed);
        }
        let metadata = Token::decode_metadata(token).map_err(|_| Rejected::Malformed)?;
        if metadata.algorithm() != ALGORITHM {
            return Err(Rejected::Algorithm);
        }
        if !header_is_plain_jwt(metadata.signature_type(), metadata.critical()) {
            return Err(Rejected::Malformed);
        }
        let kid = metadata.key_id().ok_or(Rejected::UnknownKey)?;
        let (_, key) = self
            .0
            .iter()
            .find(|(known, _)| known == kid)
            .ok_or(Rejected::UnknownKey)?;
        let payload = signed_payload(token, key)?;
        let claims: JWTClaims<AccessClaims> =
            serde_json::from_slice(&payload).map_err(|_| Rejected::Claims)?;
        check_claims(&claims, now.unwrap_or_else(Clock::now_since_epoch))?;
        let user_id = claims
            .subject
            .as_deref()
            .and_then(|sub| sub.parse().ok())
            .ok_or(Rejected::Claims)?;
        Ok(Session {
            caller: Caller {
                user_id,
                username: claims.custom.username,
                role: claims.custom.role,
            },
            id: claims.custom.sid,
        })
    }
}

/// A `typ`, if any, that says JWT, and no critical extension: we know none.
fn header_is_plain_jwt(typ: Option<&str>, critical: Option<&[String]>) -> bool {
    let typ_ok = typ.is_none_or(|typ| {
        let typ = typ.to_ascii_uppercase();
        typ == "JWT" || typ.ends_with("+JWT")
    });
    typ_ok && critical.is_none_or(<[String]>::is_empty)
}

/// The decoded payload of a compact JWS whose Ed25519 signature by `key`
/// holds (strict: no malleable or small-order encodings).
fn signed_payload(token: &str, key: &VerifyingKey) -> Result<Vec<u8>, Rejected> {
    let (signed, signature) = token.rsplit_once('.').ok_or(Rejected::Malformed)?;
    let (_, payload) = signed.split_once('.').ok_or(Rejected::Malformed)?;
    if payload.contains('.') {
        return Err(Rejected::Malformed);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(Rejected::Claims)?;
    key.verify_strict(signed.as_bytes(), &signature)
        .map_err(|_| Rejected::Claims)?;
    URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Rejected::Claims)
}

/// The registered claims of an access token at `now`: `iss` and `aud` ours,
/// `exp` present and not past, `nbf` and `iat` not in the future, each time
/// with [`LEEWAY_SECS`] of drift allowed.
fn check_claims(claims: &JWTClaims<AccessClaims>, now: UnixTimeStamp) -> Result<(), Rejected> {
    let leeway = Duration::from_secs(LEEWAY_SECS);
    let expires_at = claims.expires_at.ok_or(Rejected::Claims)?;
    let timely = now <= expires_at + leeway
        && claims.invalid_before.is_none_or(|nbf| nbf <= now + leeway)
        && claims.issued_at.is_none_or(|iat| iat <= now + leeway);
    let ours = claims.issuer.as_deref() == Some(ISSUER)
        && match &claims.audiences {
            Some(Audiences::AsString(audience)) => audience == AUDIENCE,
            Some(Audiences::AsSet(audiences)) => audiences.contains(AUDIENCE),
            None => false,
        };
    if timely && ours {
        Ok(())
    } else {
        Err(Rejected::Claims)
    }
}

/// Why a token was refused; for tests and logs, never for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    Malformed,
    Algorithm,
    UnknownKey,
    /// Bad signature, wrong `iss`/`aud`, expired, not yet valid, bad `sub`.
    Claims,
}

/// The key `auth` signs access tokens with.
pub struct Signer {
    kid: String,
    key_pair: Ed25519KeyPair,
}

impl Signer {
    /// Parses the `jwt_private_key` variable: `<kid>:<base64 of the key pair>`.
    pub fn from_variable(value: &str) -> Result<Self, KeyError> {
        let (kid, encoded) = value.trim().split_once(':').ok_or(KeyError::PrivateKey)?;
        if kid.is_empty() {
            return Err(KeyError::PrivateKey);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| KeyError::PrivateKey)?;
        let key_pair = Ed25519KeyPair::from_bytes(&bytes)
            .map_err(|_| KeyError::PrivateKey)?
            .with_key_id(kid);
        Ok(Self {
            kid: kid.to_owned(),
            key_pair,
        })
    }

    /// The key id tokens are signed under.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A fresh access token for `caller` in session `session_id`, valid
    /// `lifetime` from now, with a random `jti`. A revoked session or a
    /// deactivated user keeps a valid access token at most that long.
    pub fn access_token(
        &self,
        caller: &Caller,
        session_id: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, Error> {
        let claims = Claims::with_custom_claims(
            AccessClaims {
                role: caller.role,
                username: caller.username.clone(),
                sid: session_id.to_owned(),
            },
            Duration::from_secs(lifetime.as_secs()),
        );
        self.sign(claims_for(claims, caller.user_id)?)
    }

    fn sign(&self, claims: JWTClaims<AccessClaims>) -> Result<String, Error> {
        self.key_pair
            .sign(claims)
            .map_err(|error| Error::Internal(error.into()))
    }
}

/// Adds the registered claims every access token carries.
fn claims_for(
    claims: JWTClaims<AccessClaims>,
    user_id: i64,
) -> Result<JWTClaims<AccessClaims>, Error> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|error| Error::Internal(error.to_string().into()))?;
    Ok(claims
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
        .with_subject(user_id)
        .with_jwt_id(URL_SAFE_NO_PAD.encode(jti)))
}

#[cfg(test)]
mod tests {
    use jwt_simple::prelude::{HS256Key, MACLike};

    use super::*;

    const KID: &str = "test-1";
    const LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

    fn key_pair() -> Ed25519KeyPair {
        Ed25519KeyPair::generate().with_key_id(KID)
    }

    fn jwks(entries: &[(&str, &Ed25519KeyPair)]) -> String {
        let keys: Vec<serde_json::Value> = entries
            .iter()
            .map(|(kid, pair)| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(pair.public_key().to_bytes()),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    fn signer(pair: &Ed25519KeyPair, kid: &str) -> Signer {
        let value = format!(
            "{kid}:{}",
            base64::engine::general_purpose::STANDARD.encode(pair.to_bytes())
        );
        Signer::from_variable(&value).expect("a valid private key")
    }

    fn alice() -> Caller {
        Caller {
            user_id: 7,
            username: "alice".into(),
            role: Role::Operator,
        }
    }

    fn claims() -> JWTClaims<AccessClaims> {
        let claims = Claims::with_custom_claims(
            AccessClaims {
                role: Role::Operator,
                username: "alice".into(),
                sid: "s1".into(),
            },
            Duration::from_secs(LIFETIME.as_secs()),
        );
        claims_for(claims, 7).expect("randomness")
    }

    fn now() -> UnixTimeStamp {
        jwt_simple::prelude::Clock::now_since_epoch()
    }

    /// `header.payload.signature` with each part given as JSON (signature raw).
    fn forge(header: &serde_json::Value, payload: &serde_json::Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// As [`forge`], signed by `pair` as `auth` would sign it.
    fn sign_forged(
        header: &serde_json::Value,
        payload: &serde_json::Value,
        pair: &Ed25519KeyPair,
    ) -> String {
        use ed25519_dalek::Signer as _;
        let unsigned = forge(header, payload, b"");
        let signed = unsigned.trim_end_matches('.');
        let key = ed25519_dalek::SigningKey::from_keypair_bytes(
            &pair.to_bytes().try_into().expect("64 bytes"),
        )
        .expect("a key pair");
        let signature = key.sign(signed.as_bytes()).to_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn payload() -> serde_json::Value {
        let now = now().as_secs();
        serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "7", "iat": now, "nbf": now,
            "exp": now + 600, "jti": "x", "role": "admin", "username": "alice", "sid": "s1",
        })
    }

    #[test]
    fn a_token_we_signed_verifies_to_its_caller_and_session() {
        let pair = key_pair();
        let token = signer(&pair, KID)
            .access_token(&alice(), "s1", LIFETIME)
            .unwrap();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let session = keys.verify(&token, None).unwrap();
        assert_eq!(session.caller, alice());
        assert_eq!(session.id, "s1");
    }

    #[test]
    fn two_keys_are_accepted_during_a_rotation() {
        let (old, new) = (key_pair(), key_pair());
        let keys = PublicKeys::from_jwks(&jwks(&[("old", &old), ("new", &new)])).unwrap();
        for (pair, kid) in [(&old, "old"), (&new, "new")] {
            let token = signer(pair, kid)
                .access_token(&alice(), "s", LIFETIME)
                .unwrap();
            assert!(keys.verify(&token, None).is_ok(), "{kid}");
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &key_pair())])).unwrap();
        let token = forge(
            &serde_json::json!({"alg": "none", "typ": "JWT", "kid": KID}),
            &payload(),
            b"",
        );
        assert_eq!(keys.verify(&token, None), Err(Rejected::Algorithm));
        let unsigned = token.trim_end_matches('.').to_owned() + ".";
        assert!(keys.verify(&unsigned, None).is_err());
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let hmac = HS256Key::from_bytes(&pair.public_key().to_bytes()).with_key_id(KID);
        let mut claims = claims();
        claims.custom.role = Role::Admin;
        let token = hmac.authenticate(claims).unwrap();
        assert_eq!(keys.verify(&token, None), Err(Rejected::Algorithm));
    }

    #[test]
    fn a_token_signed_by_another_key_under_our_kid_is_refused() {
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &key_pair())])).unwrap();
        let token = signer(&key_pair(), KID)
            .access_token(&alice(), "s", LIFETIME)
            .unwrap();
        assert_eq!(keys.verify(&token, None), Err(Rejected::Claims));
    }

    #[test]
    fn an_unknown_or_missing_kid_is_refused() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let token = signer(&pair, "other")
            .access_token(&alice(), "s", LIFETIME)
            .unwrap();
        assert_eq!(keys.verify(&token, None), Err(Rejected::UnknownKey));
        let no_kid = Ed25519KeyPair::from_bytes(&pair.to_bytes())
            .unwrap()
            .sign(claims())
            .unwrap();
        assert_eq!(keys.verify(&no_kid, None), Err(Rejected::UnknownKey));
    }

    #[test]
    fn expired_and_not_yet_valid_tokens_are_refused_beyond_the_leeway() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let token = signer(&pair, KID)
            .access_token(&alice(), "s", LIFETIME)
            .unwrap();
        let issued = now();
        let lifetime = Duration::from_secs(LIFETIME.as_secs());
        let leeway = Duration::from_secs(LEEWAY_SECS);
        let just_inside = issued + lifetime + leeway - Duration::from_secs(2);
        assert!(keys.verify(&token, Some(just_inside)).is_ok());
        let expired = issued + lifetime + leeway + Duration::from_secs(2);
        assert_eq!(keys.verify(&token, Some(expired)), Err(Rejected::Claims));
        let early = issued - leeway - Duration::from_secs(2);
        assert_eq!(keys.verify(&token, Some(early)), Err(Rejected::Claims));
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let signer = signer(&pair, KID);
        let mut wrong_issuer = claims();
        wrong_issuer.issuer = Some("someone-else".into());
        let mut wrong_audience = claims();
        wrong_audience.audiences = None;
        let wrong_audience = wrong_audience.with_audience("another-api");
        let mut no_audience = claims();
        no_audience.audiences = None;
        for claims in [wrong_issuer, wrong_audience, no_audience] {
            let token = signer.sign(claims).unwrap();
            assert_eq!(keys.verify(&token, None), Err(Rejected::Claims));
        }
    }

    #[test]
    fn missing_exp_or_a_non_numeric_sub_is_refused() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let signer = signer(&pair, KID);
        let mut no_exp = claims();
        no_exp.expires_at = None;
        let mut bad_sub = claims();
        bad_sub.subject = Some("alice".into());
        for claims in [no_exp, bad_sub] {
            let token = signer.sign(claims).unwrap();
            assert_eq!(keys.verify(&token, None), Err(Rejected::Claims));
        }
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let token = signer(&pair, KID)
            .access_token(&alice(), "s", LIFETIME)
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload().to_string()),
            parts[2]
        );
        assert_eq!(keys.verify(&tampered, None), Err(Rejected::Claims));
    }

    #[test]
    fn only_a_plain_jwt_header_is_accepted() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let header = |extra: serde_json::Value| {
            let mut header = serde_json::json!({"alg": "EdDSA", "kid": KID});
            header
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            header
        };
        for accepted in [
            serde_json::json!({}),
            serde_json::json!({"typ": "JWT"}),
            serde_json::json!({"typ": "at+jwt"}),
        ] {
            let token = sign_forged(&header(accepted.clone()), &payload(), &pair);
            assert!(keys.verify(&token, None).is_ok(), "{accepted}");
        }
        for refused in [
            serde_json::json!({"typ": "JWE"}),
            serde_json::json!({"crit": ["exp"]}),
        ] {
            let token = sign_forged(&header(refused.clone()), &payload(), &pair);
            assert_eq!(
                keys.verify(&token, None),
                Err(Rejected::Malformed),
                "{refused}"
            );
        }
    }

    #[test]
    fn an_audience_list_must_name_ours() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": KID});
        let with_audiences = |audiences: serde_json::Value| {
            let mut payload = payload();
            payload["aud"] = audiences;
            sign_forged(&header, &payload, &pair)
        };
        let listed = with_audiences(serde_json::json!(["other", AUDIENCE]));
        assert!(keys.verify(&listed, None).is_ok());
        let absent = with_audiences(serde_json::json!(["other"]));
        assert_eq!(keys.verify(&absent, None), Err(Rejected::Claims));
    }

    #[test]
    fn a_signature_must_be_64_bytes_over_three_parts() {
        let pair = key_pair();
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &pair)])).unwrap();
        let token = signer(&pair, KID)
            .access_token(&alice(), "s", LIFETIME)
            .unwrap();
        let (signed, _) = token.rsplit_once('.').unwrap();
        let short = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([0u8; 63]));
        assert_eq!(keys.verify(&short, None), Err(Rejected::Claims));
        let four_parts = format!("{token}.");
        assert!(keys.verify(&four_parts, None).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        let keys = PublicKeys::from_jwks(&jwks(&[(KID, &key_pair())])).unwrap();
        for token in [
            "",
            "abc",
            "a.b.c",
            "....",
            &"x".repeat(MAX_TOKEN_LENGTH + 1),
        ] {
            assert!(keys.verify(token, None).is_err(), "{token}");
        }
    }

    #[test]
    fn unusable_key_documents_are_refused() {
        for document in [
            "",
            "{}",
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"RSA","kid":"a","x":"AAAA"}]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}"#,
        ] {
            assert!(PublicKeys::from_jwks(document).is_err(), "{document}");
        }
        for value in ["", "kid", ":AAAA", "kid:not base64!", "kid:AAAA"] {
            assert!(Signer::from_variable(value).is_err(), "{value}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer_token(b"bearer  abc "), Some("abc"));
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"abc"), None);
        assert_eq!(bearer_token(b"Bearer \xff"), None);
    }

    #[test]
    fn internal_secret_must_match_and_be_configured() {
        assert!(secrets_match(b"s3cret", b"s3cret"));
        assert!(!secrets_match(b"s3cret", b"s3creT"));
        assert!(!secrets_match(b"s3cret", b"s3cret "));
        assert!(!secrets_match(b"", b""));
    }

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Viewer < Role::Operator);
        assert!(Role::Operator < Role::Manager);
        assert!(Role::Manager < Role::Admin);
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::Operator.label_fr(), "magasinier");
        assert_eq!(Role::parse("superuser"), None);
    }

    #[test]
    fn require_compares_roles() {
        let caller = alice();
        assert!(caller.require(Role::Viewer).is_ok());
        assert!(caller.require(Role::Operator).is_ok());
        let refused = caller.require(Role::Manager).unwrap_err();
        assert_eq!(refused.status(), 403);
    }
}
