//! The HTTP/1.1 listener: routes each request, enforces the body and time
//! limits, and runs the matched component in a fresh instance, or answers a
//! `static_response` itself. Service-chaining requests from a component
//! (`http://<id>.spin.internal`) run here too, without the route table.
//!
//! Failures stay inside one request: a trap, a time-out or an instance limit
//! answers that request (500, 504, 503) and the host keeps serving.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

use crate::app::{App, LoadedComponent};
use crate::headers::add_spin_headers;
use crate::metrics::METRICS;
use crate::otlp::{Recorder, Span, Value};
use crate::outbound_http::{Chain, ChainFuture, chaining_target};
use crate::router::{RouteMatch, Target};
use crate::sqlite::DeadlineExceeded;
use crate::state::State;

use crate::trace::TraceContext;

/// The client address a chained request shows, as in Spin.
const CHAINED_CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

pub struct Limits {
    pub max_body_bytes: usize,
    /// From the request head to the end of the guest's answer, the body's
    /// upload included (408 while reading it, 504 after).
    pub request_timeout: Duration,
    /// A client must send a request's head within this long, else its
    /// connection is closed (slow-header clients hold no task for long).
    pub header_read_timeout: Duration,
    /// Open connections; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Concurrent instances; further requests wait for a free slot.
    pub max_instances: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// How long the host keeps accepting after the shutdown signal, with
    /// its health route failing.
    pub drain: Duration,
}

struct Shared {
    app: App,
    limits: Limits,
    slots: Semaphore,
    self_addr: SocketAddr,
    draining: AtomicBool,
    spans: Option<Recorder>,
}

/// Serves until `shutdown` resolves, drains (serving on, health failing),
/// then stops accepting and lets the requests in flight finish (up to the
/// grace period).
pub async fn serve(
    app: App,
    limits: Limits,
    listener: TcpListener,
    spans: Option<Recorder>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let self_addr = listener.local_addr()?;
    let grace = limits.shutdown_grace;
    let drain = limits.drain;
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let header_read_timeout = limits.header_read_timeout;
    let shared = Arc::new(Shared {
        slots: Semaphore::new(limits.max_instances),
        app,
        limits,
        self_addr,
        draining: AtomicBool::new(false),
        spans,
    });
    let graceful = GracefulShutdown::new();
    let shutdown = async {
        shutdown.await;
        if !drain.is_zero() {
            logline::info(&format!("draining for {drain:?}: health answers 503"), &[]);
            shared.draining.store(true, Ordering::Relaxed);
            tokio::time::sleep(drain).await;
        }
    };
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting until a connection closes: waiting
        // clients queue in the kernel's backlog, not in this process.
        let connection_slot = tokio::select! {
            slot = connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: keep serving those
                    // already connected and retry shortly.
                    logline::error(&format!("accept failed: {e}"), &[]);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let service = service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(shared, req, client).await) }
        });
        let connection = http1::Builder::new()
            .keep_alive(true)
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away mid-request is not the host's error.
            let _ = connection.await;
            drop(connection_slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        logline::warn(
            &format!("shutdown: requests still running after {grace:?}, stopping anyway"),
            &[],
        );
    }
    Ok(())
}

async fn handle(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    client: SocketAddr,
) -> Response<HyperOutgoingBody> {
    match req.uri().path() {
        "/.well-known/spin/health" if shared.draining.load(Ordering::Relaxed) => {
            return text(StatusCode::SERVICE_UNAVAILABLE, "draining");
        }
        "/.well-known/spin/health" => return text(StatusCode::OK, "OK"),
        "/.well-known/spin/metrics" => {
            let mut response = text(StatusCode::OK, METRICS.render());
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return response;
        }
        "/.well-known/spin/info" => {
            let info = serde_json::json!({ "application": shared.app.name, "host": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION") });
            return text(StatusCode::OK, info.to_string());
        }
        _ => {}
    }
    strip_chaining_host(req.headers_mut());
    let Some(route) = shared.app.router.route(req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "");
    };
    let component = match &route.target {
        Target::Component(id) => shared.app.components[id].clone(),
        Target::Static(index) => return static_response(&shared.app.static_responses[*index]),
    };

    let (mut parts, body) = req.into_parts();
    let upload = read_body(body, &parts.headers, shared.limits.max_body_bytes);
    let body = match tokio::time::timeout(shared.limits.request_timeout, upload).await {
        Ok(Ok(body)) => body,
        Ok(Err(response)) => return response,
        Err(_elapsed) => return text(StatusCode::REQUEST_TIMEOUT, "request body too slow"),
    };
    add_spin_headers(&mut parts.headers, &parts.uri, &route, client);
    let req = Request::from_parts(parts, Full::new(body));

    let Ok(_slot) = shared.slots.acquire().await else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "host is shutting down");
    };
    respond(&shared, component, &route.raw_route, req).await
}

