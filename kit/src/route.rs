//! Routing as data: each service declares one table of [`Route`]s (method,
//! path as OpenAPI spells it, who may call, handler) and [`dispatch`] serves
//! it. The table is the one place that says what a service serves: the
//! router, the `405`'s `Allow`, the role check and the OpenAPI check
//! (`kit::openapi`) all read it.
//!
//! Spin routes a whole prefix (`/api/stock/...`) to a component and hands it
//! the original path. Paths are written with a trailing slash (Django REST
//! Framework style) and clients may omit it; a `{name}` segment takes a
//! positive integer, anything else there names no resource (`404`). An
//! empty segment matches nothing: `/api/stock//internal/...` must not reach
//! `internal`, which only the longer `/api/stock/internal/...` route of
//! `spin.toml` keeps from outside callers.
//!
//! Checks run in this order, as Django's URL patterns and DRF views do: an
//! unknown path is `404`, a known path with another method `405`, then the
//! caller's credential (`401`/`403`), then the handler. Every service also
//! answers `GET {prefix}/health/` and `GET {prefix}/openapi.json` here.

use std::future::Future;
use std::pin::Pin;

use spin_sdk::http::{Method, OutgoingResponse, Request, Response, ResponseOutparam};
use spin_sdk::sqlite::Connection;

use crate::auth::{Caller, Role, Session};
use crate::{Error, Service};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, the document, login.
    Public,
    /// A valid access token of this role or above.
    Token(Role),
    /// Another service, with the service credential (`x-internal-secret`).
    Internal,
}

/// What a handler's future resolves to.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + 'a>>;
/// A route's handler: synchronous ones wrap their result in [`ready`].
pub type Handler = for<'a> fn(&'a Call<'a>) -> Reply<'a>;

/// One row of a service's route table.
pub struct Route {
    pub method: Method,
    /// As the OpenAPI document spells it: `/api/stock/movements/{id}/reverse/`.
    pub path: &'static str,
    pub access: Access,
    pub handler: Handler,
}

impl Route {
    pub const fn get(path: &'static str, access: Access, handler: Handler) -> Self {
        Self::new(Method::Get, path, access, handler)
    }

    pub const fn post(path: &'static str, access: Access, handler: Handler) -> Self {
        Self::new(Method::Post, path, access, handler)
    }

    pub const fn put(path: &'static str, access: Access, handler: Handler) -> Self {
        Self::new(Method::Put, path, access, handler)
    }

    pub const fn patch(path: &'static str, access: Access, handler: Handler) -> Self {
        Self::new(Method::Patch, path, access, handler)
    }

    pub const fn delete(path: &'static str, access: Access, handler: Handler) -> Self {
        Self::new(Method::Delete, path, access, handler)
    }

    const fn new(method: Method, path: &'static str, access: Access, handler: Handler) -> Self {
        Self {
            method,
            path,
            access,
            handler,
        }
    }
}

/// A request on its way to a handler: the path's parameters and, behind a
/// token, the caller's session.
pub struct Call<'a> {
    pub request: &'a Request,
    pub service: &'static Service,
    params: Vec<(&'static str, i64)>,
    session: Option<Session>,
}

impl Call<'_> {
    /// The `{name}` segment of the route's path.
    pub fn param(&self, name: &str) -> Result<i64, Error> {
        self.params
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
            .ok_or_else(|| Error::Internal(format!("the route has no {{{name}}}").into()))
    }

    /// The caller, on a route that takes a token.
    pub fn caller(&self) -> Result<&Caller, Error> {
        self.session().map(|session| &session.caller)
    }

    /// The caller's session, on a route that takes a token.
    pub fn session(&self) -> Result<&Session, Error> {
        self.session
            .as_ref()
            .ok_or_else(|| Error::Internal("this route takes no token".into()))
    }

    /// The service's own database, its schema up to date.
    pub fn database(&self) -> Result<Connection, Error> {
        self.service.database()
    }
}

/// The future of a handler that has its answer already.
pub fn ready<'a>(result: Result<Response, Error>) -> Reply<'a> {
    Box::pin(std::future::ready(result))
}

