//! Turning `spin.toml` + `runtime-config.toml` into something that serves:
//! every check that can fail happens here, before the host listens, so a bad
//! configuration never leaves a half-started host behind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::fermyon::spin::{sqlite as wit_sqlite, variables as wit_variables};
use crate::cache::Cache;
use crate::outbound_http::{Pool, chaining_target};
use crate::router::{Router, Target};
use crate::runtime_config::RuntimeConfig;
use crate::sqlite::{Database, Grants};
use crate::state::State;
use crate::variables;
use manifest::{FilesMount, Manifest, Route, Source, StaticResponse};

/// What `up` was asked to run.
pub struct AppOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    /// Where the `default` SQLite database lives (`.spin/` beside the
    /// manifest unless given).
    pub state_dir: Option<PathBuf>,
    /// Selective deployment: only these components are loaded and routed.
    pub component_ids: Vec<String>,
    /// `-e KEY=VALUE`, given to every component's environment.
    pub environment: Vec<(String, String)>,
    /// `--sqlite`: SQL, or `@file.sql[:label]`, run before serving.
    pub sqlite_statements: Vec<String>,
    /// Linear memory a single instance may grow to, in bytes.
    pub memory_limit: usize,
    /// Where compiled components are kept between runs, if anywhere.
    pub cache: Option<Cache>,
}

pub struct App {
    pub name: String,
    pub router: Router,
    pub components: HashMap<String, Arc<LoadedComponent>>,
    /// The `static_response` triggers, which `Target::Static` indexes.
    pub static_responses: Vec<StaticResponse>,
}

/// A component compiled and pre-instantiated once, with everything a
/// request's `State` needs.
pub struct LoadedComponent {
    pub id: String,
    pub pre: ProxyPre<State>,
    pub environment: Vec<(String, String)>,
    pub files: Vec<Mount>,
    pub sqlite: Grants,
    pub variables: HashMap<String, String>,
    /// Shared by every request's outbound policy: checked, never copied.
    pub outbound: Arc<AllowedHosts>,
    /// The kept-alive connections of its outbound requests.
    pub connections: Pool,
    pub memory_limit: usize,
}

/// A host directory seen by the guest, read-only, at `guest`.
pub struct Mount {
    pub host: PathBuf,
    pub guest: String,
}

impl App {
    pub fn load(engine: &Engine, options: &AppOptions) -> anyhow::Result<Self> {
        let manifest = Manifest::load(&options.manifest)?;
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let runtime_config = match &options.runtime_config {
            Some(path) => RuntimeConfig::load(path, &cwd)?,
            None => RuntimeConfig::default(),
        };
        let selected = select_components(&manifest, &options.component_ids)?;
        // As Spin's environment provider: the process environment first,
        // then the dotenv files (the provider's own, then `.env` here).
        let dotenv = [
            runtime_config.variables_dotenv.clone(),
            Some(cwd.join(".env")),
        ]
        .into_iter()
        .flatten()
        .map(|path| variables::dotenv(&path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("variables: {e}"))?;
        let app_variables = variables::resolve_application(
            &manifest.variables,
            runtime_config.variables_env_prefix.as_deref(),
            |name| {
                std::env::var(name)
                    .ok()
                    .or_else(|| dotenv.iter().find_map(|values| values.get(name).cloned()))
            },
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.path.display()))?;
        let databases = open_databases(&manifest, &runtime_config, &selected, options)?;
        run_sqlite_statements(&databases, &options.sqlite_statements)?;

        let linker = linker(engine)?;
        let mut components = HashMap::new();
        for id in &selected {
            let loaded = load_component(
                engine,
                &linker,
                &manifest,
                id,
                &app_variables,
                &databases,
                options,
            )?;
            components.insert(id.clone(), Arc::new(loaded));
        }

        // As in Spin, selective deployment keeps the triggers of the
        // selected components only: static responses belong to none.
        let whole_app = options.component_ids.is_empty();
        let mut static_responses = Vec::new();
        let mut routes = Vec::new();
        for trigger in &manifest.http_triggers {
            let Route::Path(route) = &trigger.route else {
                continue;
            };
            match (&trigger.component, &trigger.static_response) {
                (Some(id), _) if selected.contains(id) => {
                    routes.push((Target::Component(id.clone()), route.as_str()));
                }
                (None, Some(answer)) if whole_app => {
                    routes.push((Target::Static(static_responses.len()), route.as_str()));
                    static_responses.push(answer.clone());
                }
                _ => {}
            }
        }
        let router = Router::build(&manifest.application.trigger.http.base, routes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.path.display()))?;
        Ok(Self {
            name: manifest.application.name,
            router,
            components,
            static_responses,
        })
    }
}

