//! Outgoing `wasi:http` requests: checked against the component's
//! `allowed_outbound_hosts` before they leave, as Spin does. `self.alt` (and
//! an allowed `self`) addresses this host's own listener; `<id>.spin.internal`
//! (service chaining) runs component `id` in this process, through [`Chain`],
//! without the network or the route table.
//!
//! Plain-HTTP requests with the default limits go through a [`Pool`] of
//! kept-alive connections shared by all of a component's requests, since a
//! fresh instance per request would otherwise open (and close) one TCP
//! connection per call, as `wasmtime-wasi-http`'s default sender does.
//! Requests over TLS, or whose guest set its own limits, keep that sender.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::AllowedHosts;
use crate::trace::{TRACEPARENT, TraceContext};

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

/// Limits for a request whose guest set none: a peer that accepts and
/// never answers must not hold a guest (and its caller) until the request
/// time limit.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_BETWEEN_BYTES_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an unused kept-alive connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves a service-chaining request in this host: the server, which knows
/// every loaded component.
pub trait Chain: Send + Sync {
    fn call(self: Arc<Self>, component: String, request: http::Request<WasiBody>) -> ChainFuture;
}

pub type ChainFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<WasiBody>, Error>> + Send>>;

/// `pieces` for the host `pieces.spin.internal`: the component a
/// service-chaining host names (`*` for Spin's wildcard).
pub fn chaining_target(host: &str) -> Option<&str> {
    host.strip_suffix(".spin.internal")
        .filter(|id| !id.is_empty() && !id.contains('.'))
}

pub struct OutboundPolicy {
    allowed: Arc<AllowedHosts>,
    self_addr: SocketAddr,
    pool: Pool,
    chain: Arc<dyn Chain>,
    /// The calling request's trace context, for each request that does not
    /// carry its own.
    trace: TraceContext,
}

impl OutboundPolicy {
    pub fn new(
        allowed: Arc<AllowedHosts>,
        self_addr: SocketAddr,
        pool: Pool,
        chain: Arc<dyn Chain>,
        trace: TraceContext,
    ) -> Self {
        Self {
            allowed,
            self_addr,
            pool,
            chain,
            trace,
        }
    }

    /// The component a `http://<id>.spin.internal` request is for, if it is
    /// one and it is allowed (`None` for any other request).
    fn chained_component(&self, uri: &http::Uri) -> Option<Result<String, Error>> {
        let host = uri.host()?;
        let id = chaining_target(host)?;
        let scheme = uri.scheme_str().unwrap_or("https");
        Some(if self.allowed.allows(scheme, host, uri.port_u16()) {
            Ok(id.to_owned())
        } else {
            Err(Error::HttpRequestDenied)
        })
    }

    /// Where the request may go, or `None` if it is denied.
    fn destination(&self, uri: &http::Uri) -> Option<http::Uri> {
        let scheme = uri.scheme_str().unwrap_or("https");
        let host = uri.host().unwrap_or_default();
        if host == "self.alt" {
            if !self.allowed.allows_self(scheme) {
                return None;
            }
            let mut parts = uri.clone().into_parts();
            parts.scheme = Some(Scheme::HTTP);
            parts.authority = Authority::try_from(self.self_addr.to_string()).ok();
            return http::Uri::from_parts(parts).ok();
        }
        self.allowed
            .allows(scheme, host, uri.port_u16())
            .then(|| uri.clone())
    }
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        if !request.headers().contains_key(TRACEPARENT)
            && let Ok(traceparent) = http::HeaderValue::from_str(&self.trace.traceparent())
        {
            request.headers_mut().insert(TRACEPARENT, traceparent);
        }
        match self.chained_component(request.uri()) {
            None => {}
            Some(Err(denied)) => return Box::new(async { Err(denied) }),
            Some(Ok(component)) => {
                // As Spin does, the callee sees no `*.spin.internal` Host.
                request.headers_mut().remove(http::header::HOST);
                let chain = self.chain.clone();
                return Box::new(async move {
                    let response = chain.call(component, request).await?;
                    Ok((
                        response,
                        Box::new(async { Ok(()) })
                            as Box<dyn Future<Output = Result<(), Error>> + Send>,
                    ))
                });
            }
        }
        let Some(destination) = self.destination(request.uri()) else {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        if let Some(authority) = destination.authority()
            && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
        {
            request.headers_mut().insert(http::header::HOST, host);
        }
        let pooled = options.is_none() && destination.scheme() == Some(&Scheme::HTTP);
        *request.uri_mut() = destination;
        if pooled {
            let pool = self.pool.clone();
            return Box::new(async move {
                let response = pool.send(request).await?;
                Ok((
                    response,
                    Box::new(async { Ok(()) })
                        as Box<dyn Future<Output = Result<(), Error>> + Send>,
                ))
            });
        }
        let options = Some(options.unwrap_or(RequestOptions {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            first_byte_timeout: Some(DEFAULT_FIRST_BYTE_TIMEOUT),
            between_bytes_timeout: Some(DEFAULT_BETWEEN_BYTES_TIMEOUT),
        }));
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

/// Kept-alive plain-HTTP/1.1 connections, with the default limits: connect
/// within [`DEFAULT_CONNECT_TIMEOUT`], headers within
/// [`DEFAULT_FIRST_BYTE_TIMEOUT`], each body chunk within
/// [`DEFAULT_BETWEEN_BYTES_TIMEOUT`] of the one before. Cheap to clone.
#[derive(Clone)]
pub struct Pool(Client<HttpConnector, WasiBody>);

impl Pool {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(DEFAULT_CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Self(client)
    }

    async fn send(
        &self,
        request: http::Request<WasiBody>,
    ) -> Result<http::Response<WasiBody>, Error> {
        let response = tokio::time::timeout(DEFAULT_FIRST_BYTE_TIMEOUT, self.0.request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(client_error)?;
        Ok(response
            .map(|body| BetweenBytes::new(body, DEFAULT_BETWEEN_BYTES_TIMEOUT).boxed_unsync()))
    }
}

/// The `wasi:http` error closest to a pooled request's failure: connection
/// errors keep their I/O kind, as the default sender reports them.
fn client_error(error: hyper_util::client::legacy::Error) -> Error {
    let cause = std::iter::successors(std::error::Error::source(&error), |e| e.source())
        .find_map(|e| e.downcast_ref::<io::Error>());
    match cause {
        Some(cause) if cause.kind() == io::ErrorKind::TimedOut => Error::ConnectionTimeout,
        Some(cause) if error.is_connect() => {
            Error::Connect(io::Error::new(cause.kind(), cause.to_string()))
        }
        _ if error.is_connect() => Error::ConnectionRefused,
        _ => Error::ConnectionTerminated,
    }
}

/// A response body that fails when the peer goes quiet for longer than
/// `limit` between two frames.
struct BetweenBytes {
    body: Incoming,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl BetweenBytes {
    fn new(body: Incoming, limit: Duration) -> Self {
        Self {
            body,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl Body for BetweenBytes {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.limit;
                self.deadline.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::from(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.deadline.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
