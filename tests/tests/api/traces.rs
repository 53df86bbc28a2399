//! Traces and logs of one request across services: the host continues an
//! incoming W3C `traceparent`, carries it on each outgoing call of the guest
//! (stock → pieces), exports one span per request over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and writes each line a guest prints
//! as one log event with the request id (the trace id), JSON under
//! `LOG_FORMAT=json`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::helpers::spawn_app_with;
use crate::receiver::Receiver;

/// A span as a collector receives it.
#[derive(Clone, Debug)]
pub struct SeenSpan {
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_id: String,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
}

/// Every span the receiver got on `/v1/traces`, decoded.
pub fn spans(receiver: &Receiver) -> Vec<SeenSpan> {
    receiver
        .received()
        .iter()
        .filter(|r| r.path == "/v1/traces")
        .flat_map(|r| decode(&body(r)))
        .collect()
}

/// The request's body, gunzipped when it says so (Traefik's exporter does).
fn body(request: &crate::receiver::Received) -> Vec<u8> {
    match request.headers.get("content-encoding").map(String::as_str) {
        Some("gzip") => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&request.bytes[..]),
                &mut body,
            )
            .expect("a gzip body");
            body
        }
        _ => request.bytes.clone(),
    }
}

/// Waits until `spans` of the receiver satisfy `done`, and returns them.
pub fn spans_when(receiver: &Receiver, done: impl Fn(&[SeenSpan]) -> bool) -> Vec<SeenSpan> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = spans(receiver);
        if done(&seen) {
            return seen;
        }
        assert!(Instant::now() < deadline, "spans so far: {seen:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A movement sent with a `traceparent` (what Traefik sends) is one trace:
/// stock's span is the caller's child, pieces' span is stock's child, both
/// exported by the host serving every component in one process.
#[test]
fn a_movement_is_one_trace_through_stock_to_pieces_in_one_host() {
    let collector = Receiver::start(0);
    let endpoint = format!("http://{}", collector.address);
    let app = spawn_app_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    let team = app.team();
    let piece = app.json(
        "POST",
        "/api/pieces/",
        Some(&team.admin),
        &serde_json::json!({"reference": "TRACE-1", "name": "Tracée"}),
    );
    assert_eq!(piece.status, 201, "{}", piece.body);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let movement = app.request(
        "POST",
        "/api/stock/movement/",
        Some(&team.admin),
        &[("traceparent", &format!("00-{trace_id}-{caller}-01"))],
        Some((
            "application/json",
            &serde_json::json!({"piece_id": piece.json()["id"], "type": "IN", "quantity": 3})
                .to_string(),
        )),
    );
    assert_eq!(movement.status, 201, "{}", movement.body);

    let seen = spans_when(&collector, |spans| {
        let component = |id: &str| {
            spans.iter().any(|s| {
                s.trace_id == trace_id
                    && s.attributes.get("spin.component_id").map(String::as_str) == Some(id)
            })
        };
        component("stock") && component("pieces")
    });
    let of_trace: Vec<&SeenSpan> = seen.iter().filter(|s| s.trace_id == trace_id).collect();
    let stock = of_trace
        .iter()
        .find(|s| s.attributes["spin.component_id"] == "stock")
        .unwrap();
    assert_eq!(stock.parent_id, caller, "{stock:#?}");
    assert_eq!(stock.name, "POST /api/stock/...");
    assert_eq!(stock.attributes["url.path"], "/api/stock/movement/");
    assert_eq!(stock.attributes["http.response.status_code"], "201");
    let pieces: Vec<_> = of_trace
        .iter()
        .filter(|s| s.attributes["spin.component_id"] == "pieces")
        .collect();
    assert!(
        pieces.iter().all(|p| p.parent_id == stock.span_id) && !pieces.is_empty(),
        "pieces is called by stock: {of_trace:#?}"
    );
    assert!(
        of_trace.iter().all(|s| s.service == "gestion-de-stock"),
        "{of_trace:#?}"
    );
    // The other requests (login, piece creation) each began a trace here.
    assert!(
        seen.iter()
            .any(|s| s.trace_id != trace_id && s.parent_id.is_empty())
    );
}

/// What a guest prints reaches the log as one JSON line per event under
/// `LOG_FORMAT=json`, with its component and the request id, the same id a
/// caller's `traceparent` gave.
#[test]
fn a_guest_message_is_a_json_line_with_the_request_id() {
    let app = spawn_app_with(&[
        ("LOG_FORMAT", "json"),
        // Nothing answers there: stock says so on stderr.
        ("SPIN_VARIABLE_PIECES_URL", "127.0.0.1:9"),
    ]);
    let team = app.team();
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let movement = app.request(
        "POST",
        "/api/stock/movement/",
        Some(&team.admin),
        &[("traceparent", &format!("00-{trace_id}-b7ad6b7169203331-01"))],
        Some((
            "application/json",
            r#"{"piece_id": 1, "type": "IN", "quantity": 1}"#,
        )),
    );
    assert_eq!(movement.status, 503, "{}", movement.body);
    crate::helpers::eventually("stock's message in the log", || {
        app.log().contains("pieces service unavailable")
    });
    let log = app.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let message = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("pieces service unavailable"))
        })
        .unwrap_or_else(|| panic!("no JSON event for it in:\n{log}"));
    assert_eq!(message["component"], "stock", "{message}");
    assert_eq!(message["request_id"], trace_id, "{message}");
    assert_eq!(message["level"], "warn");
    assert!(
        message["ts"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{message}"
    );
    // Every line on stderr is an event; the banner is on stdout.
    let stray: Vec<&str> = log
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('{'))
        .collect();
    assert!(
        stray.is_empty(),
        "lines that are not JSON events: {stray:#?}"
    );
}

