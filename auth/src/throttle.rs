//! Login protection that an attacker cannot turn against other users.
//!
//! Every attempt is counted *before* the password is checked, in the one
//! statement that decides whether it may go ahead: parallel attempts cannot
//! all slip past the limit while the first ones are being hashed. A right
//! password then takes its attempts back.
//!
//! Two budgets:
//! - one client on one name: a token bucket of [`PAIR_BURST`] attempts,
//!   refilled by one every [`PAIR_REFILL_SECS`]; a guesser slows only
//!   itself on that name, never the name for everyone, and a user who
//!   mistyped waits a minute at most;
//! - one client on all names together: [`CLIENT_LIMIT`] attempts over a
//!   sliding [`WINDOW_SECS`], so that one address cannot guess across many
//!   accounts; a name that has logged in from this client before is exempt,
//!   so strangers behind the same proxy or NAT do not lock its regulars out.
//!
//! There is no per-name budget across clients: it would let anyone lock a
//! chosen account (e.g. `admin`) from a few addresses.
//!
//! Rows are small and bounded: the pair is a SHA-256, the client an
//! address, and every write prunes what the window has left behind.

use sha2::{Digest, Sha256};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Value};

use kit::Error;

/// The client budget's window, in seconds.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Attempts one client may make on one name at once.
pub const PAIR_BURST: i64 = 5;
/// Seconds for one more attempt to come back to a client on a name.
pub const PAIR_REFILL_SECS: i64 = 60;
/// Failed attempts one client may make on all names per window, names that
/// logged in from it before excepted.
pub const CLIENT_LIMIT: i64 = 30;
/// How long a name stays known to a client after its last login.
const KNOWN_SECS: i64 = 90 * 24 * 3600;

/// The budgets an attempt is counted under.
pub struct Keys {
    pair: String,
    client: String,
}

impl Keys {
    /// A login attempt for `username_key`.
    pub fn login(username_key: &str, request: &Request) -> Self {
        Self::new("login", username_key, request)
    }

    /// A check of user `user_id`'s current password (`POST /password/`).
    pub fn password_check(user_id: i64, request: &Request) -> Self {
        Self::new("password", &user_id.to_string(), request)
    }

    fn new(scope: &str, name: &str, request: &Request) -> Self {
        let header = |name| request.header(name).and_then(|value| value.as_str());
        let client = client_address(header("spin-client-addr"), header("x-forwarded-for"));
        let pair = Sha256::digest(format!("{scope}\n{name}\n{client}").as_bytes());
        Self {
            pair: pair.iter().map(|byte| format!("{byte:02x}")).collect(),
            client,
        }
    }
}

/// One attempt, counted; [`succeeded`] takes it back.
pub struct Attempt;

/// Counts an attempt if both budgets allow it, each in one statement; 429
/// with `Retry-After` otherwise (and nothing counted).
pub fn take(db: &Connection, keys: &Keys, now: i64) -> Result<Attempt, Error> {
    let since = now - WINDOW_SECS;
    db.execute(
        "DELETE FROM login_attempts WHERE at <= ?",
        &[Value::Integer(since)],
    )?;
    let counted = db.execute(
        "INSERT INTO login_attempts (pair, client, at) SELECT ?1, ?2, ?3 \
         WHERE EXISTS (SELECT 1 FROM login_known WHERE pair = ?1) \
         OR (SELECT COUNT(*) FROM login_attempts WHERE client = ?2 AND at > ?4) < ?5 \
         RETURNING id",
        &[
            Value::Text(keys.pair.clone()),
            Value::Text(keys.client.clone()),
            Value::Integer(now),
            Value::Integer(since),
            Value::Integer(CLIENT_LIMIT),
        ],
    )?;
    let Some(id) = counted.rows.first().and_then(|row| row.get::<i64>(0)) else {
        return Err(too_many(client_wait_secs(db, keys, now)?));
    };
    // The bucket refilled for the time gone by, one attempt taken, only if
    // one is there: the check and the take are one statement.
    let taken = db.execute(
        "INSERT INTO login_buckets (key, tokens, at) VALUES (?1, ?2 - 1, ?3) \
         ON CONFLICT (key) DO UPDATE \
         SET tokens = MIN(?2, tokens + (excluded.at - at) * 1.0 / ?4) - 1, at = excluded.at \
         WHERE MIN(?2, tokens + (excluded.at - at) * 1.0 / ?4) >= 1 \
         RETURNING tokens",
        &[
            Value::Text(keys.pair.clone()),
            Value::Integer(PAIR_BURST),
            Value::Integer(now),
            Value::Integer(PAIR_REFILL_SECS),
        ],
    )?;
    if taken.rows.is_empty() {
        db.execute(
            "DELETE FROM login_attempts WHERE id = ?",
            &[Value::Integer(id)],
        )?;
        return Err(too_many(pair_wait_secs(db, keys, now)?));
    }
    Ok(Attempt)
}

