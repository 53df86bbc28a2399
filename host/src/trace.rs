//! The W3C trace context of one request: continued from an incoming
//! `traceparent` (Traefik's, or a peer host's), else started here. Each
//! outgoing request of the guest carries it on, so one trace id follows a
//! request through every service it reaches; it is also the `request_id` of
//! every log line the request causes.

use std::cell::Cell;
use std::time::SystemTime;

use http::HeaderMap;

pub const TRACEPARENT: &str = "traceparent";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// This request's span.
    pub span_id: [u8; 8],
    /// The caller's span, when the trace was continued.
    pub parent_id: Option<[u8; 8]>,
    sampled: bool,
    pub started: SystemTime,
}

impl TraceContext {
    /// A new span in the trace `headers` continue, or in a new trace.
    pub fn for_request(headers: &HeaderMap) -> Self {
        let incoming = headers
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .and_then(parse);
        let (trace_id, parent_id, sampled) = match incoming {
            Some((trace_id, parent, flags)) => (trace_id, Some(parent), flags & 1 == 1),
            None => (random(), None, true),
        };
        Self {
            trace_id,
            span_id: random(),
            parent_id,
            sampled,
            started: SystemTime::now(),
        }
    }

    /// The header the guest's outgoing requests carry: this span as parent.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            u8::from(self.sampled)
        )
    }

    pub fn request_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// Whether the caller asked for this trace to be recorded.
    pub fn sampled(&self) -> bool {
        self.sampled
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`; all-zero ids and version `ff` are
/// invalid, and a later version is read by its first four fields, as the
/// recommendation says.
fn parse(value: &str) -> Option<([u8; 16], [u8; 8], u8)> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let (trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2
        || version.eq_ignore_ascii_case("ff")
        || (version == "00" && parts.next().is_some())
    {
        return None;
    }
    let trace_id: [u8; 16] = unhex(trace)?;
    let parent_id: [u8; 8] = unhex(parent)?;
    let [flags] = unhex::<1>(flags)?;
    u8::from_str_radix(version, 16).ok()?;
    (trace_id != [0; 16] && parent_id != [0; 8]).then_some((trace_id, parent_id, flags))
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Trace and span ids need to be unique, not secret: a SplitMix64 stream
/// per thread, seeded once from the OS, costs no system call per request.
fn random<const N: usize>() -> [u8; N] {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    let mut bytes = [0; N];
    for chunk in bytes.chunks_mut(8) {
        let next = STATE.with(|state| {
            let value = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            state.set(value);
            let mut z = value;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        });
        chunk.copy_from_slice(&next.to_le_bytes()[..chunk.len()]);
    }
    if bytes == [0; N] {
        // All zeros is the one invalid id; the next draw is not.
        return random();
    }
    bytes
}

/// The OS's generator; were it to fail, the clock and the thread's stack
/// address keep streams apart.
fn seed() -> u64 {
    let mut bytes = [0; 8];
    if getrandom::fill(&mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    nanos ^ (&bytes as *const [u8; 8] as usize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(traceparent: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, traceparent.parse().unwrap());
        headers
    }

    #[test]
    fn an_incoming_traceparent_is_continued_with_a_new_span() {
        let context = TraceContext::for_request(&headers(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(context.request_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            context.parent_id,
            Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
        );
        assert_ne!(
            context.span_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        let outgoing = context.traceparent();
        assert!(
            outgoing.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{outgoing}"
        );
        assert!(outgoing.ends_with("-01"));
        assert_eq!(
            parse(&outgoing).map(|(_, parent, _)| parent),
            Some(context.span_id)
        );
    }

    #[test]
    fn new_ids_differ() {
        let ids: std::collections::BTreeSet<[u8; 16]> = (0..1000).map(|_| random()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn an_invalid_traceparent_starts_a_new_trace() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let context = TraceContext::for_request(&headers(bad));
            assert_eq!(context.parent_id, None, "{bad}");
            assert_ne!(
                context.request_id(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{bad}"
            );
        }
        let later = TraceContext::for_request(&headers(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more",
        ));
        assert_eq!(later.request_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!later.sampled());
    }
}
