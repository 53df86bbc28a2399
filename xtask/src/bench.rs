//! `cargo xtask bench`: the host against a native baseline doing the same
//! work, side by side in one run on loopback, reported as ratios (absolute
//! figures move with the machine; ratios measured together do not).
//!
//! Each scenario alternates its two servers round by round under the same
//! `wrk` load, so that a noisy neighbour hits both alike; the median round
//! of each side is kept.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use xtask::process::{Child, Log};
use xtask::secrets::Secrets;
use xtask::{cmd, components, stack};

const ROUNDS: usize = 3;
const ROUND_SECONDS: u32 = 5;
const CONNECTIONS: u32 = 8;

/// One `wrk` round.
#[derive(Debug, Clone, Copy)]
struct Round {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Scenario {
    name: &'static str,
    goal: &'static str,
    host: Round,
    native: Round,
}

pub fn run(root: &Path) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    let wrk = ensure_wrk(root)?;
    components::build_components(root)?;
    cmd::step(
        "build the host and the baseline (release)",
        cmd::cargo(root).args(["build", "--release", "-p", "host", "-p", "bench"]),
    )?;
    let scratch = tempfile::tempdir()?;
    let secrets = Secrets::load_or_create(&scratch.path().join("secrets"))?;
    let log = Log::new(false);

    let host_port = free_port()?;
    let native_port = free_port()?;
    let host = start_host(root, scratch.path(), host_port, &secrets, &log)?;
    let native = start_baseline(root, scratch.path(), native_port, &log)?;
    let host_url = format!("http://127.0.0.1:{host_port}/api/stock/health/");
    let native_url = format!("http://127.0.0.1:{native_port}/api/baseline/health/");
    for url in [&host_url, &native_url] {
        wait_for(url)?;
    }
    let (host_round, native_round) = alternate(&wrk, &host_url, &native_url)?;
    drop((host, native));

    let scenarios = [Scenario {
        name: "GET health (SQLite schema check + SELECT 1, JSON)",
        goal: ">= 0.5",
        host: host_round,
        native: native_round,
    }];
    write_report(root, &scenarios)
}

fn alternate(wrk: &Path, host_url: &str, native_url: &str) -> Result<(Round, Round)> {
    let mut host = Vec::new();
    let mut native = Vec::new();
    // A warm-up round each: caches, pools, CPU frequency.
    load(wrk, host_url, 2)?;
    load(wrk, native_url, 2)?;
    for round in 1..=ROUNDS {
        cmd::announce(&format!("round {round}/{ROUNDS}"));
        host.push(load(wrk, host_url, ROUND_SECONDS)?);
        native.push(load(wrk, native_url, ROUND_SECONDS)?);
        eprintln!(
            "    host {:.0} req/s, native {:.0} req/s",
            host[round - 1].requests_per_second,
            native[round - 1].requests_per_second
        );
    }
    Ok((median(host), median(native)))
}

fn median(mut rounds: Vec<Round>) -> Round {
    rounds.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    rounds[rounds.len() / 2]
}

fn load(wrk: &Path, url: &str, seconds: u32) -> Result<Round> {
    let output = Command::new(wrk)
        .args(["--latency", "-t1"])
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg(url)
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || text.contains("Non-2xx") {
        bail!("wrk on {url} failed or saw errors:\n{text}");
    }
    parse_wrk(&text).with_context(|| format!("cannot read wrk's report:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<Round> {
    let field = |prefix: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(prefix)
                .map(|rest| rest.trim().to_owned())
        })
    };
    Some(Round {
        requests_per_second: field("Requests/sec:")?.parse().ok()?,
        p50_ms: millis(&field("50%")?)?,
        p99_ms: millis(&field("99%")?)?,
    })
}

/// `wrk` prints latencies as `812.00us`, `1.25ms` or `2.01s`.
fn millis(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let number: f64 = value[..split].parse().ok()?;
    match &value[split..] {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        _ => None,
    }
}

