//! `--metrics ADDRESS`: what the sidecar sees, for Prometheus (`GET
//! /metrics`, text format): each job's backlog (the `pending` count its
//! flush answers: the outbox depth), its failed runs, and whether Consul
//! answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use anyhow::Context;

#[derive(Default)]
pub struct Gauges(Mutex<Seen>);

#[derive(Default)]
struct Seen {
    jobs: BTreeMap<String, JobSeen>,
    consul_up: bool,
}

#[derive(Default)]
struct JobSeen {
    pending: Option<i64>,
    failures: u64,
}

impl Gauges {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A job's answer: its `pending` count, when it gives one.
    pub fn job_answered(&self, route: &str, body: &[u8]) {
        let pending = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|answer| answer.get("pending")?.as_i64());
        self.seen()
            .jobs
            .entry(route.to_owned())
            .or_default()
            .pending = pending;
    }

    pub fn job_failed(&self, route: &str) {
        self.seen()
            .jobs
            .entry(route.to_owned())
            .or_default()
            .failures += 1;
    }

    pub fn consul(&self, up: bool) {
        self.seen().consul_up = up;
    }

    fn render(&self) -> String {
        let seen = self.seen();
        let mut out = String::from(
            "# HELP sidecar_job_pending What a job's last answer said is still to deliver (an outbox's depth).\n\
             # TYPE sidecar_job_pending gauge\n",
        );
        for (route, job) in &seen.jobs {
            if let Some(pending) = job.pending {
                let _ = writeln!(out, "sidecar_job_pending{{{}}} {pending}", labels(route));
            }
        }
        out.push_str(
            "# HELP sidecar_job_failures_total Runs of a job that failed (no answer, or not 2xx).\n\
             # TYPE sidecar_job_failures_total counter\n",
        );
        for (route, job) in &seen.jobs {
            let _ = writeln!(
                out,
                "sidecar_job_failures_total{{{}}} {}",
                labels(route),
                job.failures
            );
        }
        let _ = write!(
            out,
            "# HELP sidecar_consul_up Whether Consul answered the last reconciliation.\n\
             # TYPE sidecar_consul_up gauge\nsidecar_consul_up {}\n",
            u8::from(seen.consul_up)
        );
        out
    }
}

/// `service="stock",route="/api/stock/internal/outbox/flush/"`: the
/// service is the route's second segment.
fn labels(route: &str) -> String {
    let service = route.split('/').nth(2).unwrap_or_default();
    format!("service=\"{service}\",route=\"{route}\"")
}

/// Answers every request on `address` with the gauges, from a thread of
/// its own; the connection closes after each answer.
pub fn serve(address: &str, gauges: Arc<Gauges>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("--metrics {address}: cannot listen"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            // The request's head, up to its empty line; its body is none.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let body = gauges.render();
            let _ = (&stream).write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_pending_count_becomes_a_gauge() {
        let gauges = Gauges::default();
        let route = "/api/stock/internal/outbox/flush/";
        gauges.job_answered(route, br#"{"delivered": 2, "pending": 7}"#);
        gauges.job_failed(route);
        gauges.job_answered("/api/notifications/internal/purge/", b"{}");
        gauges.consul(true);
        let text = gauges.render();
        assert!(text.contains(
            "sidecar_job_pending{service=\"stock\",route=\"/api/stock/internal/outbox/flush/\"} 7\n"
        ), "{text}");
        assert!(text.contains("sidecar_job_failures_total{service=\"stock\",route=\"/api/stock/internal/outbox/flush/\"} 1\n"));
        assert!(
            !text.contains("sidecar_job_pending{service=\"notifications\""),
            "{text}"
        );
        assert!(text.contains("sidecar_consul_up 1\n"));
    }
}