fn select_components(manifest: &Manifest, requested: &[String]) -> anyhow::Result<Vec<String>> {
    if requested.is_empty() {
        return Ok(manifest.components.keys().cloned().collect());
    }
    for id in requested {
        if !manifest.components.contains_key(id) {
            let known: Vec<_> = manifest.components.keys().map(String::as_str).collect();
            bail!(
                "--component-id `{id}`: {} has no such component (it has: {})",
                manifest.path.display(),
                known.join(", ")
            );
        }
    }
    check_chaining_targets(manifest, requested)?;
    Ok(requested.to_vec())
}

/// Spin refuses a selection in which a component may chain to one left out
/// (a literal `http://<id>.spin.internal` entry; templated entries are only
/// known later and not checked, as in Spin).
fn check_chaining_targets(manifest: &Manifest, selected: &[String]) -> anyhow::Result<()> {
    for id in selected {
        for entry in &manifest.components[id].allowed_outbound_hosts {
            if entry.contains("{{") {
                continue;
            }
            if let Some(target) = entry_host(entry).and_then(chaining_target)
                && !selected.iter().any(|s| s == target)
            {
                bail!(
                    "selected component `{id}` cannot chain to unselected component `{target}`: allowed_outbound_hosts = [\"{entry}\"]"
                );
            }
        }
    }
    Ok(())
}

/// The host of an `allowed_outbound_hosts` entry (`scheme://host[:port]`).
fn entry_host(entry: &str) -> Option<&str> {
    let authority = entry.split_once("://").map_or(entry, |(_, rest)| rest);
    authority.split(['/', ':']).next()
}

/// Opens every database a selected component is granted. As in Spin, a
/// granted label that the runtime config does not define (other than
/// `default`) is a start-up error rather than a failure on first use.
fn open_databases(
    manifest: &Manifest,
    runtime_config: &RuntimeConfig,
    selected: &[String],
    options: &AppOptions,
) -> anyhow::Result<HashMap<String, Arc<Database>>> {
    let mut databases = HashMap::new();
    for id in selected {
        for label in &manifest.components[id].sqlite_databases {
            if databases.contains_key(label) {
                continue;
            }
            let path = match (runtime_config.sqlite.get(label), label.as_str()) {
                (Some(path), _) => path.clone(),
                (None, "default") => Some(default_database_path(manifest, options)),
                (None, _) => bail!(
                    "component `{id}` uses SQLite database `{label}`, which is not defined: add [sqlite_database.{label}] to the runtime config{}",
                    options
                        .runtime_config
                        .as_deref()
                        .map(|p| format!(" ({})", p.display()))
                        .unwrap_or_else(|| " (--runtime-config-file)".into())
                ),
            };
            databases.insert(label.clone(), Database::open(label, path.as_deref())?);
        }
    }
    Ok(databases)
}

fn default_database_path(manifest: &Manifest, options: &AppOptions) -> PathBuf {
    options
        .state_dir
        .clone()
        .unwrap_or_else(|| manifest.dir().join(".spin"))
        .join("sqlite_db.db")
}

/// `--sqlite` as Spin reads it: `@file.sql` or `@file.sql:label` runs a file,
/// anything else is SQL for the `default` database.
fn run_sqlite_statements(
    databases: &HashMap<String, Arc<Database>>,
    statements: &[String],
) -> anyhow::Result<()> {
    for statement in statements {
        let (sql, label) = match statement.strip_prefix('@') {
            Some(spec) => {
                let (file, label) = match spec.rsplit_once(':') {
                    Some((file, label)) if !label.contains('/') => (file, label),
                    _ => (spec, "default"),
                };
                let sql = std::fs::read_to_string(file)
                    .with_context(|| format!("--sqlite @{spec}: cannot read {file}"))?;
                (sql, label)
            }
            None => (statement.clone(), "default"),
        };
        let db = databases.get(label).with_context(|| {
            format!("--sqlite: no loaded component uses the database `{label}`")
        })?;
        db.execute_batch(&sql)
            .with_context(|| format!("--sqlite on database `{}`", db.label()))?;
    }
    Ok(())
}

