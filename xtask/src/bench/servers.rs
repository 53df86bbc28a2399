//! The processes measured outside the stack: our host (release build, one
//! process per component as deployed) and the native baseline, on the same
//! SQLite files; what `/proc` says of them (CPU time, RSS); and whether the
//! machine is quiet enough to measure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use xtask::components;
use xtask::process::{Child, Log};

/// A started server and how long it took to answer.
pub struct Server {
    pub name: String,
    pub child: Child,
    pub base: String,
    /// From spawn to the first 200 on its readiness route.
    pub start: Duration,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// Where the direct scenarios keep their databases.
pub struct Files {
    pub pieces_db: PathBuf,
    pub stock_db: PathBuf,
    runtime_config: PathBuf,
}

impl Files {
    pub fn new(scratch: &Path) -> Result<Self> {
        let pieces_db = scratch.join("pieces.db");
        let stock_db = scratch.join("stock.db");
        let runtime_config = scratch.join("runtime-config.toml");
        std::fs::write(
            &runtime_config,
            format!(
                "[sqlite_database.pieces]\ntype = \"spin\"\npath = \"{}\"\n\n\
                 [sqlite_database.stock]\ntype = \"spin\"\npath = \"{}\"\n",
                pieces_db.display(),
                stock_db.display()
            ),
        )?;
        Ok(Self {
            pieces_db,
            stock_db,
            runtime_config,
        })
    }
}

/// `host up` (release) serving `component` of `spin.toml` alone, as one
/// instance of the stack does.
pub fn host(
    root: &Path,
    files: &Files,
    component: &str,
    port: u16,
    env: &[(String, String)],
    log: &Log,
) -> Result<Server> {
    let mut command = Command::new(components::release_binary(root, "host"));
    command
        .current_dir(root)
        .args(["up", "-f", "spin.toml", "--component-id", component])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--runtime-config-file")
        .arg(&files.runtime_config)
        .envs(env.iter().map(|(k, v)| (k, v)));
    start(&format!("host:{component}"), command, port, log)
}

/// Spawns a Spin runtime's `up` listening on `port` and waits for its
/// `/.well-known/spin/health`.
pub fn start(name: &str, command: Command, port: u16, log: &Log) -> Result<Server> {
    let started = Instant::now();
    let child = Child::spawn(name, command, log)?;
    let base = format!("http://127.0.0.1:{port}");
    await_ready(name, &format!("{base}/.well-known/spin/health"), log)?;
    Ok(Server {
        name: name.to_owned(),
        child,
        base,
        start: started.elapsed(),
    })
}

/// The native baseline on the same files; its stock calls `pieces_url`.
pub fn baseline(
    root: &Path,
    files: &Files,
    name: &str,
    port: u16,
    env: &[(String, String)],
    log: &Log,
) -> Result<Server> {
    let mut command = Command::new(components::release_binary(root, "baseline"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--pieces-db")
        .arg(&files.pieces_db)
        .arg("--stock-db")
        .arg(&files.stock_db)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let started = Instant::now();
    let child = Child::spawn(name, command, log)?;
    let base = format!("http://127.0.0.1:{port}");
    // Any answer will do: the route needs a token.
    await_ready(name, &format!("{base}/api/pieces/1/"), log)?;
    Ok(Server {
        name: name.to_owned(),
        child,
        base,
        start: started.elapsed(),
    })
}

/// Polls `url` every 5 ms until it answers (the host: 200 on its health).
fn await_ready(name: &str, url: &str, log: &Log) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(response) = agent.get(url).call()
            && (response.status() == 200 || !url.contains("/.well-known/"))
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!(
        "{name} did not answer {url} within 60 s\n{}",
        log.tail(name, 20)
    )
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// User + system CPU time of `pid` so far, in microseconds.
pub fn cpu_us(pid: u32) -> Option<f64> {
    // `spin up` serves from a child process (its HTTP trigger): a server's
    // CPU is that of its whole process tree.
    let descendants: f64 = children(pid).into_iter().filter_map(cpu_us).sum();
    Some(own_cpu_us(pid)? + descendants)
}

/// The pids whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            stat_fields(*candidate).and_then(|f| f.get(1)?.parse().ok()) == Some(pid)
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold
/// spaces): state first, then ppid...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn own_cpu_us(pid: u32) -> Option<f64> {
    // utime and stime are the 14th and 15th fields of the whole line.
    let fields = stat_fields(pid)?;
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf reads a constant of the running system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second * 1e6)
}

/// (`VmRSS`, `VmHWM`) of `pid`, in MiB: resident now, and at its peak.
pub fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Whether a build or a test suite runs beside us: `rustc` or `cargo test`.
pub fn machine_busy() -> bool {
    Command::new("pgrep")
        .args(["-f", "rustc|cargo test"])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// Waiting for quiet, over the whole run, stops after this: the bench
/// must end in bounded time on a machine that is never quiet.
const WAIT_BUDGET: Duration = Duration::from_secs(240);
static WAITED_MS: AtomicU64 = AtomicU64::new(0);

/// Waits (at most `limit`, within the run's budget) until the machine has
/// been free of builds for 3 s in a row; returns how long it waited.
pub fn wait_until_quiet(limit: Duration) -> Duration {
    let spent = Duration::from_millis(WAITED_MS.load(Ordering::Relaxed));
    let limit = limit.min(WAIT_BUDGET.saturating_sub(spent));
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut announced = false;
    while started.elapsed() < limit {
        if machine_busy() {
            if !announced {
                eprintln!("    a build or test suite is running: waiting for it to end");
                announced = true;
            }
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let waited = started.elapsed();
    WAITED_MS.fetch_add(waited.as_millis() as u64, Ordering::Relaxed);
    if waited >= limit && machine_busy() {
        eprintln!("    still busy after {limit:?}: measuring anyway");
    }
    waited
}
