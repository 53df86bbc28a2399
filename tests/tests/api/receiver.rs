//! A real HTTP/1.1 server on a free port, for what the app sends out
//! (webhook deliveries, OTLP spans): keep-alive, bodies with a length or
//! chunked; it refuses the first requests it gets when asked to.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One POST as the receiver read it, and what it answered.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    /// The body as it came, for binary formats (OTLP's protobuf).
    pub bytes: Vec<u8>,
    pub event_id: String,
    pub kind: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub acknowledged: bool,
}

/// A receiver that answers 500 to its first `refusals` requests, then 200.
pub struct Receiver {
    pub address: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(refusals: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = format!(
            "127.0.0.1:{}",
            listener.local_addr().expect("its address").port()
        );
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &log, refusals));
            }
        });
        Self { address, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// The types of the acknowledged deliveries, sorted.
    pub fn acknowledged_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .received()
            .into_iter()
            .filter(|r| r.acknowledged)
            .map(|r| r.kind)
            .collect();
        kinds.sort();
        kinds
    }

    /// Acknowledged deliveries by event id.
    pub fn acknowledged(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.received().into_iter().filter(|r| r.acknowledged) {
            *counts.entry(r.event_id).or_insert(0) += 1;
        }
        counts
    }
}

/// Requests one after the other on a kept-alive connection.
fn serve(stream: TcpStream, log: &Mutex<Vec<Received>>, refusals: usize) {
    let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
    let mut writer = stream;
    loop {
        let mut headers = BTreeMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let chunked = headers
            .get("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            read_chunked(&mut reader)
        } else {
            let length = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok().map(|()| body)
        };
        let Some(body) = body else {
            return;
        };
        let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
        let acknowledged = {
            let mut log = log.lock().expect("the log");
            let acknowledged = log.len() >= refusals;
            log.push(Received {
                path,
                headers: headers.clone(),
                bytes: body.clone(),
                event_id: header("x-webhook-id"),
                kind: header("x-webhook-event"),
                timestamp: header("x-webhook-timestamp"),
                signature: header("x-webhook-signature"),
                body: String::from_utf8_lossy(&body).into_owned(),
                acknowledged,
            });
            acknowledged
        };
        let status = if acknowledged {
            "200 OK"
        } else {
            "500 Internal Server Error"
        };
        let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\n\r\nok");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// A chunked body (RFC 9112 §7.1), trailers ignored; `None` if cut short.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            // The trailer section ends with an empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk[..size]);
    }
}
