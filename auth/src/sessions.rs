//! Login sessions as refresh-token families.
//!
//! A refresh token is 32 random bytes (base64url), not a JWT: only `auth`
//! ever reads it, and an opaque string leaks nothing. The database keeps its
//! SHA-256 only. Each login opens a family; each refresh marks the presented
//! token used and adds its successor to the family (rotation). Presenting a
//! used token means it was copied: the whole family is revoked (reuse
//! detection), so the thief's and the victim's tokens both stop working.
//!
//! Every check-and-change is one statement, so two concurrent refreshes of
//! one token cannot both succeed, whatever the host's transactions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use spin_sdk::sqlite::{Connection, Value};

use kit::Error;

/// What a successful rotation yields.
pub struct Rotated {
    pub family_id: String,
    pub user_id: i64,
}

/// Why a refresh token was refused; the client sees one 401 for all.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Unknown, expired, revoked, or its user deactivated.
    Invalid,
    /// Already rotated: the family has been revoked.
    Reused,
}

/// `n` random bytes, base64url.
pub fn random_token(bytes: usize) -> Result<String, Error> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|error| Error::Internal(error.to_string().into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// The stored form of a refresh token.
fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Opens a family for `user_id`; returns its id.
pub fn open_family(db: &Connection, user_id: i64, now: i64) -> Result<String, Error> {
    let family_id = random_token(16)?;
    db.execute(
        "INSERT INTO refresh_families (id, user_id, created_at) VALUES (?, ?, ?)",
        &[
            Value::Text(family_id.clone()),
            Value::Integer(user_id),
            Value::Integer(now),
        ],
    )?;
    Ok(family_id)
}

/// Adds a fresh refresh token to `family_id`; returns the token.
pub fn issue(db: &Connection, family_id: &str, now: i64, lifetime: i64) -> Result<String, Error> {
    let token = random_token(32)?;
    db.execute(
        "INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES (?, ?, ?)",
        &[
            Value::Text(digest(&token)),
            Value::Text(family_id.to_owned()),
            Value::Integer(now.saturating_add(lifetime)),
        ],
    )?;
    Ok(token)
}

/// Marks `token` used if it is live: unused, unexpired, in a family not
/// revoked, of an active user. Otherwise, a used token revokes its family.
pub fn rotate(db: &Connection, token: &str, now: i64) -> Result<Result<Rotated, Refused>, Error> {
    let hash = digest(token);
    let used = db.execute(
        "UPDATE refresh_tokens SET used_at = ?1 \
         WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1 \
         AND family_id IN (SELECT f.id FROM refresh_families f JOIN users u ON u.id = f.user_id \
                           WHERE f.revoked_at IS NULL AND u.is_active = 1) \
         RETURNING family_id, (SELECT user_id FROM refresh_families WHERE id = family_id)",
        &[Value::Integer(now), Value::Text(hash.clone())],
    )?;
    if let Some(row) = used.rows.first()
        && let (Some(family_id), Some(user_id)) = (row.get::<&str>(0), row.get::<i64>(1))
    {
        return Ok(Ok(Rotated {
            family_id: family_id.to_owned(),
            user_id,
        }));
    }
    // Not live. If it was rotated before, someone replays it: end the family.
    let revoked = db.execute(
        "UPDATE refresh_families SET revoked_at = ?1 \
         WHERE revoked_at IS NULL \
         AND id = (SELECT family_id FROM refresh_tokens WHERE hash = ?2 AND used_at IS NOT NULL) \
         RETURNING id",
        &[Value::Integer(now), Value::Text(hash)],
    )?;
    if revoked.rows.is_empty() {
        Ok(Err(Refused::Invalid))
    } else {
        eprintln!("warning: a rotated refresh token was presented again; its session is revoked");
        Ok(Err(Refused::Reused))
    }
}

/// Revokes the family `token` belongs to; false when the token is unknown
/// or its family already revoked.
pub fn revoke_family_of(db: &Connection, token: &str, now: i64) -> Result<bool, Error> {
    let revoked = db.execute(
        "UPDATE refresh_families SET revoked_at = ?1 WHERE revoked_at IS NULL \
         AND id = (SELECT family_id FROM refresh_tokens WHERE hash = ?2) RETURNING id",
        &[Value::Integer(now), Value::Text(digest(token))],
    )?;
    Ok(!revoked.rows.is_empty())
}

/// Revokes every session of `user_id` but `keep` (the caller's own).
pub fn revoke_all(
    db: &Connection,
    user_id: i64,
    keep: Option<&str>,
    now: i64,
) -> Result<(), Error> {
    db.execute(
        "UPDATE refresh_families SET revoked_at = ? \
         WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?",
        &[
            Value::Integer(now),
            Value::Integer(user_id),
            keep.map_or(Value::Null, |id| Value::Text(id.to_owned())),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
