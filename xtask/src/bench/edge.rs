//! The edge, on the real stack (`xtask::stack`, free ports): the same GET
//! through Traefik and straight to the pieces host, and how fast Traefik's
//! pool follows a host that starts or dies (Consul checks + catalog
//! refresh).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use xtask::components;
use xtask::process::Log;
use xtask::secrets::Secrets;
use xtask::stack::{self, Ports, Stack, StackConfig};
use xtask::tools::Tools;

use super::wrk::{Request, Wrk};
use super::{
    CONNECTIONS, Comparison, Discovery, ROUND_SECONDS, SHORT_ROUND_SECONDS, alternate, http,
};

/// Start/kill cycles whose median is reported.
const DISCOVERY_CYCLES: usize = 3;

pub struct Edge {
    /// Throughput, `CONNECTIONS` connections.
    pub comparison: Comparison,
    /// Latency, one connection.
    pub latency: Comparison,
    pub discovery: Discovery,
    /// How long `Stack::start` took (Consul, Traefik, five hosts, sidecar).
    pub stack_start: Duration,
}

pub fn run(root: &Path, tools: Tools, secrets: &Secrets, token: &str, wrk: &Wrk) -> Result<Edge> {
    let data = tempfile::tempdir()?;
    let started = Instant::now();
    let mut stack = Stack::start(StackConfig {
        root: root.to_owned(),
        data_dir: data.path().to_owned(),
        ports: Ports::free(&BTreeMap::new())?,
        metrics: None,
        tools,
        log: Log::new(false),
        env: secrets.env(),
        host: components::release_binary(root, "host"),
    })?;
    let stack_start = started.elapsed();
    let port = stack.ports.instances["pieces"][0];
    let direct = format!("http://127.0.0.1:{port}");
    let piece = http::expect(
        201,
        "POST",
        &format!("{direct}/api/pieces/"),
        Some(token),
        Some((
            "application/json",
            serde_json::json!({"reference": "BENCH-EDGE", "name": "Roulement 6204 2RS", "category": "Transmission"})
                .to_string(),
        )),
    )?;
    let path = format!("/api/pieces/{}/", piece["id"]);
    let through = Request::get(&stack.web_url(), &path, Some(token));
    let straight = Request::get(&direct, &path, Some(token));
    let rounds = alternate(
        "GET a piece: through Traefik, then straight to the host",
        ROUND_SECONDS,
        &mut [
            &mut |seconds| wrk.run(&through, CONNECTIONS, seconds),
            &mut |seconds| wrk.run(&straight, CONNECTIONS, seconds),
        ],
    )?;
    let comparison = Comparison::new(
        "GET /api/pieces/{id}/, through Traefik vs direct",
        "Traefik",
        "direct",
        CONNECTIONS,
        &rounds,
    );
    // What the hop adds to one request, without queueing: one connection.
    let rounds = alternate(
        "GET a piece, one connection: through Traefik, then straight to the host",
        SHORT_ROUND_SECONDS,
        &mut [
            &mut |seconds| wrk.run(&through, 1, seconds),
            &mut |seconds| wrk.run(&straight, 1, seconds),
        ],
    )?;
    let latency = Comparison::new(
        "GET /api/pieces/{id}/, through Traefik vs direct",
        "Traefik",
        "direct",
        1,
        &rounds,
    );
    let discovery = discovery(&mut stack, port)?;
    Ok(Edge {
        comparison,
        latency,
        discovery,
        stack_start,
    })
}

/// Kills the pieces host and times its removal from Traefik's pool, then
/// starts it again and times its first request served through Traefik.
fn discovery(stack: &mut Stack, port: u16) -> Result<Discovery> {
    xtask::cmd::announce("discovery: kill the pieces host, start it again");
    let web = stack.web_url();
    let pool = "/api/http/services/pieces@consulcatalog";
    let server = format!("http://127.0.0.1:{port}");
    let mut removed = Vec::new();
    let mut served = Vec::new();
    let mut host_start = Vec::new();
    for cycle in 1..=DISCOVERY_CYCLES {
        let killed = Instant::now();
        stack.kill_instance("pieces", port)?;
        loop {
            let in_pool = stack
                .traefik_api_get(pool)
                .is_ok_and(|(status, body)| status == 200 && body.contains(&server));
            if !in_pool {
                break;
            }
            if killed.elapsed() > Duration::from_secs(60) {
                bail!("the killed pieces host is still in Traefik's pool after 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        removed.push(killed.elapsed());

        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (stop, url) = (stop.clone(), format!("{web}/api/pieces/health/"));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if stack::get(&url).is_ok_and(|(status, _)| status == 200) {
                        return Some(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                None
            })
        };
        let spawned = Instant::now();
        stack.start_instance("pieces", port)?;
        host_start.push(spawned.elapsed());
        let deadline = Instant::now() + Duration::from_secs(60);
        while !poller.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        let Some(first) = poller.join().ok().flatten() else {
            bail!("the restarted pieces host served nothing through Traefik within 60 s");
        };
        served.push(first - spawned);
        eprintln!(
            "    cycle {cycle}: out of the pool {:.2?} after the kill; first request served through Traefik {:.2?} after the start",
            removed[cycle - 1],
            served[cycle - 1]
        );
    }
    Ok(Discovery {
        removal: median(removed.clone()),
        removal_max: removed.iter().copied().max().unwrap_or_default(),
        first_served: median(served.clone()),
        first_served_max: served.iter().copied().max().unwrap_or_default(),
        host_start: median(host_start),
        cycles: DISCOVERY_CYCLES,
    })
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
