//! The run's report: `bench/results/<date>.md` (every figure), `<date>.json`
//! (the plot's data), `<date>-latency.png` (the plot), and the summary
//! between the results markers of `bench/README.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use xtask::{cmd, components};

use super::{
    CATALOGUE_CONNECTIONS, CONNECTIONS, Comparison, INITIAL_LEVEL, Results, Round, apt_install,
};

/// The plot's font, pinned in `deploy/versions.toml` (`[plot-font]`),
/// installed from Debian when its file is missing.
pub fn ensure_font(root: &Path) -> Result<PathBuf> {
    #[derive(serde::Deserialize)]
    struct FontPin {
        debian_package: String,
        debian_version: String,
        file: PathBuf,
    }
    let pin: FontPin = super::pin(root, "plot-font")?;
    cmd::announce(&format!(
        "font of the plot ({} {})",
        pin.debian_package, pin.debian_version
    ));
    if !pin.file.exists() {
        apt_install(&pin.debian_package, Some(&pin.debian_version))?;
    }
    Ok(pin.file)
}

/// A goal and whether a figure meets it.
struct Check {
    what: String,
    goal: String,
    result: String,
    met: Option<bool>,
}

impl Check {
    fn new(what: &str, goal: &str, result: String, met: Option<bool>) -> Self {
        Self {
            what: what.to_owned(),
            goal: goal.to_owned(),
            result,
            met,
        }
    }
}

