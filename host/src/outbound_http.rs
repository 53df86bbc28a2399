//! Outgoing `wasi:http` requests: checked against the component's
//! `allowed_outbound_hosts` before they leave, as Spin does. `self.alt` (and
//! an allowed `self`) addresses this host's own listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::AllowedHosts;

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

pub struct OutboundPolicy {
    allowed: Arc<AllowedHosts>,
    self_addr: SocketAddr,
}

impl OutboundPolicy {
    pub fn new(allowed: Arc<AllowedHosts>, self_addr: SocketAddr) -> Self {
        Self { allowed, self_addr }
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
        let Some(destination) = self.destination(request.uri()) else {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        if let Some(authority) = destination.authority()
            && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
        {
            request.headers_mut().insert(http::header::HOST, host);
        }
        *request.uri_mut() = destination;
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
