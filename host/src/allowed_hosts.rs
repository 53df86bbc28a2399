//! `allowed_outbound_hosts`: Spin's grammar (`scheme://host[:port]`, with
//! `*`, `*.domain`, `self`, CIDR blocks, `a..b` port ranges) and the check
//! every outgoing request passes before it leaves the host.

use std::net::IpAddr;

/// The grants of one component.
#[derive(Debug, Default, Clone)]
pub struct AllowedHosts(Vec<AllowedHost>);

#[derive(Debug, Clone, PartialEq)]
struct AllowedHost {
    scheme: Option<String>,
    host: HostRule,
    port: PortRule,
}

#[derive(Debug, Clone, PartialEq)]
enum HostRule {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Subdomain(String),
    SelfHost,
    Literal(String),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq)]
enum PortRule {
    Any,
    Exact(u16),
    /// `a..b`: `b` excluded, as in Spin.
    Range(u16, u16),
}

impl AllowedHosts {
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                AllowedHost::parse(e)
                    .map_err(|why| format!("allowed_outbound_hosts entry {e:?}: {why}"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether a request to `scheme://host:port` may leave the host.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.0.iter().any(|rule| {
            rule.scheme.as_deref().is_none_or(|s| s == scheme)
                && rule.host.allows(&host)
                && rule.port.allows(port.or_else(|| default_port(scheme)))
        })
    }

    /// Whether a relative URL (a request to the application itself) may be
    /// sent: it needs `self` or `*` as host.
    pub fn allows_self(&self, scheme: &str) -> bool {
        self.0.iter().any(|rule| {
            rule.scheme.as_deref().is_none_or(|s| s == scheme)
                && matches!(rule.host, HostRule::Any | HostRule::SelfHost)
        })
    }
}

impl AllowedHost {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or("no scheme (write e.g. `http://host` or `*://host:*`)")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') && !looks_like_cidr(rest) {
            return Err("a path is not allowed".into());
        }
        let (host, port) = split_port(rest);
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => Some(s.to_owned()),
            _ => return Err("the scheme must be `*` or letters".into()),
        };
        let port = match port {
            None => PortRule::Exact(
                scheme
                    .as_deref()
                    .and_then(default_port)
                    .ok_or("no port given and the scheme has no default port")?,
            ),
            Some("*") => PortRule::Any,
            Some(p) => match p.split_once("..") {
                Some((a, b)) => PortRule::Range(parse_port(a)?, parse_port(b)?),
                None => PortRule::Exact(parse_port(p)?),
            },
        };
        Ok(Self {
            scheme,
            host: HostRule::parse(host)?,
            port,
        })
    }
}

impl HostRule {
    fn parse(host: &str) -> Result<Self, String> {
        let host = host.to_ascii_lowercase();
        Ok(match host.as_str() {
            "*" => Self::Any,
            "self" | "self.alt" => Self::SelfHost,
            _ if looks_like_cidr(&host) => {
                let (ip, bits) = host.split_once('/').ok_or("bad CIDR block")?;
                let ip: IpAddr = ip.parse().map_err(|_| "bad CIDR address")?;
                let bits: u8 = bits.parse().map_err(|_| "bad CIDR prefix length")?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err("CIDR prefix length too large".into());
                }
                Self::Cidr(ip, bits)
            }
            _ => match host.strip_prefix("*.") {
                Some(domain) if !domain.contains('*') => Self::Subdomain(format!(".{domain}")),
                _ if host.contains('*') => {
                    return Err("wildcards are allowed only as a `*.` prefix".into());
                }
                _ => Self::Literal(
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                ),
            },
        })
    }

    fn allows(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Subdomain(suffix) => {
                host.ends_with(suffix.as_str()) && host.parse::<IpAddr>().is_err()
            }
            Self::SelfHost => false,
            Self::Literal(literal) => literal == host,
            Self::Cidr(net, bits) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_cidr(ip, *net, *bits)),
        }
    }
}

impl PortRule {
    fn allows(&self, port: Option<u16>) -> bool {
        match (self, port) {
            (Self::Any, _) => true,
            (Self::Exact(p), Some(port)) => *p == port,
            (Self::Range(a, b), Some(port)) => (*a..*b).contains(&port),
            (_, None) => false,
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        _ => None,
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse().map_err(|_| format!("port `{p}` is not a number"))
}

/// Splits `host:port`, minding IPv6 literals (`[::1]:80`) and CIDR blocks.
fn split_port(rest: &str) -> (&str, Option<&str>) {
    if let Some(end) = rest.find(']') {
        return match rest[end + 1..].strip_prefix(':') {
            Some(port) => (&rest[..=end], Some(port)),
            None => (rest, None),
        };
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (rest, None),
    }
}

fn looks_like_cidr(s: &str) -> bool {
    let host = split_port(s).0;
    host.split_once('/')
        .is_some_and(|(ip, bits)| ip.parse::<IpAddr>().is_ok() && bits.parse::<u8>().is_ok())
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn scheme_default_port_applies_on_both_sides() {
        let h = hosts(&["https://example.com"]);
        assert!(h.allows("https", "example.com", None));
        assert!(h.allows("https", "example.com", Some(443)));
        assert!(!h.allows("https", "example.com", Some(8443)));
        assert!(!h.allows("http", "example.com", None));
    }

    #[test]
    fn wildcards_for_scheme_host_and_port() {
        let h = hosts(&["*://*.example.com:*"]);
        assert!(h.allows("http", "api.example.com", Some(1234)));
        assert!(!h.allows("http", "example.com", None));
        assert!(hosts(&["*://*:*"]).allows("ftp", "anything", Some(21)));
    }

    #[test]
    fn port_ranges_exclude_their_end() {
        let h = hosts(&["http://localhost:8000..8004"]);
        assert!(h.allows("http", "localhost", Some(8003)));
        assert!(!h.allows("http", "localhost", Some(8004)));
    }

    #[test]
    fn cidr_blocks_match_addresses_only() {
        let h = hosts(&["http://127.0.0.0/8:*"]);
        assert!(h.allows("http", "127.1.2.3", Some(80)));
        assert!(!h.allows("http", "10.0.0.1", Some(80)));
        assert!(!h.allows("http", "localhost", Some(80)));
    }

    #[test]
    fn self_allows_relative_requests_only() {
        let h = hosts(&["http://self"]);
        assert!(h.allows_self("http"));
        assert!(!h.allows("http", "self", None));
        assert!(!hosts(&["http://example.com"]).allows_self("http"));
        assert!(hosts(&["*://*:*"]).allows_self("http"));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for bad in [
            "example.com",
            "http://example.com/path",
            "http://ex*ample.com",
            "http://h:port",
            "ftp://h",
        ] {
            assert!(AllowedHosts::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_literals_keep_their_port() {
        let h = hosts(&["http://[::1]:8001"]);
        assert!(h.allows("http", "[::1]", Some(8001)));
        assert!(!h.allows("http", "[::1]", Some(8002)));
    }
}