fn checks(r: &Results) -> Vec<Check> {
    let mut checks = Vec::new();
    let ratio_row = |what: &str, goal: Option<f64>, c: &Comparison| {
        Check::new(
            what,
            &goal.map_or("(reported)".to_owned(), |g| format!(">= {g}")),
            format!(
                "**{:.2}** ({:.0} vs {:.0} req/s)",
                c.ratio(),
                c.measured.requests_per_second,
                c.reference.requests_per_second
            ),
            goal.map(|g| c.ratio() >= g),
        )
    };
    checks.push(ratio_row(
        "host/native, GET /api/pieces/{id}/",
        Some(0.5),
        &r.get,
    ));
    checks.push(ratio_row(
        "host/native, POST /api/stock/movement/",
        None,
        &r.post,
    ));
    for c in r.spin.iter().flatten() {
        let movement = c.name.starts_with("POST");
        let goal = match (movement, c.connections) {
            (true, 8) => Some(3.0),
            (false, 8) => Some(1.0),
            _ => None,
        };
        let mut row = ratio_row(
            &format!(
                "host/spin, {}, {} connection(s)",
                if movement {
                    "POST a movement"
                } else {
                    "GET a piece"
                },
                c.connections
            ),
            goal,
            c,
        );
        if c.reference.status_errors > 0 {
            row.result.push_str(&format!(
                "; Spin answered {} of {} with an error",
                c.reference.status_errors, c.reference.requests
            ));
        }
        checks.push(row);
    }
    let edge = &r.edge.comparison;
    checks.push(ratio_row("traefik/direct, GET a piece", Some(0.6), edge));
    let one = &r.edge.latency;
    let added = one.measured.p50_ms - one.reference.p50_ms;
    checks.push(Check::new(
        "p50 added by Traefik (1 connection)",
        "<= 0.5 ms",
        format!(
            "**{added:.2} ms** ({:.2} vs {:.2} ms; at {CONNECTIONS} connections {:.2} ms)",
            one.measured.p50_ms,
            one.reference.p50_ms,
            edge.measured.p50_ms - edge.reference.p50_ms
        ),
        Some(added <= 0.5),
    ));
    for m in &r.movements {
        let ratio = m.host.requests_per_second / m.raw.requests_per_second;
        checks.push(Check::new(
            &format!(
                "OUT movements, host/raw loop, concurrency {}",
                m.connections
            ),
            ">= 0.3",
            format!(
                "**{ratio:.2}** ({:.0} vs {:.0} movements/s)",
                m.host.requests_per_second, m.raw.requests_per_second
            ),
            Some(ratio >= 0.3),
        ));
    }
    if let Some(m) = r.movements.iter().find(|m| m.connections == 50) {
        checks.push(Check::new(
            "OUT movements, host p99 at concurrency 50",
            "< 20 ms",
            format!("**{:.1} ms**", m.host.p99_ms),
            Some(m.host.p99_ms < 20.0),
        ));
    }
    for c in &r.catalogue {
        checks.push(Check::new(
            &format!("catalogue of 100,000 pieces, {}: p95", c.name),
            "< 50 ms",
            format!(
                "**{:.1} ms** alone ({:.1} ms with {CATALOGUE_CONNECTIONS} connections)",
                c.alone.p95_ms, c.shared.p95_ms
            ),
            Some(c.alone.p95_ms < 50.0),
        ));
    }
    for c in &r.stock {
        checks.push(Check::new(
            &format!(
                "stock of 100,000 pieces in {} bins, {}: p95",
                super::locations::BINS,
                c.name
            ),
            "< 50 ms",
            format!(
                "**{:.1} ms** alone ({:.1} ms with {CATALOGUE_CONNECTIONS} connections)",
                c.alone.p95_ms, c.shared.p95_ms
            ),
            Some(c.alone.p95_ms < 50.0),
        ));
    }
    if let Some(slowest) = r.stocktakes.iter().max() {
        let mut sorted = r.stocktakes.clone();
        sorted.sort();
        checks.push(Check::new(
            &format!(
                "stocktake of {} lines, validation",
                super::locations::LINES_PER_COUNT
            ),
            "< 5 s",
            format!(
                "**{:.2} s** at most ({} stocktakes, median {:.2} s)",
                slowest.as_secs_f64(),
                sorted.len(),
                sorted[sorted.len() / 2].as_secs_f64()
            ),
            Some(slowest.as_secs_f64() < 5.0),
        ));
    }
    for report in &r.reports {
        checks.push(Check::new(
            &format!(
                "`{}` over {} movements of {} pieces",
                report.path.trim_start_matches("/api/stock/reports/"),
                super::reports::MOVEMENTS,
                super::reports::PIECES
            ),
            "< 1 s",
            format!(
                "**{:.0} ms** (median of {}, max {:.0} ms)",
                report.median.as_secs_f64() * 1000.0,
                super::catalogue::SINGLE_TIMES,
                report.max.as_secs_f64() * 1000.0
            ),
            Some(report.max.as_secs_f64() < 1.0),
        ));
    }
    let d = &r.edge.discovery;
    let discovery = |name: &str, goal_secs: u64, median: Duration, max: Duration| {
        Check::new(
            name,
            &format!("< {goal_secs} s"),
            format!(
                "**{:.1} s** (median of {}, max {:.1} s)",
                median.as_secs_f64(),
                d.cycles,
                max.as_secs_f64()
            ),
            Some(max < Duration::from_secs(goal_secs)),
        )
    };
    checks.push(discovery(
        "discovery: host start to its first request served through Traefik",
        5,
        d.first_served,
        d.first_served_max,
    ));
    checks.push(discovery(
        "discovery: kill to removal from Traefik's pool",
        10,
        d.removal,
        d.removal_max,
    ));
    let adds: Vec<String> = r
        .costs
        .ladder
        .windows(2)
        .take(3)
        .map(|pair| {
            format!(
                "{}: **{:.0} µs** ({} CPU)",
                pair[1].adds,
                (pair[1].round.p50_ms - pair[0].round.p50_ms) * 1000.0,
                cpu_difference(&pair[1].round, &pair[0].round)
            )
        })
        .collect();
    checks.push(Check::new(
        "cost per request, p50 latency at 1 connection (host CPU)",
        "(reported)",
        adds.join("; "),
        None,
    ));
    let starts: Vec<String> = r
        .costs
        .host_start
        .iter()
        .map(|(name, start)| format!("{name} {:.2} s", start.as_secs_f64()))
        .collect();
    checks.push(Check::new(
        "cost per request: host start (spawn to serving, release)",
        "(reported)",
        format!("**{}**", starts.join(", ")),
        None,
    ));
    let hosts: Vec<String> = r
        .costs
        .memory
        .iter()
        .filter(|(name, ..)| name.starts_with("host:"))
        .map(|(name, _, now, _)| format!("{} {now:.0} MiB", &name["host:".len()..]))
        .collect();
    checks.push(Check::new(
        "cost per request: RSS per host after the load",
        "(reported)",
        format!("**{}**", hosts.join(", ")),
        None,
    ));
    checks
}

fn cpu_difference(measured: &Round, reference: &Round) -> String {
    match (measured.cpu_us_per_request, reference.cpu_us_per_request) {
        (Some(m), Some(r)) => format!("{:.0} µs", m - r),
        _ => "unknown".to_owned(),
    }
}

fn summary_table(checks: &[Check]) -> String {
    let mut table = String::from("| check | goal | result | met |\n|---|---|---|---|\n");
    for c in checks {
        let met = match c.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(table, "| {} | {} | {} | {met} |", c.what, c.goal, c.result);
    }
    table
}

