//! `cargo xtask bench`: the host against a native baseline doing the same
//! work, Traefik against a direct call, movements against a raw SQLite
//! loop, measured side by side in one run on loopback and reported as
//! ratios (absolute figures move with the machine; ratios measured together
//! do not), beside the catalogue's latency at 100,000 pieces, discovery
//! times and what a request costs.
//!
//! Each comparison alternates its sides round by round under the same `wrk`
//! load, so that a noisy neighbour hits both alike; the median round of
//! each side is kept. A round during which a build started is measured
//! again.

mod catalogue;
mod edge;
mod http;
mod locations;
mod report;
mod reports;
mod servers;
mod spin;
mod tokens;
mod wrk;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use xtask::process::Log;
use xtask::secrets::Secrets;
use xtask::{cmd, components, tools};

use self::servers::{Files, Server};
use self::wrk::{Request, Wrk};

/// Rounds per side of a comparison, after one warm-up round each.
const ROUNDS: usize = 3;
const ROUND_SECONDS: u32 = 5;
/// Rounds of the movement and catalogue scenarios.
const SHORT_ROUND_SECONDS: u32 = 3;
/// Rounds of the GET ladder (five sides).
const LADDER_ROUND_SECONDS: u32 = 2;
const WARM_UP_SECONDS: u32 = 2;
/// Connections of the host/native and Traefik/direct comparisons.
const CONNECTIONS: u32 = 8;
/// Concurrencies of the movement throughput scenario.
const MOVEMENT_CONCURRENCY: [u32; 3] = [1, 10, 50];
/// Connections of the catalogue latencies: a few users at once.
const CATALOGUE_CONNECTIONS: u32 = 4;
/// Level the movement piece starts at (stock's largest quantity): OUTs of
/// 1 never run out.
const INITIAL_LEVEL: i64 = 1_000_000_000;
/// The piece the GET scenarios read, in the middle of the catalogue.
const READ_PIECE: usize = 50_000;
/// The piece movements go to.
const MOVED_PIECE: usize = 1;
/// How long to wait for other people's builds before a comparison.
const QUIET_WAIT: Duration = Duration::from_secs(60);

/// One measured `wrk` (or raw loop) round.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub status_errors: u64,
    /// CPU time of the serving processes per request (from /proc).
    pub cpu_us_per_request: Option<f64>,
}

/// Two sides of one scenario, measured alternately.
pub struct Comparison {
    pub name: String,
    pub measured_name: String,
    pub reference_name: String,
    pub connections: u32,
    pub measured: Round,
    pub reference: Round,
}

impl Comparison {
    fn new(
        name: &str,
        measured_name: &str,
        reference_name: &str,
        connections: u32,
        rounds: &[Round],
    ) -> Self {
        Self {
            name: name.to_owned(),
            measured_name: measured_name.to_owned(),
            reference_name: reference_name.to_owned(),
            connections,
            measured: rounds[0],
            reference: rounds[1],
        }
    }

    /// Throughput of the measured side over the reference's.
    pub fn ratio(&self) -> f64 {
        self.measured.requests_per_second / self.reference.requests_per_second
    }
}

/// Movements at one concurrency: host, native and the raw loop.
pub struct Movements {
    pub connections: u32,
    pub host: Round,
    pub native: Round,
    pub raw: Round,
}

/// One catalogue request kind at 100,000 pieces.
pub struct CatalogueLatency {
    pub name: String,
    /// One connection: what one user waits.
    pub alone: Round,
    /// `CATALOGUE_CONNECTIONS` connections: a few users at once.
    pub shared: Round,
}

pub struct Discovery {
    pub removal: Duration,
    pub removal_max: Duration,
    pub first_served: Duration,
    pub first_served_max: Duration,
    /// `start_instance`: spawn to the host's health (release build).
    pub host_start: Duration,
    pub cycles: usize,
}

/// One step of the GET ladder: a request that does a little more than the
/// step before it.
pub struct Step {
    pub name: &'static str,
    /// What this step adds to the one before.
    pub adds: &'static str,
    pub round: Round,
}

