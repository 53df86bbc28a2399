//! The load generator: Debian's `wrk` at its pinned version, driven by a Lua
//! script the bench writes per scenario (method, paths, headers, body) whose
//! `done` hook prints one `BENCH` line: requests, duration, errors and the
//! p50/p95/p99 latencies wrk recorded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

use xtask::cmd;

use super::Round;

/// One kind of request, sent over and over (`paths` in turn).
pub struct Request {
    pub method: &'static str,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub paths: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Answers of 400 and above are expected (a route that answers 404).
    pub errors_expected: bool,
}

impl Request {
    pub fn get(base: &str, path: &str, token: Option<&str>) -> Self {
        Self {
            method: "GET",
            base: base.to_owned(),
            paths: vec![path.to_owned()],
            headers: token
                .map(|t| vec![("Authorization".to_owned(), format!("Bearer {t}"))])
                .unwrap_or_default(),
            body: None,
            errors_expected: false,
        }
    }

    pub fn post_json(base: &str, path: &str, token: &str, body: &str) -> Self {
        Self {
            method: "POST",
            base: base.to_owned(),
            paths: vec![path.to_owned()],
            headers: vec![
                ("Authorization".to_owned(), format!("Bearer {token}")),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ],
            body: Some(body.to_owned()),
            errors_expected: false,
        }
    }
}

/// `wrk` and the directory its scripts go to.
pub struct Wrk {
    binary: PathBuf,
    scripts: PathBuf,
    written: AtomicUsize,
}

impl Wrk {
    /// One `wrk -t1 -cN -dS` run of `request`.
    pub fn run(&self, request: &Request, connections: u32, seconds: u32) -> Result<Round> {
        let script = self.script(request)?;
        let url = format!("{}{}", request.base, request.paths[0]);
        let output = Command::new(&self.binary)
            .args(["-t1", "--timeout", "10s"])
            .arg(format!("-c{connections}"))
            .arg(format!("-d{seconds}s"))
            .arg("-s")
            .arg(&script)
            .arg(&url)
            .output()
            .context("cannot run wrk")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk on {url} failed ({}):\n{text}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let round = parse_bench_line(&text).with_context(|| {
            format!(
                "cannot read wrk's report:\n{text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
        if round.errors > 0 || (round.status_errors > 0 && !request.errors_expected) {
            bail!(
                "{} {url}: {} socket errors, {} answers >= 400 out of {}",
                request.method,
                round.errors,
                round.status_errors,
                round.requests
            );
        }
        Ok(round)
    }

    fn script(&self, request: &Request) -> Result<PathBuf> {
        let index = self.written.fetch_add(1, Ordering::Relaxed);
        let path = self.scripts.join(format!("request-{index}.lua"));
        std::fs::write(&path, lua(request)).with_context(|| format!("{}", path.display()))?;
        Ok(path)
    }
}

/// The script: a fixed request (or the paths in turn) and the report hook.
fn lua(request: &Request) -> String {
    let quote = |text: &str| format!("[==[{text}]==]");
    let headers: Vec<String> = request
        .headers
        .iter()
        .map(|(name, value)| format!("[ {} ] = {}", quote(name), quote(value)))
        .collect();
    let paths: Vec<String> = request.paths.iter().map(|p| quote(p)).collect();
    let body = request.body.as_deref().map_or("nil".to_owned(), quote);
    format!(
        r#"-- Written by `cargo xtask bench`.
local method = {method}
local headers = {{ {headers} }}
local body = {body}
local paths = {{ {paths} }}
local requests = {{}}
local next_request = 0

-- wrk has set its Host header by now; our headers replace its table.
init = function(args)
  headers["Host"] = wrk.headers["Host"]
  for i, path in ipairs(paths) do
    requests[i] = wrk.format(method, path, headers, body)
  end
end

request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "BENCH requests=%d duration_us=%d errors=%d status_errors=%d p50_us=%.1f p95_us=%.1f p99_us=%.1f mean_us=%.1f\n",
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"#,
        method = quote(request.method),
        headers = headers.join(", "),
        paths = paths.join(", "),
    )
}

/// Reads the `BENCH key=value ...` line (wrk's script and the raw loop
/// print the same one).
pub fn parse_bench_line(text: &str) -> Option<Round> {
    let line = text.lines().find_map(|l| l.trim().strip_prefix("BENCH "))?;
    let field = |name: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let requests = field("requests")?;
    let duration_us = field("duration_us")?;
    if duration_us <= 0.0 {
        return None;
    }
    Some(Round {
        requests: requests as u64,
        requests_per_second: requests / (duration_us / 1e6),
        p50_ms: field("p50_us")? / 1000.0,
        p95_ms: field("p95_us")? / 1000.0,
        p99_ms: field("p99_us")? / 1000.0,
        errors: field("errors")? as u64,
        status_errors: field("status_errors")? as u64,
        cpu_us_per_request: None,
    })
}

/// `wrk` at the pinned version, from Debian, installed once; scripts go
/// under `scratch`.
pub fn ensure(root: &Path, scratch: &Path) -> Result<Wrk> {
    let pin: super::DebianPin = super::pin(root, "wrk")?;
    cmd::announce(&format!("wrk {}", pin.debian_version));
    super::apt_install(&pin.debian_package, Some(&pin.debian_version))?;
    let scripts = scratch.join("wrk");
    std::fs::create_dir_all(&scripts)?;
    Ok(Wrk {
        binary: PathBuf::from("/usr/bin/wrk"),
        scripts,
        written: AtomicUsize::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_report_line() {
        let report = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 8 connections\nBENCH requests=10000 duration_us=5000000 errors=0 status_errors=3 p50_us=812.0 p95_us=1500.5 p99_us=3200.0 mean_us=900.1\n";
        let round = parse_bench_line(report).unwrap();
        assert_eq!(round.requests, 10_000);
        assert_eq!(round.requests_per_second, 2000.0);
        assert!((round.p50_ms - 0.812).abs() < 1e-9);
        assert!((round.p95_ms - 1.5005).abs() < 1e-9);
        assert_eq!(round.p99_ms, 3.2);
        assert_eq!(round.status_errors, 3);
        assert!(parse_bench_line("no report").is_none());
    }

    #[test]
    fn the_script_quotes_what_it_is_given() {
        let mut request = Request::post_json("http://x", "/a/", "t.k.n", r#"{"a":"b"}"#);
        request.paths.push("/b/?q=\"x\"".into());
        let script = lua(&request);
        assert!(script.contains(r#"local body = [==[{"a":"b"}]==]"#));
        assert!(script.contains(r#"{ [ [==[Authorization]==] ] = [==[Bearer t.k.n]==], "#));
        assert!(script.contains(r#"local paths = { [==[/a/]==], [==[/b/?q="x"]==] }"#));
    }
}