fn latencies(round: &Round) -> String {
    format!(
        "{:.2} / {:.2} / {:.2}",
        round.p50_ms, round.p95_ms, round.p99_ms
    )
}

fn cpu(round: &Round) -> String {
    round
        .cpu_us_per_request
        .map_or("–".to_owned(), |us| format!("{us:.0}"))
}

fn comparison_table(comparisons: &[&Comparison]) -> String {
    let mut table = String::from(
        "| scenario | connections | measured | req/s | reference | req/s | **ratio** | measured p50 / p95 / p99 (ms) | reference p50 / p95 / p99 (ms) | CPU µs per request, measured / reference |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in comparisons {
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.0} | {} | {:.0} | **{:.2}** | {} | {} | {} / {} |",
            c.name,
            c.connections,
            c.measured_name,
            c.measured.requests_per_second,
            c.reference_name,
            c.reference.requests_per_second,
            c.ratio(),
            latencies(&c.measured),
            latencies(&c.reference),
            cpu(&c.measured),
            cpu(&c.reference),
        );
    }
    table
}

fn details(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Host and native baseline\n\n{}",
        comparison_table(&[&r.get, &r.post])
    );
    let _ = writeln!(
        out,
        "The host runs one process per component (pieces, stock), the baseline likewise; both on the same SQLite files. CPU is the serving processes' user + system time per request (stock and pieces together for the movement).\n"
    );
    if let Some(spin) = &r.spin {
        let _ = writeln!(
            out,
            "## Host and real Spin\n\n{}\nThe same `spin.toml`, `runtime-config.toml` and `.wasm`, each runtime serving the whole app on one listener from a directory of its own (fresh databases), secrets in the environment, services chained in process: `spin up` (the Spin CLI this machine has) against `target/release/host up`, each with its own SQLite defaults (Spin: rollback journal; our host: WAL, `synchronous=FULL`, writer turns). CPU is the serving process's.\n",
            comparison_table(&spin.iter().collect::<Vec<_>>())
        );
    }
    let _ = writeln!(
        out,
        "## Movement throughput\n\nOUT movements of 1 on one piece (level set to {INITIAL_LEVEL} first). The raw loop runs stock's movement statement (`INSERT INTO ledger ... SELECT ... FROM levels`, its triggers included) on its own connections, nothing else.\n\n| concurrency | host movements/s | native movements/s | raw loop movements/s | **host/raw** | native/raw | host p50 / p95 / p99 (ms) | native p50 / p95 / p99 (ms) | raw p50 / p95 / p99 (ms) |\n|---|---|---|---|---|---|---|---|---|"
    );
    for m in &r.movements {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} | **{:.2}** | {:.2} | {} | {} | {} |",
            m.connections,
            m.host.requests_per_second,
            m.native.requests_per_second,
            m.raw.requests_per_second,
            m.host.requests_per_second / m.raw.requests_per_second,
            m.native.requests_per_second / m.raw.requests_per_second,
            latencies(&m.host),
            latencies(&m.native),
            latencies(&m.raw),
        );
    }
    let _ = writeln!(
        out,
        "\n## Traefik and direct\n\n{}\nThe stack of `xtask::stack` on free ports (Consul, Traefik, one host per component, sidecar), started in {:.1} s; its hosts are the release build (`target/release/host`), the sidecar the debug one.\n",
        comparison_table(&[&r.edge.comparison, &r.edge.latency]),
        r.edge.stack_start.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "## Catalogue at 100,000 pieces\n\nImported as 10 CSV files of 10,000 rows (`POST /api/pieces/import/`): {}, {:.1} s in all. Then, on the host, one connection (a user alone) and {CATALOGUE_CONNECTIONS} (a few at once):\n\n| request | connections | req/s | p50 (ms) | **p95 (ms)** | p99 (ms) |\n|---|---|---|---|---|---|",
        r.import
            .iter()
            .map(|d| format!("{:.1}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" / ")
            + " s",
        r.import.iter().sum::<Duration>().as_secs_f64()
    );
    for c in &r.catalogue {
        for (connections, round) in [(1, &c.alone), (CATALOGUE_CONNECTIONS, &c.shared)] {
            let _ = writeln!(
                out,
                "| {} | {connections} | {:.0} | {:.2} | **{:.2}** | {:.2} |",
                c.name, round.requests_per_second, round.p50_ms, round.p95_ms, round.p99_ms
            );
        }
    }
    let _ = writeln!(
        out,
        "\nEach request alone, {} times in a row on one connection:\n\n| request | matching pieces | median (ms) | max (ms) |\n|---|---|---|---|",
        super::catalogue::SINGLE_TIMES
    );
    for single in &r.single {
        let _ = writeln!(
            out,
            "| `{}` | {} | {:.1} | {:.1} |",
            single.path,
            single.matches,
            single.median.as_secs_f64() * 1000.0,
            single.max.as_secs_f64() * 1000.0
        );
    }
    let _ = writeln!(
        out,
        "\n## Stock of 100,000 pieces in {} bins\n\nEach bin counted once ({} stocktakes of {} lines, each imported as CSV then validated: one statement writes its {} adjustments); validations took {} s. Then, on the stock host:\n\n| request | connections | req/s | p50 (ms) | **p95 (ms)** | p99 (ms) |\n|---|---|---|---|---|---|",
        super::locations::BINS,
        super::locations::BINS,
        super::locations::LINES_PER_COUNT,
        super::locations::LINES_PER_COUNT,
        r.stocktakes
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    for c in &r.stock {
        for (connections, round) in [(1, &c.alone), (CATALOGUE_CONNECTIONS, &c.shared)] {
            let _ = writeln!(
                out,
                "| {} | {connections} | {:.0} | {:.2} | **{:.2}** | {:.2} |",
                c.name, round.requests_per_second, round.p50_ms, round.p95_ms, round.p99_ms
            );
        }
    }
    let _ = writeln!(out);
    let d = &r.edge.discovery;
    let _ = writeln!(
        out,
        "## Discovery\n\nThe pieces host of the stack killed (SIGKILL) then started again, {} times; Traefik's API polled every 20 ms for its pool, its entry point every 20 ms for the first answer.\n\n| | median | max | goal |\n|---|---|---|---|\n| start to first request served through Traefik | {:.2} s | {:.2} s | < 5 s |\n| kill to removal from the pool | {:.2} s | {:.2} s | < 10 s |\n| start to the host's health (release build) | {:.2} s | | |\n",
        d.cycles,
        d.first_served.as_secs_f64(),
        d.first_served_max.as_secs_f64(),
        d.removal.as_secs_f64(),
        d.removal_max.as_secs_f64(),
        d.host_start.as_secs_f64(),
    );
    let _ = writeln!(
        out,
        "## Cost per request\n\nWhere a GET's time goes on the host: one connection, each request doing one step more than the one above it (alternating rounds, medians).\n\n| request | p50 (ms) | p99 (ms) | CPU µs per request | adds | added p50 (µs) | added CPU (µs) |\n|---|---|---|---|---|---|---|"
    );
    for (index, step) in r.costs.ladder.iter().enumerate() {
        let (added, added_cpu) = match index.checked_sub(1).map(|i| &r.costs.ladder[i]) {
            Some(previous) => (
                format!(
                    "{:.0}",
                    (step.round.p50_ms - previous.round.p50_ms) * 1000.0
                ),
                cpu_difference(&step.round, &previous.round),
            ),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | {} | {} | {added} | {} |",
            step.name,
            step.round.p50_ms,
            step.round.p99_ms,
            cpu(&step.round),
            step.adds,
            added_cpu.trim_end_matches(" µs"),
        );
    }
    let _ = writeln!(
        out,
        "\n| process | RSS after start (MiB) | RSS after the load (MiB) | peak RSS (MiB) |\n|---|---|---|---|"
    );
    for (name, start, now, peak) in &r.costs.memory {
        let start = if start.is_nan() {
            "".to_owned()
        } else {
            format!("{start:.1}")
        };
        let _ = writeln!(out, "| {name} | {start} | {now:.1} | {peak:.1} |");
    }
    let starts: Vec<String> = r
        .costs
        .host_start
        .iter()
        .map(|(name, start)| format!("{name} {:.2} s", start.as_secs_f64()))
        .collect();
    let _ = writeln!(
        out,
        "\nHost start, spawn to `/.well-known/spin/health` answering (release build, components compiled at start): {}.",
        starts.join(", ")
    );
    out
}

fn conditions(r: &Results) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{rounds} alternating rounds per side after a warm-up (median kept; {secs} s each, movements, catalogue and Traefik at one connection {short} s, the GET ladder {ladder} s), `wrk -t1`, {CONNECTIONS} connections unless said, loopback, {cores} cores (load average {load} at the end); release builds of the host and the baseline; components from `spin.toml` (wasm32-wasip2). The run took {total:.0} s, {waited:.0} s of it waiting for other builds to end.",
        rounds = super::ROUNDS,
        secs = super::ROUND_SECONDS,
        short = super::SHORT_ROUND_SECONDS,
        ladder = super::LADDER_ROUND_SECONDS,
        total = r.elapsed.as_secs_f64(),
        waited = r.waited.as_secs_f64(),
    )
}