/// Serves `request` from `routes` (and the health and document routes every
/// service has); any error becomes its problem-JSON answer.
pub async fn dispatch(service: &'static Service, routes: &[Route], request: &Request) -> Response {
    match serve(service, routes, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(
    service: &'static Service,
    routes: &[Route],
    request: &Request,
) -> Result<Response, Error> {
    let path = request.path();
    let prefix = service.prefix();
    let builtin = BUILTIN
        .iter()
        .filter(|(below, _)| matches(&format!("{prefix}{below}"), path))
        .map(|(_, route)| (route, Vec::new()));
    let candidates: Vec<(&Route, Vec<(&'static str, i64)>)> = builtin
        .chain(
            routes
                .iter()
                .filter_map(|route| Some((route, parse(route.path, path)?))),
        )
        .collect();
    if candidates.is_empty() {
        return Err(Error::NotFound);
    }
    let method = request.method();
    let chosen = candidates
        .iter()
        .find(|(route, _)| route.method == *method)
        .or_else(|| {
            // HEAD is served wherever GET is (RFC 9110 §9.3.2): the handler
            // runs as for GET and the HTTP server drops the body.
            (*method == Method::Head)
                .then(|| {
                    candidates
                        .iter()
                        .find(|(route, _)| route.method == Method::Get)
                })
                .flatten()
        });
    let Some((route, params)) = chosen else {
        let allowed: Vec<Method> = candidates.iter().map(|(r, _)| r.method.clone()).collect();
        return Err(Error::MethodNotAllowed {
            method: method.to_string(),
            allow: allow_header(&allowed),
        });
    };
    let session = match route.access {
        Access::Public => None,
        Access::Internal => {
            crate::auth::internal(request)?;
            None
        }
        Access::Token(minimum) => {
            let session = crate::auth::session(request)?;
            session.caller.require(minimum)?;
            Some(session)
        }
    };
    let call = Call {
        request,
        service,
        params: params.clone(),
        session,
    };
    (route.handler)(&call).await
}

/// Every route `dispatch` serves for `service`: its table and the health
/// and document routes, with full paths. What the OpenAPI check compares
/// the document with.
pub fn served(service: &Service, routes: &[Route]) -> Vec<(Method, String, Access)> {
    let prefix = service.prefix();
    BUILTIN
        .iter()
        .map(|(below, route)| {
            (
                route.method.clone(),
                format!("{prefix}{below}"),
                route.access,
            )
        })
        .chain(
            routes
                .iter()
                .map(|route| (route.method.clone(), route.path.to_owned(), route.access)),
        )
        .collect()
}

/// Whether `path` names a route of this `pattern` (`/api/x/{id}/`).
pub fn matches(pattern: &str, path: &str) -> bool {
    parse(pattern, path).is_some()
}

/// The `{name}` values when `path` fits `pattern`, trailing slash optional.
fn parse<'p>(pattern: &'p str, path: &str) -> Option<Vec<(&'p str, i64)>> {
    let pattern = pattern.strip_suffix('/').unwrap_or(pattern);
    let path = match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => path,
    };
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(want), Some(got)) => {
                match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) => params.push((name, positive_integer(got)?)),
                    None if want == got => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

fn positive_integer(segment: &str) -> Option<i64> {
    segment
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| segment.parse::<i64>().ok())
        .flatten()
        .filter(|id| *id > 0)
}

/// What every service answers besides its table, by path below its prefix
/// (the routes' own paths are unused).
static BUILTIN: [(&str, Route); 2] = [
    (
        "/health/",
        Route::get("", Access::Public, |call| {
            ready(Ok(crate::health::check(call.service)))
        }),
    ),
    (
        "/openapi.json",
        Route::get("", Access::Public, |call| {
            ready(Ok(Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(call.service.openapi)
                .build()))
        }),
    ),
];

/// Answers `request` from `routes`; then, if the answer was a success and
/// `wrote` says the request recorded something, goes on in the same
/// invocation (Spin keeps the instance until the handler returns) to run
/// `deliver` on the service's database: an outbox leaves right after the
/// response that filled it, with no scheduler running. A failure is logged
/// under `what`; the next write or the sidecar's flush tries again.
pub async fn answer_then_deliver<F, Fut, T, E>(
    service: &'static Service,
    routes: &[Route],
    request: Request,
    response_out: ResponseOutparam,
    (what, wrote): (&str, fn(&Request) -> bool),
    deliver: F,
) where
    F: FnOnce(Connection) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let response = dispatch(service, routes, &request).await;
    let follow = (200..300).contains(response.status()) && wrote(&request);
    send(response_out, response).await;
    if !follow {
        return;
    }
    let delivered = match service.database() {
        Ok(db) => deliver(db).await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = delivered {
        eprintln!("{what}: {e}");
    }
}

/// Whether `request` is a POST to one of `patterns`.
pub fn posts_to(request: &Request, patterns: &[&str]) -> bool {
    request.method() == &Method::Post && patterns.iter().any(|p| matches(p, request.path()))
}

/// Sends `response` whole, as `#[http_component]` does for a handler that
/// returns one: for a component that goes on working once its caller has
/// its answer (Spin keeps the instance until the handler returns).
pub async fn send(response_out: ResponseOutparam, mut response: Response) {
    let body = std::mem::take(response.body_mut());
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = response_out.set_with_body(outgoing, body).await {
                eprintln!("cannot send the response: {e}");
            }
        }
        Err(e) => eprintln!("cannot convert the response: {e}"),
    }
}