/// What a request costs the host beyond the guest's own work.
pub struct Costs {
    /// From the host's own route to a whole `GET /api/pieces/{id}/`, one
    /// connection: each step's latency and CPU over the previous one.
    pub ladder: Vec<Step>,
    /// Spawn to health, release build, per component.
    pub host_start: Vec<(String, Duration)>,
    /// (process, RSS after start, RSS after the load, peak), MiB.
    pub memory: Vec<(String, f64, f64, f64)>,
}

/// Everything one run measured.
pub struct Results {
    pub get: Comparison,
    pub post: Comparison,
    pub movements: Vec<Movements>,
    pub catalogue: Vec<CatalogueLatency>,
    /// Each catalogue request alone, one after the other.
    pub single: Vec<catalogue::Single>,
    /// The stock lists once the catalogue is placed in bins.
    pub stock: Vec<CatalogueLatency>,
    /// How long each bin's stocktake took to validate.
    pub stocktakes: Vec<Duration>,
    /// Each report alone, over two years of history.
    pub reports: Vec<catalogue::Single>,
    pub import: Vec<Duration>,
    pub costs: Costs,
    pub edge: edge::Edge,
    /// Our host against the real `spin up`, when this machine has Spin.
    pub spin: Option<Vec<Comparison>>,
    pub waited: Duration,
    pub elapsed: Duration,
}

pub fn run(root: &Path) -> Result<()> {
    let began = Instant::now();
    cmd::ensure_default_target_dir(root)?;
    let scratch = tempfile::tempdir()?;
    let wrk = wrk::ensure(root, scratch.path())?;
    let font = report::ensure_font(root)?;
    components::build_components(root)?;
    cmd::step(
        "build the host, the baseline and the plot (release)",
        cmd::cargo(root).args(["build", "--release", "-p", "host", "-p", "bench"]),
    )?;
    // The stack's sidecar is the debug build its tests run.
    components::build_binaries(root)?;
    let tools = tools::ensure(root)?;
    let secrets = Secrets::load_or_create(&scratch.path().join("secrets"))?;
    let manager = tokens::mint(secrets.jwt_private_key(), "manager")?;
    let log = Log::new(false);

    let mut waited = Duration::ZERO;
    let direct = direct(root, scratch.path(), &secrets, &manager, &wrk, &log)?;
    waited += direct.waited;
    cmd::announce("reports over two years of history");
    waited += servers::wait_until_quiet(QUIET_WAIT);
    let reports = reports::run(root, scratch.path(), &secrets.env(), &manager, &log)?;
    cmd::announce("our host and the real Spin CLI, each serving the whole app on one listener");
    waited += servers::wait_until_quiet(QUIET_WAIT);
    let spin = spin::run(root, scratch.path(), &secrets, &manager, &wrk, &log)?;
    cmd::announce("the stack (Consul, Traefik, hosts, sidecar) on free ports");
    waited += servers::wait_until_quiet(QUIET_WAIT);
    let edge = edge::run(root, tools, &secrets, &manager, &wrk)?;
    let results = Results {
        get: direct.get,
        post: direct.post,
        movements: direct.movements,
        catalogue: direct.catalogue,
        single: direct.single,
        stock: direct.stock,
        stocktakes: direct.stocktakes,
        reports,
        import: direct.import,
        costs: direct.costs,
        edge,
        spin,
        waited,
        elapsed: began.elapsed(),
    };
    report::write(root, &results, &font)
}

