//! The sidecar: keeps Consul's catalog in step with the host instances that
//! run, so that Traefik (which reads Consul) routes to exactly those.
//!
//! ```text
//! sidecar --consul 127.0.0.1:8500 --manifest spin.toml \
//!     --instance stock=127.0.0.1:8002 --instance stock=127.0.0.1:8012 \
//!     --health stock=/api/stock/health/
//! ```
//!
//! Each instance becomes a Consul service (name = component id) with an
//! HTTP health check on its health route and the Traefik tags built from
//! the component's `spin.toml` routes. The sidecar re-registers whatever
//! Consul forgot (a restarted dev agent keeps nothing) and deregisters
//! everything on SIGTERM/SIGINT. With Consul's ACLs on, it presents the
//! token in `CONSUL_HTTP_TOKEN` (the variable Consul's own CLI reads).
//!
//! It also runs the periodic work Spin components cannot schedule
//! themselves: `--job 1=http://127.0.0.1:8002/api/stock/internal/outbox/flush/`
//! POSTs there every second with the service credential
//! (`SPIN_VARIABLE_INTERNAL_SECRET`). With `--metrics 127.0.0.1:9102` it
//! serves what it sees (each job's backlog, Consul's reachability) to
//! Prometheus.

mod consul;
mod jobs;
mod metrics;
mod registration;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::consul::Consul;
use crate::jobs::Job;
use crate::metrics::Gauges;
use crate::registration::{Instance, Registration};

/// How often the catalog is compared with what should be there.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);

struct Args {
    consul: String,
    manifest: PathBuf,
    instances: Vec<Instance>,
    health: BTreeMap<String, String>,
    expose_prefix: String,
    jobs: Vec<Job>,
    metrics: Option<String>,
}

fn main() -> std::process::ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let manifest = manifest::Manifest::load(&args.manifest)?;
    let registrations = args
        .instances
        .iter()
        .map(|instance| {
            let health = args
                .health
                .get(&instance.component)
                .map_or(registration::HOST_HEALTH, String::as_str);
            Registration::new(&manifest, instance, health, &args.expose_prefix)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone()).context("cannot watch signals")?;
    }
    let token = std::env::var("CONSUL_HTTP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let consul = Consul::new(&args.consul, token);
    let gauges = Arc::new(Gauges::default());
    if let Some(address) = &args.metrics {
        metrics::serve(address, gauges.clone())?;
    }
    let mut consul_was_down = false;
    let mut jobs = args.jobs;
    let secret = std::env::var("SPIN_VARIABLE_INTERNAL_SECRET").unwrap_or_default();
    while !stop.load(Ordering::Relaxed) {
        for job in &mut jobs {
            job.run_if_due(&secret, &gauges);
        }
        let reconciled = reconcile(&consul, &registrations);
        gauges.consul(reconciled.is_ok());
        match reconciled {
            Ok(()) if consul_was_down => {
                logline::info(&format!("consul at {} is back", args.consul), &[]);
                consul_was_down = false;
            }
            Ok(()) => {}
            Err(e) if !consul_was_down => {
                logline::warn(
                    &format!("consul unreachable ({e:#}); retrying every {RECONCILE_EVERY:?}"),
                    &[],
                );
                consul_was_down = true;
            }
            Err(_) => {}
        }
        sleep_unless_stopped(&stop, RECONCILE_EVERY);
    }
    for registration in &registrations {
        match consul.deregister(&registration.id) {
            Ok(()) => logline::info(&format!("deregistered {}", registration.id), &[]),
            Err(e) => logline::warn(
                &format!("could not deregister {}: {e:#}", registration.id),
                &[],
            ),
        }
    }
    Ok(())
}

/// Registers every instance Consul does not list.
fn reconcile(consul: &Consul, registrations: &[Registration]) -> anyhow::Result<()> {
    let known = consul.service_ids()?;
    for registration in registrations.iter().filter(|r| !known.contains(&r.id)) {
        consul.register(&registration.body)?;
        logline::info(
            &format!("registered {} ({})", registration.id, registration.address),
            &[],
        );
    }
    Ok(())
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut parsed = Args {
        consul: "127.0.0.1:8500".into(),
        manifest: "spin.toml".into(),
        instances: Vec::new(),
        health: BTreeMap::new(),
        expose_prefix: "/api/".into(),
        jobs: Vec::new(),
        metrics: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--consul" => parsed.consul = value()?,
            "--manifest" => parsed.manifest = value()?.into(),
            "--expose-prefix" => parsed.expose_prefix = value()?,
            "--instance" => parsed.instances.push(value()?.parse()?),
            "--job" => parsed.jobs.push(value()?.parse()?),
            "--metrics" => parsed.metrics = Some(value()?),
            "--health" => {
                let spec = value()?;
                let (component, path) = spec
                    .split_once('=')
                    .with_context(|| format!("--health {spec}: expected COMPONENT=/path"))?;
                parsed.health.insert(component.into(), path.into());
            }
            other => bail!("unknown argument `{other}` (see the header of sidecar/src/main.rs)"),
        }
    }
    if parsed.instances.is_empty() {
        bail!("no --instance COMPONENT=ADDRESS:PORT given: nothing to register");
    }
    Ok(parsed)
}
