//! Spans over OTLP/HTTP in protobuf, as Spin exports them: on when
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (plus `/v1/traces`) is set. One server span
//! per request a component serves, edge or chained, child of the caller's
//! span when a `traceparent` came with it ([`crate::trace`]).
//!
//! Spans leave in batches from one background task; when the collector is
//! slow or away, a full queue drops new spans (counted in the log) rather
//! than slowing requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::trace::TraceContext;

const QUEUE: usize = 4096;
const BATCH: usize = 512;
/// How long a batch waits for more spans before it leaves.
const LINGER: Duration = Duration::from_millis(200);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One finished request.
pub struct Span {
    pub trace: TraceContext,
    pub name: String,
    pub attributes: Vec<(&'static str, Value)>,
    pub error: bool,
}

pub enum Value {
    Text(String),
    Integer(i64),
}

pub struct Exporter {
    recorder: Recorder,
    task: JoinHandle<()>,
}

/// Where requests put their spans.
#[derive(Clone)]
pub struct Recorder(mpsc::Sender<(Span, SystemTime)>);

impl Recorder {
    /// Queues `span`, ended now; never waits.
    pub fn record(&self, span: Span) {
        let _ = self.0.try_send((span, SystemTime::now()));
    }
}

impl Exporter {
    /// The exporter the environment asks for, if any; an endpoint it
    /// cannot use stops start-up.
    pub fn from_env(default_service: &str) -> anyhow::Result<Option<Self>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => traces,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or_else(|| "http/protobuf".to_owned());
        if protocol != "http/protobuf" {
            bail!("OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: this host exports http/protobuf only");
        }
        let endpoint: http::Uri = endpoint
            .parse()
            .with_context(|| format!("OTLP endpoint `{endpoint}` is not a URL"))?;
        if endpoint.scheme() != Some(&http::uri::Scheme::HTTP) {
            bail!(
                "OTLP endpoint `{endpoint}`: this host exports over plain http:// only (a collector on this machine or network)"
            );
        }
        let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| default_service.to_owned());
        let (queue, receiver) = mpsc::channel(QUEUE);
        let task = tokio::spawn(export(receiver, endpoint, resource(&service)));
        Ok(Some(Self {
            recorder: Recorder(queue),
            task,
        }))
    }

    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// Sends what is queued, for at most `within`.
    pub async fn shutdown(self, within: Duration) {
        drop(self.recorder);
        let _ = tokio::time::timeout(within, self.task).await;
    }
}

async fn export(
    mut queue: mpsc::Receiver<(Span, SystemTime)>,
    endpoint: http::Uri,
    resource: Vec<u8>,
) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut failing = false;
    let mut dropped_before = 0;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while batch.len() < BATCH {
            tokio::select! {
                next = queue.recv() => match next {
                    Some(span) => batch.push(span),
                    None => break,
                },
                () = &mut linger => break,
            }
        }
        let body = request(&resource, &batch);
        let request = http::Request::post(endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(body)));
        let Ok(request) = request else { return };
        let outcome = match tokio::time::timeout(SEND_TIMEOUT, client.request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!("answered {}", response.status())),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {SEND_TIMEOUT:?}")),
        };
        match outcome {
            Ok(()) if failing => {
                logline::info(&format!("OTLP export to {endpoint} works again"), &[]);
                failing = false;
            }
            Ok(()) => {}
            Err(why) => {
                dropped_before += batch.len();
                if !failing {
                    logline::warn(
                        &format!(
                            "OTLP export to {endpoint} failed ({why}); {dropped_before} spans dropped so far"
                        ),
                        &[],
                    );
                    failing = true;
                }
            }
        }
    }
}

/// An `ExportTraceServiceRequest` with one resource and one scope.
fn request(resource: &[u8], batch: &[(Span, SystemTime)]) -> Vec<u8> {
    let mut scope_spans = Message::default();
    scope_spans.message(1, |scope| {
        scope.text(1, env!("CARGO_PKG_NAME"));
        scope.text(2, env!("CARGO_PKG_VERSION"));
    });
    for (span, ended) in batch {
        scope_spans.message(2, |out| encode_span(out, span, *ended));
    }
    let mut resource_spans = Message::default();
    resource_spans.bytes(1, resource);
    resource_spans.bytes(2, &scope_spans.0);
    let mut request = Message::default();
    request.bytes(1, &resource_spans.0);
    request.0
}

fn resource(service: &str) -> Vec<u8> {
    let mut resource = Message::default();
    for (key, value) in [
        ("service.name", service),
        ("telemetry.sdk.name", env!("CARGO_PKG_NAME")),
    ] {
        resource.message(1, |kv| key_value(kv, key, &Value::Text(value.to_owned())));
    }
    resource.0
}

fn encode_span(out: &mut Message, span: &Span, ended: SystemTime) {
    out.bytes(1, &span.trace.trace_id);
    out.bytes(2, &span.trace.span_id);
    if let Some(parent) = span.trace.parent_id {
        out.bytes(4, &parent);
    }
    out.text(5, &span.name);
    out.varint_field(6, 2); // SPAN_KIND_SERVER
    out.fixed64(7, unix_nanos(span.trace.started));
    out.fixed64(8, unix_nanos(ended));
    for (key, value) in &span.attributes {
        out.message(9, |kv| key_value(kv, key, value));
    }
    if span.error {
        out.message(15, |status| status.varint_field(3, 2)); // STATUS_CODE_ERROR
    }
}

fn key_value(out: &mut Message, key: &str, value: &Value) {
    out.text(1, key);
    out.message(2, |any| match value {
        Value::Text(text) => any.text(1, text),
        Value::Integer(n) => any.varint_field(3, *n as u64),
    });
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Protocol-buffer wire format, the four field kinds OTLP spans need.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    fn varint_field(&mut self, field: u32, n: u64) {
        self.key(field, 0);
        self.varint(n);
    }

    fn fixed64(&mut self, field: u32, n: u64) {
        self.key(field, 1);
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn text(&mut self, field: u32, text: &str) {
        self.bytes(field, text.as_bytes());
    }

    fn message(&mut self, field: u32, fill: impl FnOnce(&mut Message)) {
        let mut inner = Message::default();
        fill(&mut inner);
        self.bytes(field, &inner.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_in_the_wire_format() {
        let mut message = Message::default();
        message.varint_field(6, 300);
        message.text(5, "GET /");
        message.fixed64(7, 1);
        message.message(15, |status| status.varint_field(3, 2));
        assert_eq!(
            message.0,
            [
                0x30, 0xac, 0x02, // field 6 varint 300
                0x2a, 5, b'G', b'E', b'T', b' ', b'/', // field 5 "GET /"
                0x39, 1, 0, 0, 0, 0, 0, 0, 0, // field 7 fixed64 1
                0x7a, 2, 0x18, 2, // field 15 { field 3 varint 2 }
            ]
        );
    }
}