/// `cargo xtask bench reports`: the reports scenario alone, printed, the
/// results file left as it is.
pub fn run_reports(root: &Path) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    let scratch = tempfile::tempdir()?;
    components::build_components(root)?;
    cmd::step(
        "build the host and the history writer (release)",
        cmd::cargo(root).args(["build", "--release", "-p", "host", "-p", "bench"]),
    )?;
    let secrets = Secrets::load_or_create(&scratch.path().join("secrets"))?;
    let manager = tokens::mint(secrets.jwt_private_key(), "manager")?;
    let timed = reports::run(
        root,
        scratch.path(),
        &secrets.env(),
        &manager,
        &Log::new(false),
    )?;
    for report in timed {
        println!(
            "{}: {} rows, median {:.0} ms, max {:.0} ms",
            report.path,
            report.matches,
            report.median.as_secs_f64() * 1000.0,
            report.max.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

/// What the scenarios on directly reached processes measured.
struct Direct {
    get: Comparison,
    post: Comparison,
    movements: Vec<Movements>,
    catalogue: Vec<CatalogueLatency>,
    single: Vec<catalogue::Single>,
    stock: Vec<CatalogueLatency>,
    stocktakes: Vec<Duration>,
    import: Vec<Duration>,
    costs: Costs,
    waited: Duration,
}

/// The host (one release process per component, as deployed) and the
/// native baseline (two processes likewise), on the same SQLite files.
fn direct(
    root: &Path,
    scratch: &Path,
    secrets: &Secrets,
    token: &str,
    wrk: &Wrk,
    log: &Log,
) -> Result<Direct> {
    let mut waited = servers::wait_until_quiet(QUIET_WAIT);
    let files = Files::new(scratch)?;
    let (pieces_port, stock_port) = (servers::free_port()?, servers::free_port()?);
    let (native_pieces_port, native_stock_port) = (servers::free_port()?, servers::free_port()?);
    let env = |pieces: u16, stock: u16| {
        let mut env = secrets.env();
        env.push((
            "SPIN_VARIABLE_PIECES_URL".into(),
            format!("127.0.0.1:{pieces}"),
        ));
        env.push((
            "SPIN_VARIABLE_STOCK_URL".into(),
            format!("127.0.0.1:{stock}"),
        ));
        env
    };
    cmd::announce("start the hosts (release): pieces, then stock");
    let host_env = env(pieces_port, stock_port);
    let pieces = servers::host(root, &files, "pieces", pieces_port, &host_env, log)?;
    let stock = servers::host(root, &files, "stock", stock_port, &host_env, log)?;
    for server in [&pieces, &stock] {
        eprintln!(
            "    {} answers {:.0?} after spawn",
            server.name, server.start
        );
    }
    let memory_at_start: Vec<(f64, f64)> = [&pieces, &stock]
        .iter()
        .map(|s| servers::memory_mib(s.pid()).unwrap_or_default())
        .collect();

    cmd::announce(&format!(
        "import {} pieces (CSV, 10,000 rows per file)",
        catalogue::PIECES
    ));
    // Both hosts migrate their database on the first request.
    http::expect(
        200,
        "GET",
        &format!("{}/api/stock/health/", stock.base),
        None,
        None,
    )?;
    let import = catalogue::import(&pieces.base, token)?;

    cmd::announce("start the native baseline: pieces, then stock");
    let native_env = env(native_pieces_port, native_stock_port);
    let native_pieces = servers::baseline(
        root,
        &files,
        "native:pieces",
        native_pieces_port,
        &native_env,
        log,
    )?;
    let native_stock = servers::baseline(
        root,
        &files,
        "native:stock",
        native_stock_port,
        &native_env,
        log,
    )?;

    let read_path = format!("/api/pieces/{READ_PIECE}/");
    let read = |server: &Server| Request::get(&server.base, &read_path, Some(token));
    let move_body = format!(r#"{{"piece_id":{MOVED_PIECE},"type":"OUT","quantity":1}}"#);
    let movement = |server: &Server| {
        Request::post_json(&server.base, "/api/stock/movement/", token, &move_body)
    };
    check_same_answers(
        &pieces,
        &native_pieces,
        &stock,
        &native_stock,
        token,
        &read_path,
    )?;

    waited += servers::wait_until_quiet(QUIET_WAIT);
    let host_read = read(&pieces);
    let native_read = read(&native_pieces);
    let rounds = alternate(
        "host/native: GET /api/pieces/{id}/",
        ROUND_SECONDS,
        &mut [
            &mut |s| measure_cpu(&[&pieces], || wrk.run(&host_read, CONNECTIONS, s)),
            &mut |s| measure_cpu(&[&native_pieces], || wrk.run(&native_read, CONNECTIONS, s)),
        ],
    )?;
    let get = Comparison::new(
        "GET /api/pieces/{id}/",
        "host",
        "native",
        CONNECTIONS,
        &rounds,
    );

    waited += servers::wait_until_quiet(QUIET_WAIT);
    let host_move = movement(&stock);
    let native_move = movement(&native_stock);
    let rounds = alternate(
        "host/native: POST /api/stock/movement/",
        ROUND_SECONDS,
        &mut [
            &mut |s| measure_cpu(&[&stock, &pieces], || wrk.run(&host_move, CONNECTIONS, s)),
            &mut |s| {
                measure_cpu(&[&native_stock, &native_pieces], || {
                    wrk.run(&native_move, CONNECTIONS, s)
                })
            },
        ],
    )?;
    let post = Comparison::new(
        "POST /api/stock/movement/",
        "host",
        "native",
        CONNECTIONS,
        &rounds,
    );

    let mut movements = Vec::new();
    for connections in MOVEMENT_CONCURRENCY {
        waited += servers::wait_until_quiet(QUIET_WAIT);
        let rounds = alternate(
            &format!("OUT movements at concurrency {connections}: host, native, raw loop"),
            SHORT_ROUND_SECONDS,
            &mut [
                &mut |s| wrk.run(&host_move, connections, s),
                &mut |s| wrk.run(&native_move, connections, s),
                &mut |s| raw_loop(root, &files, connections, s),
            ],
        )?;
        movements.push(Movements {
            connections,
            host: rounds[0],
            native: rounds[1],
            raw: rounds[2],
        });
    }

    let mut catalogue = Vec::new();
    let searches = catalogue::search_paths();
    let mut kinds: Vec<(String, Vec<String>)> = catalogue::list_paths()
        .into_iter()
        .map(|(name, paths)| (name.to_owned(), paths))
        .collect();
    kinds.push((
        format!("search, {} queries in turn", searches.len()),
        searches,
    ));
    for (name, paths) in kinds {
        waited += servers::wait_until_quiet(QUIET_WAIT);
        catalogue.push(list_latency(wrk, &pieces, token, "catalogue", name, paths)?);
    }
    let mut alone: Vec<String> = catalogue::list_paths()
        .into_iter()
        .flat_map(|(_, paths)| paths)
        .collect();
    alone.extend(catalogue::search_paths());
    let single = catalogue::single(&pieces.base, token, &alone)?;

    cmd::announce(&format!(
        "place the {} pieces in {} bins: one stocktake of {} lines per bin",
        catalogue::PIECES,
        locations::BINS,
        locations::LINES_PER_COUNT
    ));
    let placed = locations::place(&stock.base, &pieces.base, secrets.internal_secret(), token)?;
    let mut stock_lists = Vec::new();
    for (name, paths) in locations::list_paths(&placed) {
        waited += servers::wait_until_quiet(QUIET_WAIT);
        stock_lists.push(list_latency(wrk, &stock, token, "stock", name, paths)?);
    }

    waited += servers::wait_until_quiet(QUIET_WAIT);
    let ladder = ladder(&pieces, secrets, token, &read_path, wrk)?;
    let servers = [&pieces, &stock, &native_pieces, &native_stock];
    let memory = servers
        .iter()
        .enumerate()
        .map(|(index, server)| {
            let (now, peak) = servers::memory_mib(server.pid()).unwrap_or_default();
            let at_start = memory_at_start.get(index).map_or(f64::NAN, |m| m.0);
            (server.name.clone(), at_start, now, peak)
        })
        .collect();
    let costs = Costs {
        ladder,
        host_start: vec![
            ("pieces".to_owned(), pieces.start),
            ("stock".to_owned(), stock.start),
        ],
        memory,
    };
    Ok(Direct {
        get,
        post,
        movements,
        catalogue,
        single,
        stock: stock_lists,
        stocktakes: placed.validations,
        import,
        costs,
        waited,
    })
}

/// `paths` requested in turn on `server`, alone then by a few users at once.
fn list_latency(
    wrk: &Wrk,
    server: &Server,
    token: &str,
    what: &str,
    name: String,
    paths: Vec<String>,
) -> Result<CatalogueLatency> {
    let mut request = Request::get(&server.base, "/", Some(token));
    request.paths = paths;
    let rounds = alternate(
        &format!("{what}: {name}, 1 then {CATALOGUE_CONNECTIONS} connections"),
        SHORT_ROUND_SECONDS,
        &mut [&mut |s| wrk.run(&request, 1, s), &mut |s| {
            wrk.run(&request, CATALOGUE_CONNECTIONS, s)
        }],
    )?;
    Ok(CatalogueLatency {
        name,
        alone: rounds[0],
        shared: rounds[1],
    })
}

/// The GET ladder on the pieces host, one connection: the host's own route,
/// a component route that does nothing, then the token check, the schema
/// check and the query, then the whole read.
fn ladder(
    pieces: &Server,
    secrets: &Secrets,
    token: &str,
    read_path: &str,
    wrk: &Wrk,
) -> Result<Vec<Step>> {
    let foreign = tokens::mint_for(secrets.jwt_private_key(), "manager", "another-api")?;
    let steps: [(&str, &str, Request); 5] = [
        (
            "the host's own health route (no component)",
            "",
            Request::get(&pieces.base, "/.well-known/spin/health", None),
        ),
        (
            "a pieces route that does nothing (404)",
            "instantiation and call",
            Request::get(&pieces.base, "/api/pieces/bench/no/such/route/", None),
        ),
        (
            "GET a piece with a token for another audience (401)",
            "token check (JWKS parse, EdDSA verification)",
            Request::get(&pieces.base, read_path, Some(&foreign)),
        ),
        (
            "GET a piece that does not exist (404)",
            "schema check and the SELECT",
            Request::get(&pieces.base, "/api/pieces/999999999/", Some(token)),
        ),
        (
            "GET /api/pieces/{id}/ (200)",
            "the row as JSON",
            Request::get(&pieces.base, read_path, Some(token)),
        ),
    ];
    let mut requests: Vec<(&str, &str, Request)> = steps.into_iter().collect();
    for (_, _, request) in requests.iter_mut().skip(1).take(3) {
        request.errors_expected = true;
    }
    let mut sides: Vec<Box<dyn FnMut(u32) -> Result<Round> + '_>> = requests
        .iter()
        .map(|(_, _, request)| {
            Box::new(move |s| measure_cpu(&[pieces], || wrk.run(request, 1, s)))
                as Box<dyn FnMut(u32) -> Result<Round>>
        })
        .collect();
    let mut sides: Vec<Side<'_>> = sides
        .iter_mut()
        .map(|side| side.as_mut() as Side<'_>)
        .collect();
    let rounds = alternate(
        "where a GET's time goes: one connection, one step more each time",
        LADDER_ROUND_SECONDS,
        &mut sides,
    )?;
    Ok(requests
        .iter()
        .zip(rounds)
        .map(|((name, adds, _), round)| Step { name, adds, round })
        .collect())
}

/// Seeds the moved piece's level, then checks that host and baseline give
/// the same answers: the same piece document, and a movement of the same
/// shape.
fn check_same_answers(
    pieces: &Server,
    native_pieces: &Server,
    stock: &Server,
    native_stock: &Server,
    token: &str,
    read_path: &str,
) -> Result<()> {
    cmd::announce("check that host and baseline answer alike");
    let adjust = serde_json::json!({
        "piece_id": MOVED_PIECE, "type": "ADJUST", "quantity": INITIAL_LEVEL, "reason": "inventory",
    })
    .to_string();
    http::expect(
        201,
        "POST",
        &format!("{}/api/stock/movement/", stock.base),
        Some(token),
        Some(("application/json", adjust)),
    )?;
    let host = http::expect(
        200,
        "GET",
        &format!("{}{read_path}", pieces.base),
        Some(token),
        None,
    )?;
    let native = http::expect(
        200,
        "GET",
        &format!("{}{read_path}", native_pieces.base),
        Some(token),
        None,
    )?;
    if host != native || host["reference"] != catalogue::reference(READ_PIECE - 1) {
        bail!("the baseline's piece differs from the host's:\n{host}\n{native}");
    }
    let out = format!(r#"{{"piece_id":{MOVED_PIECE},"type":"OUT","quantity":1}}"#);
    let mut shapes = Vec::new();
    for server in [stock, native_stock] {
        let movement = http::expect(
            201,
            "POST",
            &format!("{}/api/stock/movement/", server.base),
            Some(token),
            Some(("application/json", out.clone())),
        )?;
        let keys: Vec<String> = movement
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        shapes.push((
            keys,
            movement["type"].clone(),
            movement["reference"].clone(),
        ));
    }
    if shapes[0] != shapes[1] {
        bail!("the baseline's movement differs from the host's: {shapes:?}");
    }
    Ok(())
}

/// Runs `load`, adding the CPU time `servers` spent per request to its round.
fn measure_cpu(servers: &[&Server], load: impl FnOnce() -> Result<Round>) -> Result<Round> {
    let cpu = || -> Option<f64> { servers.iter().map(|s| servers::cpu_us(s.pid())).sum() };
    let before = cpu();
    let mut round = load()?;
    if let (Some(before), Some(after)) = (before, cpu()) {
        round.cpu_us_per_request = Some((after - before) / round.requests.max(1) as f64);
    }
    Ok(round)
}

/// `baseline raw-movements`: stock's movement statement in a loop on the
/// same file, `connections` threads, each its own connection.
fn raw_loop(root: &Path, files: &Files, connections: u32, seconds: u32) -> Result<Round> {
    let output = Command::new(components::release_binary(root, "baseline"))
        .arg("raw-movements")
        .arg("--db")
        .arg(&files.stock_db)
        .args(["--piece", &MOVED_PIECE.to_string()])
        .args(["--connections", &connections.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .output()
        .context("cannot run the raw movement loop")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "the raw movement loop failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let round = wrk::parse_bench_line(&text)
        .with_context(|| format!("cannot read the raw loop's report:\n{text}"))?;
    if round.errors > 0 {
        bail!("the raw movement loop had {} failed inserts", round.errors);
    }
    Ok(round)
}

type Side<'a> = &'a mut dyn FnMut(u32) -> Result<Round>;

/// Runs each side in turn, `ROUNDS` rounds of `seconds` after a warm-up
/// round each, and
/// keeps each side's median round (by throughput). A round pair during
/// which a build or a test suite started is run again (twice at most).
fn alternate(title: &str, seconds: u32, sides: &mut [Side<'_>]) -> Result<Vec<Round>> {
    cmd::announce(title);
    for side in sides.iter_mut() {
        side(WARM_UP_SECONDS)?;
    }
    let mut kept: Vec<Vec<Round>> = vec![Vec::new(); sides.len()];
    let mut repeats = 0;
    while kept[0].len() < ROUNDS {
        let busy_before = servers::machine_busy();
        let rounds = sides
            .iter_mut()
            .map(|side| side(seconds))
            .collect::<Result<Vec<_>>>()?;
        let line: Vec<String> = rounds
            .iter()
            .map(|r| {
                format!(
                    "{:.0}/s p50 {:.2} p99 {:.2} ms",
                    r.requests_per_second, r.p50_ms, r.p99_ms
                )
            })
            .collect();
        if !busy_before && servers::machine_busy() && repeats < 2 {
            repeats += 1;
            eprintln!("    a build started during the round: measured again");
            servers::wait_until_quiet(QUIET_WAIT);
            continue;
        }
        eprintln!("    round {}: {}", kept[0].len() + 1, line.join(" | "));
        for (side, round) in kept.iter_mut().zip(rounds) {
            side.push(round);
        }
    }
    Ok(kept.into_iter().map(median).collect())
}

fn median(mut rounds: Vec<Round>) -> Round {
    rounds.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    rounds[rounds.len() / 2]
}

/// A Debian package pinned in `deploy/versions.toml`.
#[derive(serde::Deserialize)]
struct DebianPin {
    debian_package: String,
    debian_version: String,
}

/// The `[name]` table of `deploy/versions.toml`.
fn pin<T: serde::de::DeserializeOwned>(root: &Path, name: &str) -> Result<T> {
    let path = root.join("deploy/versions.toml");
    let mut versions: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let entry = versions
        .remove(name)
        .with_context(|| format!("{} has no [{name}]", path.display()))?;
    entry
        .try_into()
        .with_context(|| format!("[{name}] of {}", path.display()))
}

/// `apt-get install PACKAGE[=VERSION]` unless dpkg has it at that version.
fn apt_install(package: &str, version: Option<&str>) -> Result<()> {
    let installed = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .is_ok_and(|o| {
            o.status.success() && version.is_none_or(|v| String::from_utf8_lossy(&o.stdout) == v)
        });
    if installed {
        return Ok(());
    }
    let spec = version.map_or(package.to_owned(), |v| format!("{package}={v}"));
    cmd::step(
        "apt-get update",
        Command::new("apt-get").args(["-q", "update"]),
    )?;
    cmd::step(
        &format!("apt-get install {spec}"),
        Command::new("apt-get").args(["-q", "-y", "install", &spec]),
    )
}
