//! The `spin-*` request headers Spin adds before a component sees a request,
//! with the values of Spin's `trigger-http/src/headers.rs`.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::router::RouteMatch;

/// Adds Spin's headers to `headers`, replacing any the client sent: a client
/// must not be able to forge `spin-client-addr` or `spin-path-info`.
pub fn add_spin_headers(
    headers: &mut HeaderMap,
    uri: &Uri,
    route: &RouteMatch,
    client: SocketAddr,
) {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let scheme = uri.scheme_str().unwrap_or("http");
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let values = [
        ("spin-path-info", route.path_info.clone()),
        (
            "spin-full-url",
            format!("{scheme}://{host}{path_and_query}"),
        ),
        ("spin-matched-route", route.based_route.clone()),
        ("spin-base-path", "/".to_owned()),
        ("spin-raw-component-route", route.raw_route.clone()),
        ("spin-component-route", route.component_route().to_owned()),
        ("spin-client-addr", client.to_string()),
    ];
    for (name, value) in values {
        insert(headers, name.to_owned(), &value);
    }
    for (name, value) in &route.captures {
        let name = format!(
            "spin-path-match-{}",
            name.replace('_', "-").to_ascii_lowercase()
        );
        insert(headers, name, value);
    }
}

fn insert(headers: &mut HeaderMap, name: String, value: &str) {
    // Values come from the request line and the manifest; one that is not a
    // valid header value (raw control bytes) is dropped, as Spin does.
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{Router, Target};

    fn headers_for(route: &str, uri: &str, host: &str) -> HeaderMap {
        let router = Router::build("/", [(Target::Component("c".into()), route)]).unwrap();
        let uri: Uri = uri.parse().unwrap();
        let m = router.route(uri.path()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        add_spin_headers(&mut headers, &uri, &m, "127.0.0.1:8777".parse().unwrap());
        headers
    }

    fn get<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
        h.get(name).unwrap().to_str().unwrap()
    }

    /// The case of Spin's `test_default_headers` and of the request-shape
    /// conformance test.
    #[test]
    fn values_match_spin() {
        let h = headers_for(
            "/foo/:userid/...",
            "https://fermyon.dev/foo/42/bar?key1=value1&key2=value2",
            "fermyon.dev",
        );
        assert_eq!(
            get(&h, "spin-full-url"),
            "https://fermyon.dev/foo/42/bar?key1=value1&key2=value2"
        );
        assert_eq!(get(&h, "spin-path-info"), "/bar");
        assert_eq!(get(&h, "spin-matched-route"), "/foo/:userid/...");
        assert_eq!(get(&h, "spin-base-path"), "/");
        assert_eq!(get(&h, "spin-raw-component-route"), "/foo/:userid/...");
        assert_eq!(get(&h, "spin-component-route"), "/foo/:userid");
        assert_eq!(get(&h, "spin-client-addr"), "127.0.0.1:8777");
        assert_eq!(get(&h, "spin-path-match-userid"), "42");
    }

    #[test]
    fn underscores_in_capture_names_become_dashes() {
        let h = headers_for("/base/:path_segment/:path_end/...", "/base/a/b/c", "x");
        assert_eq!(get(&h, "spin-path-match-path-segment"), "a");
        assert_eq!(get(&h, "spin-path-match-path-end"), "b");
    }

    #[test]
    fn server_side_uri_without_scheme_is_http() {
        let h = headers_for("/...", "/a?b=c", "127.0.0.1:3000");
        assert_eq!(get(&h, "spin-full-url"), "http://127.0.0.1:3000/a?b=c");
    }
}