fn plot_data(r: &Results, date: &str) -> serde_json::Value {
    let latency = |round: &Round| json!({"p50": round.p50_ms, "p99": round.p99_ms});
    let mut rows = vec![
        json!({"label": format!("GET /api/pieces/{{id}}/ ({CONNECTIONS} conn.)"), "measured_name": "host", "measured": latency(&r.get.measured), "reference_name": "native", "reference": latency(&r.get.reference)}),
        json!({"label": format!("POST /api/stock/movement/ ({CONNECTIONS} conn.)"), "measured_name": "host", "measured": latency(&r.post.measured), "reference_name": "native", "reference": latency(&r.post.reference)}),
    ];
    for m in &r.movements {
        rows.push(json!({"label": format!("OUT movements, {} conn.", m.connections), "measured_name": "host", "measured": latency(&m.host), "reference_name": "raw rusqlite loop", "reference": latency(&m.raw)}));
    }
    let e = &r.edge.latency;
    rows.push(json!({"label": "GET a piece, Traefik vs direct (1 conn.)", "measured_name": "through Traefik", "measured": latency(&e.measured), "reference_name": "direct", "reference": latency(&e.reference)}));
    for (what, list) in [("catalogue", &r.catalogue), ("stock", &r.stock)] {
        for c in list {
            rows.push(json!({"label": format!("{what}, 100,000 pieces: {}", c.name), "measured_name": format!("{CATALOGUE_CONNECTIONS} conn."), "measured": latency(&c.shared), "reference_name": "1 conn.", "reference": latency(&c.alone)}));
        }
    }
    if let [host_only, nothing, ..] = r.costs.ladder.as_slice() {
        rows.push(json!({"label": "a do-nothing component route vs the host's own health route (1 conn.)", "measured_name": "component", "measured": latency(&nothing.round), "reference_name": "host only", "reference": latency(&host_only.round)}));
    }
    json!({"title": format!("Latency per scenario, run of {date} (p50 dark, p99 light)"), "rows": rows})
}

