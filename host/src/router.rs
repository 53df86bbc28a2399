//! Spin's HTTP routing, on the same `routefinder` crate Spin uses so that
//! precedence is identical: exact routes beat wildcards, the longest
//! wildcard prefix wins whatever the manifest order, a later duplicate
//! replaces an earlier one, and one trailing `/` of a route is ignored.

use std::collections::HashMap;
use std::fmt;

/// What a route leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Component(String),
    /// A `static_response`, by its index in the app's list.
    Static(usize),
}

/// What a request path resolved to.
#[derive(Debug, PartialEq)]
pub struct RouteMatch {
    pub target: Target,
    /// The route with the application base, as written (`/api/x/...`).
    pub based_route: String,
    /// The route without the base, as written in the trigger.
    pub raw_route: String,
    /// `:name` segments captured from the path.
    pub captures: HashMap<String, String>,
    /// The part of the path matched by a trailing `/...` (Spin keeps its
    /// leading and trailing slashes, which routefinder drops).
    pub path_info: String,
}

impl RouteMatch {
    /// A service-chaining request to `component` (`http://<id>.spin.internal`):
    /// as Spin does, it skips the route table and reads as a match of `/...`
    /// whose path info is the whole path.
    pub fn synthetic(component: &str, path: &str) -> Self {
        Self {
            target: Target::Component(component.to_owned()),
            based_route: "/...".to_owned(),
            raw_route: "/...".to_owned(),
            captures: HashMap::new(),
            path_info: path.to_owned(),
        }
    }

    /// The raw route without its trailing wildcard: `spin-component-route`.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

#[derive(Debug)]
struct Entry {
    target: Target,
    based_route: String,
    raw_route: String,
    wildcard: bool,
}

#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<Entry>,
}

impl Router {
    /// Builds the router from `(target, route)` pairs in manifest order.
    pub fn build<'a>(
        base: &str,
        routes: impl IntoIterator<Item = (Target, &'a str)>,
    ) -> Result<Self, String> {
        // Spin keys duplicates by the raw route; the last one stays, at the
        // position of the first (an `IndexMap` there, a Vec here).
        let mut entries: Vec<Entry> = Vec::new();
        for (target, raw_route) in routes {
            let based_route = with_base(base, raw_route);
            let wildcard = based_route.ends_with("/...") || based_route.ends_with("/*");
            let entry = Entry {
                target,
                based_route,
                raw_route: raw_route.to_owned(),
                wildcard,
            };
            match entries.iter_mut().find(|e| e.raw_route == raw_route) {
                Some(existing) => *existing = entry,
                None => entries.push(entry),
            }
        }
        let mut inner = routefinder::Router::new();
        for entry in entries {
            let spec = match entry.based_route.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => entry.based_route.clone(),
            };
            let based = entry.based_route.clone();
            inner
                .add(spec.as_str(), entry)
                .map_err(|e| format!("route `{based}` cannot be parsed: {e}"))?;
        }
        Ok(Self { inner })
    }

    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let found = self.inner.best_match(path)?;
        let entry = found.handler();
        let captures = found.captures();
        let path_info = match captures.wildcard() {
            None => String::new(),
            Some(rest) => match (rest.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_owned(),
                (false, false) => format!("/{rest}"),
                (false, true) => format!("/{rest}/"),
            },
        };
        Some(RouteMatch {
            target: entry.target.clone(),
            based_route: entry.based_route.clone(),
            raw_route: entry.raw_route.clone(),
            captures: captures
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            path_info,
        })
    }

    /// The component routes as `spin up` lists them, sorted for stable output.
    pub fn routes(&self) -> Vec<(String, DisplayRoute)> {
        let mut routes: Vec<_> = self
            .inner
            .iter()
            .filter_map(|(_, e)| match &e.target {
                Target::Component(id) => Some((id.clone(), DisplayRoute::of(e))),
                Target::Static(_) => None,
            })
            .collect();
        routes.sort_by(|a, b| a.1.0.cmp(&b.1.0));
        routes
    }
}

/// A route shown in `Available Routes:` (`/api/x (wildcard)`).
#[derive(Debug)]
pub struct DisplayRoute(String, bool);

impl DisplayRoute {
    fn of(e: &Entry) -> Self {
        let shown = e
            .based_route
            .strip_suffix("/...")
            .or_else(|| e.based_route.strip_suffix("/*"))
            .unwrap_or(&e.based_route);
        Self(shown.to_owned(), e.wildcard)
    }
}