fn linker(engine: &Engine) -> anyhow::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wit_sqlite::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    wit_variables::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    Ok(linker)
}

fn load_component(
    engine: &Engine,
    linker: &Linker<State>,
    manifest: &Manifest,
    id: &str,
    app_variables: &HashMap<String, String>,
    databases: &HashMap<String, Arc<Database>>,
    options: &AppOptions,
) -> anyhow::Result<LoadedComponent> {
    let spec = &manifest.components[id];
    let Source::Local(source) = &spec.source else {
        bail!("component `{id}`: only local sources are supported");
    };
    let source = manifest.dir().join(source);
    let bytes = std::fs::read(&source).map_err(|e| {
        anyhow::anyhow!(
            "component `{id}`: cannot read {}: {e} (build the components first: `spin build` or `cargo xtask dev`)",
            source.display()
        )
    })?;
    let compiled = match &options.cache {
        Some(cache) => cache.component(engine, &bytes, || compile(engine, &bytes)),
        None => compile(engine, &bytes),
    };
    let component = compiled.with_context(|| format!("component `{id}` ({})", source.display()))?;
    let pre = linker
        .instantiate_pre(&component)
        .and_then(ProxyPre::new)
        .map_err(|e| anyhow::anyhow!("component `{id}` cannot run on this host: {e}"))?;

    let sqlite = spec
        .sqlite_databases
        .iter()
        .map(|label| (label.clone(), databases.get(label).cloned()))
        .collect();
    let variables = variables::resolve_component(manifest, id, &spec.variables, app_variables)
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest.path.display()))?;
    let outbound = spec
        .allowed_outbound_hosts
        .iter()
        .map(|entry| {
            variables::expand_application(manifest, entry, app_variables)
                .map_err(|why| format!("allowed_outbound_hosts entry {entry:?} {why}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|entries| AllowedHosts::parse(&entries))
        .map_err(|e| anyhow::anyhow!("{}: component `{id}`: {e}", manifest.path.display()))?;
    let files = spec
        .files
        .iter()
        .map(|mount| resolve_mount(manifest.dir(), id, mount))
        .collect::<anyhow::Result<_>>()?;
    let environment = spec
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(options.environment.iter().cloned())
        .collect();
    Ok(LoadedComponent {
        id: id.to_owned(),
        pre,
        environment,
        files,
        sqlite,
        variables,
        outbound: Arc::new(outbound),
        connections: Pool::new(),
        memory_limit: options.memory_limit,
    })
}

/// Compiles a component, first wrapping a core module (what `wasm32-wasip1`
/// produces) with the WASI preview1 reactor adapter, as Spin does.
fn compile(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    const CORE_MODULE: [u8; 8] = *b"\0asm\x01\0\0\0";
    let component_bytes;
    let bytes = if bytes.starts_with(&CORE_MODULE) {
        component_bytes = wit_component::ComponentEncoder::default()
            .validate(true)
            .module(bytes)?
            .adapter(
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )?
            .encode()?;
        &component_bytes
    } else {
        bytes
    };
    Ok(Component::new(engine, bytes)?)
}

fn resolve_mount(dir: &Path, id: &str, mount: &FilesMount) -> anyhow::Result<Mount> {
    let (source, guest) = match mount {
        FilesMount::Placement {
            source,
            destination,
        } => (dir.join(source), destination.clone()),
        FilesMount::Pattern(path) => (dir.join(path), format!("/{}", path.trim_start_matches('/'))),
    };
    if !source.is_dir() {
        bail!(
            "component `{id}`: `files` source {} is not a directory",
            source.display()
        );
    }
    Ok(Mount {
        host: source,
        guest,
    })
}