pub fn write(root: &Path, r: &Results, font: &Path) -> Result<()> {
    let date = today()?;
    let results = root.join("bench/results");
    std::fs::create_dir_all(&results)?;
    let plot_json = results.join(format!("{date}.json"));
    let plot_png = results.join(format!("{date}-latency.png"));
    std::fs::write(
        &plot_json,
        serde_json::to_string_pretty(&plot_data(r, &date))?,
    )?;
    cmd::step(
        "plot the latencies",
        Command::new(components::release_binary(root, "plot"))
            .arg(&plot_json)
            .arg(&plot_png)
            .arg(font),
    )?;

    let mut headline = format!("host/native = {:.2}", r.get.ratio());
    for c in r.spin.iter().flatten().filter(|c| c.connections == 8) {
        let what = if c.name.starts_with("POST") {
            "movement"
        } else {
            "GET"
        };
        headline.push_str(&format!(
            "\n\nhost/spin ({what}, 8 connections) = {:.2}",
            c.ratio()
        ));
    }
    let checks = checks(r);
    let summary = summary_table(&checks);
    let conditions = conditions(r);
    let report = format!(
        "# Benchmark run of {date}\n\n{headline}\n\n## Summary\n\n{summary}\n![Latency per scenario](./{date}-latency.png)\n\n{}\n## Conditions\n\n{conditions}\n",
        details(r)
    );
    std::fs::write(results.join(format!("{date}.md")), &report)?;

    let readme_path = root.join("bench/README.md");
    let readme = std::fs::read_to_string(&readme_path).context("bench/README.md")?;
    let (begin, end) = ("<!-- results:begin -->", "<!-- results:end -->");
    let (Some(start), Some(stop)) = (readme.find(begin), readme.find(end)) else {
        bail!("bench/README.md lacks the {begin} ... {end} markers");
    };
    let section = format!(
        "{begin}\nLast run: [{date}](results/{date}.md), latency plot [{date}-latency.png](results/{date}-latency.png).\n\n{headline}\n\n{summary}\n![Latency per scenario](results/{date}-latency.png)\n\n{conditions}\n"
    );
    let updated = format!("{}{section}{}", &readme[..start], &readme[stop..]);
    std::fs::write(&readme_path, updated)?;
    println!("{report}");
    Ok(())
}

fn today() -> Result<String> {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d"]).output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