fn start_host(
    root: &Path,
    scratch: &Path,
    port: u16,
    secrets: &Secrets,
    log: &Log,
) -> Result<Child> {
    let runtime_config = scratch.join("runtime-config.toml");
    std::fs::write(
        &runtime_config,
        format!(
            "[sqlite_database.stock]\ntype = \"spin\"\npath = \"{}\"\n",
            scratch.join("stock.db").display()
        ),
    )?;
    let mut command = Command::new(components::release_binary(root, "host"));
    command
        .current_dir(root)
        .args(["up", "-f", "spin.toml", "--component-id", "stock"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--runtime-config-file")
        .arg(&runtime_config)
        .envs(secrets.env());
    Child::spawn("host", command, log)
}

fn start_baseline(root: &Path, scratch: &Path, port: u16, log: &Log) -> Result<Child> {
    let mut command = Command::new(components::release_binary(root, "baseline"));
    command
        .arg(format!("127.0.0.1:{port}"))
        .arg(scratch.join("baseline.db"));
    Child::spawn("baseline", command, log)
}

fn wait_for(url: &str) -> Result<()> {
    for _ in 0..300 {
        if stack::get(url).is_ok_and(|(status, _)| status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{url} did not answer 200 within 30 s")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `wrk` at the pinned version, from Debian, installed once.
fn ensure_wrk(root: &Path) -> Result<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Versions {
        wrk: Pin,
    }
    #[derive(serde::Deserialize)]
    struct Pin {
        debian_package: String,
        debian_version: String,
    }
    let path = root.join("deploy/versions.toml");
    let versions: Versions = toml::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let pin = versions.wrk;
    cmd::announce(&format!("wrk {}", pin.debian_version));
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", &pin.debian_package])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout) == pin.debian_version
        });
    if !installed {
        cmd::step(
            "apt-get update",
            Command::new("apt-get").args(["-q", "update"]),
        )?;
        cmd::step(
            &format!(
                "apt-get install {}={}",
                pin.debian_package, pin.debian_version
            ),
            Command::new("apt-get").args([
                "-q",
                "-y",
                "install",
                &format!("{}={}", pin.debian_package, pin.debian_version),
            ]),
        )?;
    }
    Ok(PathBuf::from("/usr/bin/wrk"))
}

fn write_report(root: &Path, scenarios: &[Scenario]) -> Result<()> {
    let date = today()?;
    let mut table = String::from(
        "| scenario | host req/s | native req/s | **host/native** | goal | host p50 / p99 (ms) | native p50 / p99 (ms) |\n|---|---|---|---|---|---|---|\n",
    );
    for s in scenarios {
        table.push_str(&format!(
            "| {} | {:.0} | {:.0} | **{:.2}** | {} | {:.2} / {:.2} | {:.2} / {:.2} |\n",
            s.name,
            s.host.requests_per_second,
            s.native.requests_per_second,
            s.host.requests_per_second / s.native.requests_per_second,
            s.goal,
            s.host.p50_ms,
            s.host.p99_ms,
            s.native.p50_ms,
            s.native.p99_ms,
        ));
    }
    let headline = scenarios
        .first()
        .map(|s| {
            format!(
                "host/native = {:.2}",
                s.host.requests_per_second / s.native.requests_per_second
            )
        })
        .unwrap_or_default();
    let conditions = format!(
        "{ROUNDS} alternating rounds of {ROUND_SECONDS} s per side (median kept), `wrk -t1 -c{CONNECTIONS} --latency`, loopback, {} cores; release builds; components from `spin.toml`.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let result = format!("# Benchmark run of {date}\n\n{headline}\n\n{table}\n{conditions}\n");
    let results = root.join("bench/results");
    std::fs::create_dir_all(&results)?;
    std::fs::write(results.join(format!("{date}.md")), &result)?;

    let readme_path = root.join("bench/README.md");
    let readme = std::fs::read_to_string(&readme_path).context("bench/README.md")?;
    let (begin, end) = ("<!-- results:begin -->", "<!-- results:end -->");
    let (Some(start), Some(stop)) = (readme.find(begin), readme.find(end)) else {
        bail!("bench/README.md lacks the {begin} ... {end} markers");
    };
    let summary = format!(
        "{begin}\nLast run: [{date}](results/{date}.md).\n\n{headline}\n\n{table}\n{conditions}\n"
    );
    let updated = format!("{}{summary}{}", &readme[..start], &readme[stop..]);
    std::fs::write(&readme_path, updated)?;
    println!("{result}");
    Ok(())
}

fn today() -> Result<String> {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d"]).output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_report() {
        let report = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 8 connections\n  Latency Distribution\n     50%  812.00us\n     75%    1.01ms\n     90%    1.50ms\n     99%    3.20ms\n  10000 requests in 5.00s, 1.00MB read\nRequests/sec:   2000.50\nTransfer/sec:    200.00KB\n";
        let round = parse_wrk(report).unwrap();
        assert_eq!(round.requests_per_second, 2000.5);
        assert!((round.p50_ms - 0.812).abs() < 1e-9);
        assert_eq!(round.p99_ms, 3.2);
        assert_eq!(millis("2.5s"), Some(2500.0));
    }
}
