//! A Spin-compatible local host: `host up -f spin.toml` serves the same
//! manifest and the same `.wasm` files that `spin up` serves.
//!
//! ```text
//! cargo run -p host -- up -f spin.toml --listen 127.0.0.1:3000 \
//!     --runtime-config-file runtime-config.toml
//! ```

mod allowed_hosts;
mod app;
mod cache;
mod engine;
mod headers;
mod metrics;
mod otlp;
mod outbound_http;
mod router;
mod runtime_config;
mod server;
mod sqlite;
mod sqlite_settings;
mod state;
mod stderr;
mod trace;
mod variables;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::app::{App, AppOptions};
use crate::cache::Cache;
use crate::server::Limits;

/// Host bindings for the Spin interfaces this host implements.
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "host",
        imports: { default: async | trappable },
        with: { "fermyon:spin/sqlite.connection": crate::sqlite::GuestConnection },
    });
}

#[derive(Parser)]
#[command(version, about = "Runs a Spin application (spin.toml) on wasmtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application, like `spin up`.
    Up(UpArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// The application manifest.
    #[arg(
        short = 'f',
        long = "from",
        visible_alias = "file",
        default_value = "spin.toml"
    )]
    manifest: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SPIN_HTTP_LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Runtime configuration (SQLite databases, variables provider).
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// Directory of the `default` SQLite database [default: .spin beside the manifest].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Run only these components (repeatable): selective deployment.
    #[arg(short = 'c', long = "component-id")]
    component_ids: Vec<String>,
    /// SQL to run before serving, or `@file.sql[:label]` (repeatable).
    #[arg(long)]
    sqlite: Vec<String>,
    /// Environment variable for every component, `KEY=VALUE` (repeatable).
    #[arg(short = 'e', long = "env", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// Largest request body accepted; larger ones get 413.
    #[arg(long, env = "HOST_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds a request may take, from its head to the component's answer
    /// (408 while its body uploads, 504 after).
    #[arg(long, env = "HOST_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Seconds a client has to send a request's head before its connection
    /// is closed.
    #[arg(long, env = "HOST_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Open connections at most; further clients wait to be accepted.
    #[arg(long, env = "HOST_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Concurrent instances (pooling allocator slots).
    #[arg(long, env = "HOST_MAX_INSTANCES", default_value_t = 100)]
    max_instances: u32,
    /// On SIGTERM, keep serving this long while `/.well-known/spin/health`
    /// answers 503, so a load balancer drops the instance before it stops
    /// accepting. 0, as `spin up` does, stops accepting at once.
    #[arg(long, env = "HOST_DRAIN_SECS", default_value_t = 0)]
    drain_secs: u64,
    /// Do not keep compiled components between runs (as `spin up
    /// --disable-cache`).
    #[arg(long, env = "DISABLE_WASMTIME_CACHE")]
    disable_cache: bool,
    /// Where compiled components are kept [default: $XDG_CACHE_HOME/spin-host
    /// or ~/.cache/spin-host].
    #[arg(long, env = "HOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Linear memory limit of one instance, in MiB.
    #[arg(long, env = "HOST_MEMORY_LIMIT_MIB", default_value_t = 256)]
    memory_limit_mib: usize,
}

fn cache(args: &UpArgs) -> anyhow::Result<Option<Cache>> {
    if args.disable_cache {
        return Ok(None);
    }
    args.cache_dir
        .clone()
        .or_else(Cache::default_dir)
        .map(Cache::open)
        .transpose()
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

fn main() -> ExitCode {
    let Command::Up(args) = Cli::parse().command;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(up(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let memory_limit = args.memory_limit_mib * 1024 * 1024;
    let engine = engine::new_engine(args.max_instances, memory_limit)?;
    let cache = cache(&args)?;
    let options = AppOptions {
        manifest: args.manifest,
        runtime_config: args.runtime_config_file,
        state_dir: args.state_dir,
        component_ids: args.component_ids,
        environment: args.env,
        sqlite_statements: args.sqlite,
        memory_limit,
        cache,
    };
    let app = App::load(&engine, &options)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let service = match app.components.keys().collect::<Vec<_>>()[..] {
        [only] => only.clone(),
        _ => app.name.clone(),
    };
    let exporter = otlp::Exporter::from_env(&service)?;
    print_routes(&app, addr);
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        max_connections: args.max_connections.max(1),
        max_instances: args.max_instances as usize,
        shutdown_grace: Duration::from_secs(args.request_timeout_secs),
        drain: Duration::from_secs(args.drain_secs),
    };
    let recorder = exporter.as_ref().map(otlp::Exporter::recorder);
    server::serve(app, limits, listener, recorder, shutdown_signal()).await?;
    if let Some(exporter) = exporter {
        exporter.shutdown(Duration::from_secs(2)).await;
    }
    println!("Stopped.");
    Ok(())
}

/// The banner `spin up` prints; tools (and our tests) wait for its
/// `Serving` line.
fn print_routes(app: &App, addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\nServing http://{addr}\nAvailable Routes:");
    for (component, route) in app.router.routes() {
        let _ = writeln!(out, "  {component}: http://{addr}{route}");
    }
    let _ = out.flush();
}

async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => {
                logline::warn(
                    &format!("cannot watch SIGTERM ({e}); only Ctrl-C stops the host"),
                    &[],
                );
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate.recv() => {},
    }
    logline::info("Shutting down: finishing requests in flight", &[]);
}