/// Runs `req` in a fresh instance of `component` and maps its failure to
/// the answer Spin gives (500), or 504 past the time limit.
async fn respond(
    shared: &Arc<Shared>,
    component: Arc<LoadedComponent>,
    route: &str,
    req: Request<Full<Bytes>>,
) -> Response<HyperOutgoingBody> {
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + shared.limits.request_timeout;
    let trace = TraceContext::for_request(req.headers());
    let span = shared
        .spans
        .as_ref()
        .filter(|_| trace.sampled())
        .map(|recorder| {
            (
                recorder,
                req.method().to_string(),
                req.uri().path().to_owned(),
            )
        });
    let response = match run(shared, component.clone(), req, deadline, &trace).await {
        Ok(response) => response,
        Err(Failure::TimedOut) => {
            log_failure(
                &component,
                &trace,
                &format!("did not answer within {:?}", shared.limits.request_timeout),
            );
            text(StatusCode::GATEWAY_TIMEOUT, "")
        }
        Err(Failure::Guest(e)) => {
            log_failure(&component, &trace, &format!("failed: {e:?}"));
            text(StatusCode::INTERNAL_SERVER_ERROR, "")
        }
    };
    let status = response.status();
    METRICS.request(&component.id, route, status.as_u16(), started.elapsed());
    if let Some((recorder, method, path)) = span {
        recorder.record(Span {
            trace,
            // `GET /api/stock/...`: as OTel's HTTP conventions name a server
            // span, by the route that matched.
            name: format!("{method} {route}"),
            attributes: vec![
                ("http.request.method", Value::Text(method)),
                ("http.route", Value::Text(route.to_owned())),
                ("url.path", Value::Text(path)),
                (
                    "http.response.status_code",
                    Value::Integer(status.as_u16().into()),
                ),
                ("spin.component_id", Value::Text(component.id.clone())),
            ],
            error: status.is_server_error(),
        });
    }
    response
}

fn log_failure(component: &LoadedComponent, trace: &TraceContext, what: &str) {
    logline::error(
        &format!("component `{}` {what}", component.id),
        &[
            ("component", &component.id),
            ("request_id", &trace.request_id()),
        ],
    );
}

/// A chained request takes no instance slot: its caller holds one and waits
/// for it, so a full host would otherwise wait on itself. The pool has room
/// for both (`engine::new_engine`).
impl Chain for Shared {
    fn call(self: Arc<Self>, component: String, request: http::Request<WasiBody>) -> ChainFuture {
        Box::pin(async move {
            let Some(loaded) = self.app.components.get(&component).cloned() else {
                return Err(wasmtime_wasi_http::Error::InternalError(Some(format!(
                    "service chaining: no component `{component}` in this host"
                ))));
            };
            let (mut parts, body) = request.into_parts();
            let body = Limited::new(body, self.limits.max_body_bytes)
                .collect()
                .await
                .map_err(|_| wasmtime_wasi_http::Error::HttpRequestBodySize(None))?
                .to_bytes();
            let route = RouteMatch::synthetic(&component, parts.uri.path());
            add_spin_headers(&mut parts.headers, &parts.uri, &route, CHAINED_CLIENT);
            let response = respond(
                &self,
                loaded,
                &route.raw_route,
                Request::from_parts(parts, Full::new(body)),
            )
            .await;
            Ok(response)
        })
    }
}

/// Spin drops a `*.spin.internal` Host from outside: only a component's own
/// outbound request may name one.
fn strip_chaining_host(headers: &mut http::HeaderMap) {
    let chaining = headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.parse::<http::uri::Authority>().ok())
        .is_some_and(|authority| chaining_target(authority.host()).is_some());
    if chaining {
        headers.remove(http::header::HOST);
    }
}

fn static_response(answer: &manifest::StaticResponse) -> Response<HyperOutgoingBody> {
    let mut response = text(
        StatusCode::from_u16(answer.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer.body.clone().unwrap_or_default(),
    );
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name.as_str()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

enum Failure {
    TimedOut,
    Guest(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Guest(e.into())
    }
}

/// Buffers the request body up to the limit: a body over it gets 413
/// before any guest code runs.
async fn read_body(
    body: Incoming,
    headers: &http::HeaderMap,
    limit: usize,
) -> Result<Bytes, Response<HyperOutgoingBody>> {
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(text(
            StatusCode::BAD_REQUEST,
            "request body could not be read",
        )),
    }
}

/// One request in one fresh instance. The guest may keep streaming the
/// body after it has set the response, so it runs in its own task, which
/// the deadline ends wherever it is (dropping the store drops the instance).
async fn run(
    shared: &Arc<Shared>,
    component: Arc<LoadedComponent>,
    req: Request<Full<Bytes>>,
    deadline: tokio::time::Instant,
    trace: &TraceContext,
) -> Result<Response<HyperOutgoingBody>, Failure> {
    let state = State::new(
        component.clone(),
        shared.self_addr,
        shared.clone(),
        deadline.into_std(),
        trace,
    )?;
    let mut store = Store::new(component.pre.engine(), state);
    store.limiter(|state| state.limiter());
    store.epoch_deadline_async_yield_and_update(1);

    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let outparam = store.data_mut().http().new_response_outparam(sender)?;
    let pre = component.pre.clone();
    let task = tokio::spawn(tokio::time::timeout_at(deadline, async move {
        let started = std::time::Instant::now();
        let proxy = pre.instantiate_async(&mut store).await?;
        METRICS.instantiated(&component.id, started.elapsed());
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, outparam)
            .await
    }));
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => Err(Failure::Guest(anyhow::anyhow!(
            "guest answered with error code {code:?}"
        ))),
        Err(_) => match task.await? {
            Err(_elapsed) => Err(Failure::TimedOut),
            Ok(Err(e)) if e.is::<DeadlineExceeded>() => Err(Failure::TimedOut),
            Ok(Ok(())) => Err(Failure::Guest(anyhow::anyhow!(
                "guest returned without setting a response"
            ))),
            Ok(Err(e)) => Err(Failure::Guest(e.into())),
        },
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|e: Infallible| match e {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
}
