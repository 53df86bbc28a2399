//! Login protection: failed logins are counted per username and per client
//! address over a sliding window; from the 5th failure on, each further
//! attempt must wait a delay that doubles with every new failure.
//!
//! Attempts refused with 429 are not counted (they never reach the password
//! check), so a client that keeps hammering does not extend its own delay
//! without bound, and the delay is never longer than the window.

use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Value};

use kit::Error;

/// Failures counted over this many seconds.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures allowed in the window before attempts are delayed.
pub const FREE_FAILURES: i64 = 5;
/// The first delay; each further failure doubles it, up to the window.
const FIRST_DELAY_SECS: i64 = 30;

/// The keys a login attempt is counted under.
pub struct Keys {
    user: String,
    client: String,
}

impl Keys {
    pub fn new(username_key: &str, request: &Request) -> Self {
        let header = |name| request.header(name).and_then(|value| value.as_str());
        Self {
            user: format!("user:{username_key}"),
            client: format!(
                "client:{}",
                client_address(header("spin-client-addr"), header("x-forwarded-for"))
            ),
        }
    }
}

/// 429 with `Retry-After` when either key is still serving a delay.
pub fn check(db: &Connection, keys: &Keys, now: i64) -> Result<(), Error> {
    let rows = db.execute(
        "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key IN (?, ?) AND at > ? GROUP BY key",
        &[
            Value::Text(keys.user.clone()),
            Value::Text(keys.client.clone()),
            Value::Integer(now - WINDOW_SECS),
        ],
    )?;
    let wait = rows
        .rows
        .iter()
        .filter_map(|row| Some(wait_secs(row.get::<i64>(0)?, row.get::<i64>(1)?, now)))
        .max()
        .unwrap_or(0);
    if wait > 0 {
        return Err(Error::TooManyRequests {
            detail: format!("Trop de tentatives de connexion. Réessayez dans {wait} secondes."),
            retry_after_secs: wait.unsigned_abs(),
        });
    }
    Ok(())
}

/// Counts one failure under both keys, dropping the ones out of the window.
pub fn record_failure(db: &Connection, keys: &Keys, now: i64) -> Result<(), Error> {
    db.execute(
        "INSERT INTO login_failures (key, at) VALUES (?, ?), (?, ?)",
        &[
            Value::Text(keys.user.clone()),
            Value::Integer(now),
            Value::Text(keys.client.clone()),
            Value::Integer(now),
        ],
    )?;
    db.execute(
        "DELETE FROM login_failures WHERE key IN (?, ?) AND at <= ?",
        &[
            Value::Text(keys.user.clone()),
            Value::Text(keys.client.clone()),
            Value::Integer(now - WINDOW_SECS),
        ],
    )?;
    Ok(())
}

/// A successful login clears the user's count, not the client's: one good
/// account must not reset a client that is guessing others.
pub fn record_success(db: &Connection, keys: &Keys) -> Result<(), Error> {
    db.execute(
        "DELETE FROM login_failures WHERE key = ?",
        &[Value::Text(keys.user.clone())],
    )?;
    Ok(())
}

/// Seconds still to wait after `failures` in the window, the last at `last`.
fn wait_secs(failures: i64, last: i64, now: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES).unwrap_or(u32::MAX);
    let delay = FIRST_DELAY_SECS
        .checked_mul(2_i64.saturating_pow(doublings))
        .unwrap_or(WINDOW_SECS)
        .min(WINDOW_SECS);
    (last + delay - now).max(0)
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
    fn five_failures_are_free_then_the_delay_doubles_up_to_the_window() {
        assert_eq!(wait_secs(4, 100, 100), 0);
        assert_eq!(wait_secs(5, 100, 100), 30);
        assert_eq!(wait_secs(6, 100, 100), 60);
        assert_eq!(wait_secs(7, 100, 110), 110);
        assert_eq!(wait_secs(50, 100, 100), WINDOW_SECS);
        assert_eq!(wait_secs(5, 100, 200), 0, "the delay has passed");
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
