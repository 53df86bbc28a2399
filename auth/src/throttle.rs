//! Login protection that an attacker cannot turn against other users.
//!
//! Every attempt is counted *before* the password is checked, in the one
//! statement that decides whether it may go ahead: parallel attempts cannot
//! all slip past the limit while the first ones are being hashed. A right
//! password then takes its attempts back.
//!
//! Two budgets over a sliding window, each a token bucket refilled as its
//! oldest attempt ages out:
//! - one client on one name ([`PAIR_LIMIT`]): a guesser locks only itself
//!   out of that name, never the name for everyone;
//! - one client on all names together ([`CLIENT_LIMIT`]), so that one
//!   address cannot guess across many accounts; a name that has logged in
//!   from this client before is exempt, so strangers behind the same proxy
//!   or NAT do not lock its regulars out.
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

/// Attempts are counted over this many seconds.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failed attempts one client may make on one name per window.
pub const PAIR_LIMIT: i64 = 5;
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

/// Counts an attempt if both budgets allow it, in one statement; 429 with
/// `Retry-After` otherwise (and nothing counted).
pub fn take(db: &Connection, keys: &Keys, now: i64) -> Result<Attempt, Error> {
    let since = now - WINDOW_SECS;
    db.execute(
        "DELETE FROM login_attempts WHERE at <= ?",
        &[Value::Integer(since)],
    )?;
    let taken = db.execute(
        "INSERT INTO login_attempts (pair, client, at) SELECT ?1, ?2, ?3 \
         WHERE (SELECT COUNT(*) FROM login_attempts WHERE pair = ?1 AND at > ?4) < ?5 \
         AND (EXISTS (SELECT 1 FROM login_known WHERE pair = ?1) \
              OR (SELECT COUNT(*) FROM login_attempts WHERE client = ?2 AND at > ?4) < ?6) \
         RETURNING id",
        &[
            Value::Text(keys.pair.clone()),
            Value::Text(keys.client.clone()),
            Value::Integer(now),
            Value::Integer(since),
            Value::Integer(PAIR_LIMIT),
            Value::Integer(CLIENT_LIMIT),
        ],
    )?;
    if !taken.rows.is_empty() {
        return Ok(Attempt);
    }
    let wait = wait_secs(db, keys, now)?;
    Err(Error::TooManyRequests {
        detail: format!("Trop de tentatives de connexion. Réessayez dans {wait} secondes."),
        retry_after_secs: wait.unsigned_abs(),
    })
}

/// The right password: this client's attempts on the name no longer count
/// (against either budget), and the name is known to the client from now on.
pub fn succeeded(db: &Connection, keys: &Keys, _attempt: Attempt, now: i64) -> Result<(), Error> {
    let pair = Value::Text(keys.pair.clone());
    db.execute(
        "DELETE FROM login_attempts WHERE pair = ?",
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
    Ok(())
}

/// Seconds until the full budget frees a slot: its oldest attempt in the
/// window ages out.
fn wait_secs(db: &Connection, keys: &Keys, now: i64) -> Result<i64, Error> {
    let since = now - WINDOW_SECS;
    let rows = db.execute(
        "SELECT (SELECT COUNT(*) FROM login_attempts WHERE pair = ?1 AND at > ?3), \
                (SELECT MIN(at) FROM login_attempts WHERE pair = ?1 AND at > ?3), \
                (SELECT COUNT(*) FROM login_attempts WHERE client = ?2 AND at > ?3), \
                (SELECT MIN(at) FROM login_attempts WHERE client = ?2 AND at > ?3)",
        &[
            Value::Text(keys.pair.clone()),
            Value::Text(keys.client.clone()),
            Value::Integer(since),
        ],
    )?;
    let row = rows.rows.first();
    let get = |index| row.and_then(|row| row.get::<i64>(index));
    let frees = |count: Option<i64>, limit: i64, oldest: Option<i64>| match (count, oldest) {
        (Some(count), Some(oldest)) if count >= limit => oldest + WINDOW_SECS - now,
        _ => 0,
    };
    let wait = frees(get(0), PAIR_LIMIT, get(1)).max(frees(get(2), CLIENT_LIMIT, get(3)));
    // A slot freed between the two statements: try again at once.
    Ok(wait.max(1))
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