fn too_many(wait: i64) -> Error {
    Error::TooManyRequests {
        detail: format!("Trop de tentatives de connexion. Réessayez dans {wait} secondes."),
        retry_after_secs: wait.unsigned_abs(),
    }
}

/// The right password: this client's attempts on the name no longer count
/// (its bucket is full again, its attempts leave the client's budget), and
/// the name is known to the client from now on.
pub fn succeeded(db: &Connection, keys: &Keys, _attempt: Attempt, now: i64) -> Result<(), Error> {
    let pair = Value::Text(keys.pair.clone());
    db.execute(
        "DELETE FROM login_attempts WHERE pair = ?",
        std::slice::from_ref(&pair),
    )?;
    db.execute(
        "DELETE FROM login_buckets WHERE key = ?",
        std::slice::from_ref(&pair),
    )?;
    db.execute(
        "INSERT INTO login_known (pair, at) VALUES (?1, ?2) \
         ON CONFLICT (pair) DO UPDATE SET at = excluded.at",
        &[pair, Value::Integer(now)],
    )?;
    db.execute(
        "DELETE FROM login_known WHERE at <= ?",
        &[Value::Integer(now - KNOWN_SECS)],
    )?;
    // Buckets full again by now hold nothing worth keeping.
    db.execute(
        "DELETE FROM login_buckets WHERE at <= ?",
        &[Value::Integer(now - PAIR_BURST * PAIR_REFILL_SECS)],
    )?;
    Ok(())
}

/// Seconds until the client's oldest attempt in the window ages out.
fn client_wait_secs(db: &Connection, keys: &Keys, now: i64) -> Result<i64, Error> {
    let rows = db.execute(
        "SELECT MIN(at) FROM login_attempts WHERE client = ? AND at > ?",
        &[
            Value::Text(keys.client.clone()),
            Value::Integer(now - WINDOW_SECS),
        ],
    )?;
    let oldest = rows.rows.first().and_then(|row| row.get::<i64>(0));
    Ok(oldest.map_or(1, |oldest| (oldest + WINDOW_SECS - now).max(1)))
}

/// Seconds until the pair's bucket holds one attempt again.
fn pair_wait_secs(db: &Connection, keys: &Keys, now: i64) -> Result<i64, Error> {
    let rows = db.execute(
        "SELECT tokens, at FROM login_buckets WHERE key = ?",
        &[Value::Text(keys.pair.clone())],
    )?;
    let row = rows.rows.first();
    let (Some(tokens), Some(at)) = (
        row.and_then(|row| row.get::<f64>(0)),
        row.and_then(|row| row.get::<i64>(1)),
    ) else {
        return Ok(1);
    };
    Ok(refill_wait_secs(tokens, now - at))
}

/// Whole seconds until a bucket holding `tokens`, `elapsed` seconds ago,
/// holds one (at least one second).
fn refill_wait_secs(tokens: f64, elapsed: i64) -> i64 {
    let missing = 1.0 - tokens - elapsed as f64 / PAIR_REFILL_SECS as f64;
    ((missing * PAIR_REFILL_SECS as f64).ceil() as i64).max(1)
}

/// The address to count a client under. The host sets `spin-client-addr`
/// (unforgeable). When that is loopback the request came through Traefik on
/// this machine, which replaces any client-sent `X-Forwarded-For` with its
/// own: its last entry is the real client. Directly from elsewhere, the
/// header is the client's own and worthless.
fn client_address(peer: Option<&str>, forwarded_for: Option<&str>) -> String {
    let peer_ip = peer
        .and_then(|peer| peer.parse::<std::net::SocketAddr>().ok())
        .map(|address| address.ip());
    let forwarded = forwarded_for
        .and_then(|list| list.rsplit(',').next())
        .map(str::trim)
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    match (peer_ip, forwarded) {
        (Some(ip), Some(forwarded)) if ip.is_loopback() => forwarded.to_owned(),
        (Some(ip), _) => ip.to_string(),
        (None, _) => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bucket_waits_for_one_refill() {
        assert_eq!(refill_wait_secs(0.0, 0), PAIR_REFILL_SECS);
        assert_eq!(refill_wait_secs(0.0, 45), 15);
        assert_eq!(refill_wait_secs(0.5, 0), 30);
        assert_eq!(refill_wait_secs(0.99, 59), 1, "never less than a second");
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_loopback() {
        assert_eq!(
            client_address(Some("127.0.0.1:5000"), Some("1.2.3.4, 10.0.0.9")),
            "10.0.0.9"
        );
        assert_eq!(
            client_address(Some("192.168.1.5:5000"), Some("1.2.3.4")),
            "192.168.1.5"
        );
        assert_eq!(client_address(Some("127.0.0.1:5000"), None), "127.0.0.1");
        assert_eq!(
            client_address(Some("127.0.0.1:5000"), Some("garbage")),
            "127.0.0.1"
        );
        assert_eq!(client_address(Some("[::1]:5000"), Some("::2")), "::2");
        assert_eq!(client_address(None, Some("1.2.3.4")), "unknown");
    }
}