/// A JSON answer.
pub fn json(status: u16, body: &serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

/// For a component that serves any path (the UI's files): accepts `method`
/// when it is one of `allowed` (HEAD wherever GET is), else a 405 whose
/// `Allow` header lists them.
pub fn allow(method: &Method, allowed: &[Method]) -> Result<(), Error> {
    let head_via_get = *method == Method::Head && allowed.contains(&Method::Get);
    if allowed.contains(method) || head_via_get {
        return Ok(());
    }
    Err(Error::MethodNotAllowed {
        method: method.to_string(),
        allow: allow_header(allowed),
    })
}

/// The `Allow` header value for `allowed`, adding `HEAD` after `GET`.
fn allow_header(allowed: &[Method]) -> String {
    let mut names = Vec::with_capacity(allowed.len() + 1);
    for method in allowed {
        names.push(method.to_string());
        if *method == Method::Get && !allowed.contains(&Method::Head) {
            names.push(Method::Head.to_string());
        }
    }
    names.join(", ")
}

/// The longest `Idempotency-Key` a route takes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The request's `Idempotency-Key`, if it sent one: 1 to
/// [`MAX_IDEMPOTENCY_KEY`] visible ASCII characters, else 400.
pub fn idempotency_key(request: &Request) -> Result<Option<String>, Error> {
    let Some(value) = request.header("idempotency-key") else {
        return Ok(None);
    };
    match value.as_str().map(str::trim) {
        Some(key)
            if !key.is_empty()
                && key.len() <= MAX_IDEMPOTENCY_KEY
                && key.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        _ => Err(Error::BadRequest(format!(
            "En-tête Idempotency-Key invalide : 1 à {MAX_IDEMPOTENCY_KEY} caractères ASCII visibles."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_fits_its_pattern_with_or_without_the_trailing_slash() {
        let pattern = "/api/stock/movements/{id}/reverse/";
        assert_eq!(
            parse(pattern, "/api/stock/movements/3/reverse/"),
            Some(vec![("id", 3)])
        );
        assert_eq!(
            parse(pattern, "/api/stock/movements/3/reverse"),
            Some(vec![("id", 3)])
        );
        assert!(matches("/api/stock/", "/api/stock"));
        assert!(matches("/api/stock/", "/api/stock/"));
        assert!(matches("/api/pieces/export.csv", "/api/pieces/export.csv"));
    }

    #[test]
    fn a_parameter_is_a_positive_integer() {
        let pattern = "/api/x/{id}/";
        for bad in ["0", "-1", "1.5", "abc", "", "+3", "99999999999999999999"] {
            assert!(!matches(pattern, &format!("/api/x/{bad}/")), "{bad}");
        }
        assert!(matches(pattern, "/api/x/9223372036854775807/"));
    }

    #[test]
    fn an_empty_segment_matches_nothing() {
        assert!(!matches(
            "/api/stock/internal/usage/{id}/",
            "/api/stock//internal/usage/1/"
        ));
        assert!(!matches(
            "/api/stock/internal/usage/{id}/",
            "/api/stock/internal//usage/1/"
        ));
        assert!(!matches("/api/stock/", "/api/stock//"));
        assert!(!matches("/api/stock/{id}/", "/api/stock/1//"));
    }

    #[test]
    fn other_paths_do_not_fit() {
        assert!(!matches(
            "/api/stock/movements/",
            "/api/stock/movements/extra/"
        ));
        assert!(!matches("/api/stock/movements/", "/api/stock/"));
        assert!(!matches("/api/stock/", "/api/stocks/"));
    }

    #[test]
    fn head_is_allowed_where_get_is_and_others_get_405() {
        assert!(allow(&Method::Head, &[Method::Get]).is_ok());
        assert!(allow(&Method::Post, &[Method::Get, Method::Post]).is_ok());
        match allow(&Method::Delete, &[Method::Get, Method::Post]) {
            Err(Error::MethodNotAllowed { method, allow }) => {
                assert_eq!(method, "DELETE");
                assert_eq!(allow, "GET, HEAD, POST");
            }
            other => panic!("expected 405, got {other:?}"),
        }
    }

    #[test]
    fn the_allow_header_adds_head_after_get_once() {
        assert_eq!(
            allow_header(&[Method::Get, Method::Post]),
            "GET, HEAD, POST"
        );
        assert_eq!(allow_header(&[Method::Get, Method::Head]), "GET, HEAD");
        assert_eq!(allow_header(&[Method::Delete]), "DELETE");
    }
}
