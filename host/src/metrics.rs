//! The host's own metrics, in Prometheus' text format at
//! `/.well-known/spin/metrics` (beside Spin's health and info routes, which
//! no component route can shadow; loopback only in the stack, never routed
//! by Traefik): requests by component, route and status, their latency, the
//! time to instantiate a component, and each database's writer-queue waits
//! and busy errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the histograms' buckets: from a cached read
/// (a millisecond) to the request time limit.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's metrics: one host process, one set.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

#[derive(Default)]
pub struct Metrics {
    /// Component, then route: looked up by `&str`, so a request allocates
    /// nothing once its route has been seen.
    routes: Mutex<BTreeMap<String, BTreeMap<String, RouteStats>>>,
    instantiation: Mutex<BTreeMap<String, Histogram>>,
    writer_wait: Mutex<BTreeMap<String, Histogram>>,
    busy: Mutex<BTreeMap<String, u64>>,
}

#[derive(Default)]
struct RouteStats {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, value: Duration) {
        let seconds = value.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.counts[bucket] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(self.counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// One answered request; `route` is the pattern that matched, never the
    /// path (bounded label values).
    pub fn request(&self, component: &str, route: &str, status: u16, took: Duration) {
        let mut routes = lock(&self.routes);
        let component = match routes.get_mut(component) {
            Some(known) => known,
            None => routes.entry(component.to_owned()).or_default(),
        };
        let stats = match component.get_mut(route) {
            Some(known) => known,
            None => component.entry(route.to_owned()).or_default(),
        };
        *stats.statuses.entry(status).or_default() += 1;
        stats.latency.observe(took);
    }

    pub fn instantiated(&self, component: &str, took: Duration) {
        lock(&self.instantiation)
            .entry(component.to_owned())
            .or_default()
            .observe(took);
    }

    /// A write that waited `took` for its database's writer turn.
    pub fn writer_waited(&self, database: &str, took: Duration) {
        lock(&self.writer_wait)
            .entry(database.to_owned())
            .or_default()
            .observe(took);
    }

    /// A statement SQLite refused as busy after the busy timeout.
    pub fn busy(&self, database: &str) {
        *lock(&self.busy).entry(database.to_owned()).or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP host_requests_total Requests answered, by component, matched route and status.\n\
             # TYPE host_requests_total counter\n",
        );
        let routes = lock(&self.routes);
        let each_route = || {
            routes.iter().flat_map(|(component, routes)| {
                routes
                    .iter()
                    .map(move |(route, stats)| (labels(component, route), stats))
            })
        };
        for (labels, stats) in each_route() {
            for (status, count) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "host_requests_total{{{labels},status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str(
            "# HELP host_request_duration_seconds From the request's head to the response's head.\n\
             # TYPE host_request_duration_seconds histogram\n",
        );
        for (labels, stats) in each_route() {
            stats
                .latency
                .render(&mut out, "host_request_duration_seconds", &labels);
        }
        drop(routes);
        histograms(
            &mut out,
            "host_instantiation_seconds",
            "Time to instantiate a component for one request.",
            "component",
            &lock(&self.instantiation),
        );
        histograms(
            &mut out,
            "host_sqlite_writer_wait_seconds",
            "Time a write waited for its database's writer turn in this process.",
            "database",
            &lock(&self.writer_wait),
        );
        out.push_str(
            "# HELP host_sqlite_busy_total Statements SQLite still found busy after the busy timeout.\n\
             # TYPE host_sqlite_busy_total counter\n",
        );
        for (database, count) in lock(&self.busy).iter() {
            let _ = writeln!(
                out,
                "host_sqlite_busy_total{{database={}}} {count}",
                quoted(database)
            );
        }
        out
    }
}

/// One histogram per value of a single label.
fn histograms(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    each: &BTreeMap<String, Histogram>,
) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
    for (value, histogram) in each {
        histogram.render(out, name, &format!("{label}={}", quoted(value)));
    }
}

fn labels(component: &str, route: &str) -> String {
    format!("component={},route={}", quoted(component), quoted(route))
}

/// A label value as the text format escapes it.
fn quoted(value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.request("stock", "/api/stock/...", 201, Duration::from_millis(3));
        metrics.request("stock", "/api/stock/...", 201, Duration::from_millis(30));
        metrics.request("stock", "/api/stock/...", 409, Duration::from_secs(20));
        let text = metrics.render();
        assert!(text.contains(
            "host_requests_total{component=\"stock\",route=\"/api/stock/...\",status=\"201\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "host_request_duration_seconds_bucket{component=\"stock\",route=\"/api/stock/...\",le=\"0.005\"} 1\n"
        ), "{text}");
        assert!(text.contains(
            "host_request_duration_seconds_bucket{component=\"stock\",route=\"/api/stock/...\",le=\"10\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "host_request_duration_seconds_bucket{component=\"stock\",route=\"/api/stock/...\",le=\"+Inf\"} 3\n"
        ), "{text}");
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
    }
}