impl fmt::Display for DisplayRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(f, "{} (wildcard)", self.0)
        } else {
            f.write_str(&self.0)
        }
    }
}

fn with_base(base: &str, route: &str) -> String {
    let route = if route.starts_with('/') {
        route.to_owned()
    } else {
        format!("/{route}")
    };
    format!("{}{}", strip_one_slash(base), strip_one_slash(&route))
}

fn strip_one_slash(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&'static str, &'static str)]) -> Router {
        Router::build("/", routes.iter().map(|&(c, r)| (component_target(c), r))).unwrap()
    }

    fn component_target(id: &str) -> Target {
        Target::Component(id.to_owned())
    }

    fn component(r: &Router, path: &str) -> Option<String> {
        match r.route(path)?.target {
            Target::Component(id) => Some(id),
            Target::Static(index) => Some(format!("static {index}")),
        }
    }

    #[test]
    fn exact_route_beats_wildcard() {
        let r = router(&[("wild", "/foo/..."), ("exact", "/foo/bar")]);
        assert_eq!(component(&r, "/foo/bar").as_deref(), Some("exact"));
        assert_eq!(component(&r, "/foo/baz").as_deref(), Some("wild"));
    }

    #[test]
    fn longest_wildcard_prefix_wins_regardless_of_order() {
        let r = router(&[("long", "/a/b/..."), ("short", "/a/...")]);
        assert_eq!(component(&r, "/a/b/c").as_deref(), Some("long"));
        let r = router(&[("short", "/a/..."), ("long", "/a/b/...")]);
        assert_eq!(component(&r, "/a/b/c").as_deref(), Some("long"));
        assert_eq!(component(&r, "/a/c").as_deref(), Some("short"));
    }

    #[test]
    fn wildcard_matches_its_bare_prefix_and_path_info_keeps_slashes() {
        let r = router(&[("w", "/foo/...")]);
        for (path, info) in [
            ("/foo", ""),
            ("/foo/", "/"),
            ("/foo/a/b", "/a/b"),
            ("/foo/a/", "/a/"),
        ] {
            assert_eq!(r.route(path).unwrap().path_info, info, "{path}");
        }
        assert_eq!(component(&r, "/foobar"), None);
    }

    #[test]
    fn named_segments_are_captured() {
        let r = router(&[("u", "/users/:id/...")]);
        let m = r.route("/users/42/orders").unwrap();
        assert_eq!(m.captures["id"], "42");
        assert_eq!(m.path_info, "/orders");
        assert_eq!(m.component_route(), "/users/:id");
    }

    #[test]
    fn one_trailing_slash_of_a_route_is_ignored() {
        let r = router(&[("x", "/api/thing/")]);
        assert_eq!(component(&r, "/api/thing").as_deref(), Some("x"));
        assert_eq!(component(&r, "/api/thing/").as_deref(), Some("x"));
    }

    #[test]
    fn last_duplicate_wins() {
        let r = router(&[("first", "/dup"), ("second", "/dup")]);
        assert_eq!(component(&r, "/dup").as_deref(), Some("second"));
    }

    #[test]
    fn base_is_prefixed() {
        let r = Router::build("/base/", [(component_target("c"), "/x/...")]).unwrap();
        let m = r.route("/base/x/y").unwrap();
        assert_eq!(m.based_route, "/base/x/...");
        assert_eq!(m.raw_route, "/x/...");
        assert_eq!(component(&r, "/x/y"), None);
    }

    #[test]
    fn no_match_is_none() {
        let r = router(&[("a", "/a")]);
        assert_eq!(component(&r, "/b"), None);
    }

    #[test]
    fn a_static_response_takes_its_longer_prefix_from_the_component() {
        let r = Router::build(
            "/",
            [
                (component_target("api"), "/api/..."),
                (Target::Static(0), "/api/internal/..."),
            ],
        )
        .unwrap();
        assert_eq!(component(&r, "/api/x").as_deref(), Some("api"));
        assert_eq!(
            component(&r, "/api/internal/x").as_deref(),
            Some("static 0")
        );
        assert_eq!(r.routes().len(), 1, "static responses are not listed");
    }

    #[test]
    fn root_wildcard_catches_everything_else() {
        let r = router(&[("ui", "/..."), ("api", "/api/...")]);
        assert_eq!(component(&r, "/").as_deref(), Some("ui"));
        assert_eq!(component(&r, "/index.html").as_deref(), Some("ui"));
        assert_eq!(component(&r, "/api/x").as_deref(), Some("api"));
    }
}