/// `ExportTraceServiceRequest` → its spans (OTLP's protobuf, read with the
/// few wire types it uses).
pub fn decode(request: &[u8]) -> Vec<SeenSpan> {
    let mut spans = Vec::new();
    for resource_spans in fields(request).into_iter().filter(|f| f.0 == 1) {
        let resource_spans = fields(resource_spans.1);
        let service = resource_spans
            .iter()
            .filter(|f| f.0 == 1)
            .flat_map(|resource| key_values(fields(resource.1).into_iter().filter(|f| f.0 == 1)))
            .find(|(key, _)| key == "service.name")
            .map(|(_, value)| value)
            .unwrap_or_default();
        for scope_spans in resource_spans.iter().filter(|f| f.0 == 2) {
            for span in fields(scope_spans.1).into_iter().filter(|f| f.0 == 2) {
                let span = fields(span.1);
                let bytes = |number: u32| {
                    span.iter()
                        .find(|f| f.0 == number)
                        .map(|f| f.1)
                        .unwrap_or_default()
                };
                spans.push(SeenSpan {
                    service: service.clone(),
                    trace_id: hex(bytes(1)),
                    span_id: hex(bytes(2)),
                    parent_id: hex(bytes(4)),
                    name: String::from_utf8_lossy(bytes(5)).into_owned(),
                    attributes: key_values(span.iter().copied().filter(|f| f.0 == 9))
                        .into_iter()
                        .collect(),
                });
            }
        }
    }
    spans
}

/// `KeyValue` messages as `(key, value as text)`.
fn key_values<'a>(kvs: impl Iterator<Item = (u32, &'a [u8])>) -> Vec<(String, String)> {
    kvs.map(|(_, kv)| {
        let kv = fields(kv);
        let key = kv
            .iter()
            .find(|f| f.0 == 1)
            .map(|f| f.1)
            .unwrap_or_default();
        let value = kv
            .iter()
            .find(|f| f.0 == 2)
            .map(|f| any_value(f.1))
            .unwrap_or_default();
        (String::from_utf8_lossy(key).into_owned(), value)
    })
    .collect()
}

fn any_value(value: &[u8]) -> String {
    let Some(&first) = value.first() else {
        return String::new();
    };
    match first >> 3 {
        // string_value
        1 => fields(value)
            .first()
            .map(|f| String::from_utf8_lossy(f.1).into_owned())
            .unwrap_or_default(),
        // int_value: a varint, returned here as its decimal text
        3 => varint(&value[1..]).0.to_string(),
        _ => format!("{value:?}"),
    }
}

/// `(field number, bytes)` of each length-delimited field; other wire
/// types are skipped (their values are not needed here).
fn fields(mut message: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    while !message.is_empty() {
        let (key, used) = varint(message);
        message = &message[used..];
        let number = (key >> 3) as u32;
        match key & 7 {
            0 => message = &message[varint(message).1..],
            1 => message = &message[8..],
            5 => message = &message[4..],
            2 => {
                let (length, used) = varint(message);
                let (value, rest) = message[used..].split_at(length as usize);
                out.push((number, value));
                message = rest;
            }
            other => panic!("wire type {other} in an OTLP message"),
        }
    }
    out
}

fn varint(bytes: &[u8]) -> (u64, usize) {
    let mut value = 0;
    for (i, byte) in bytes.iter().enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("a varint cut short");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
