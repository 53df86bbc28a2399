//! `cargo xtask registry`: `service-registry.json`, generated from `spin.toml`
//! and the port table of [`crate::components`].
//!
//! The file is a summary for people and for tools outside this repository
//! (an operator's monitoring, a deployment script): each service's port,
//! routes, health route and database in one JSON document. Nothing in the
//! stack reads it at run time (the sidecar reads `spin.toml`, xtask the
//! table of [`crate::components`]); it is committed, and `--check` (run by
//! `cargo xtask test`) fails when it no longer matches its sources.

use std::path::Path;

use anyhow::{Context, Result, bail};
use manifest::{Manifest, Route};
use serde::Serialize;

use crate::components::SERVICES;

pub const FILE: &str = "service-registry.json";
const MANIFEST: &str = "spin.toml";

#[derive(Debug, Serialize)]
struct Registry {
    generated_by: &'static str,
    application: String,
    services: Vec<Entry>,
}

#[derive(Debug, Serialize)]
struct Entry {
    name: &'static str,
    port: u16,
    routes: Vec<String>,
    health: &'static str,
    sqlite_databases: Vec<String>,
}

/// Writes the registry file.
pub fn write(root: &Path) -> Result<()> {
    let path = root.join(FILE);
    std::fs::write(&path, render(root)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Fails when the committed registry differs from what `write` would produce.
pub fn check(root: &Path) -> Result<()> {
    let path = root.join(FILE);
    let expected = render(root)?;
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("{FILE} is missing; run `cargo xtask registry` and commit it")
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    if committed != expected {
        bail!(
            "{FILE} is out of date with {MANIFEST} or the port table; run `cargo xtask registry` and commit it"
        );
    }
    Ok(())
}

fn render(root: &Path) -> Result<String> {
    let path = root.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let manifest = Manifest::parse(&path, &text)?;
    let registry = build(&manifest)?;
    let mut json = serde_json::to_string_pretty(&registry)?;
    json.push('\n');
    Ok(json)
}

/// Joins the manifest with the port table, refusing any mismatch between them.
fn build(manifest: &Manifest) -> Result<Registry> {
    for id in manifest.components.keys() {
        if !SERVICES.iter().any(|service| service.name == id) {
            bail!(
                "component `{id}` of {MANIFEST} has no row in the port table (xtask/src/components.rs)"
            );
        }
    }
    let mut services = Vec::with_capacity(SERVICES.len());
    for service in SERVICES {
        let component = manifest.components.get(service.name).with_context(|| {
            format!(
                "the port table lists `{}`, which is not a component of {MANIFEST}",
                service.name
            )
        })?;
        let routes: Vec<String> = manifest
            .http_triggers
            .iter()
            .filter(|trigger| trigger.runs(service.name))
            .filter_map(|trigger| match &trigger.route {
                Route::Path(route) => Some(route.clone()),
                Route::Private { .. } => None,
            })
            .collect();
        if !routes
            .iter()
            .any(|route| route_matches(route, service.health))
        {
            bail!(
                "health route {} of `{}` is not under any of its routes {routes:?}",
                service.health,
                service.name
            );
        }
        services.push(Entry {
            name: service.name,
            port: service.port,
            routes,
            health: service.health,
            sqlite_databases: component.sqlite_databases.clone(),
        });
    }
    Ok(Registry {
        generated_by: "cargo xtask registry (from spin.toml and xtask/src/components.rs)",
        application: manifest.application.name.clone(),
        services,
    })
}

/// Whether Spin would send `path` to `route`: `/x/...` covers `/x` and
/// everything below it; otherwise the match is exact, trailing slash aside.
fn route_matches(route: &str, path: &str) -> bool {
    let trim = |p: &str| {
        p.strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(p)
            .to_owned()
    };
    match route.strip_suffix("/...") {
        Some(prefix) => {
            prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/"))
        }
        None => trim(route) == trim(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_registry_matches_spin_toml() {
        let root = crate::project_root().expect("xtask sits in the workspace");
        if let Err(error) = check(&root) {
            panic!("{error:#}");
        }
    }

    #[test]
    fn every_service_gets_its_port_routes_and_database() {
        let root = crate::project_root().expect("xtask sits in the workspace");
        let rendered: serde_json::Value =
            serde_json::from_str(&render(&root).expect("spin.toml renders")).expect("valid JSON");
        let auth = &rendered["services"][0];
        assert_eq!(auth["name"], "auth");
        assert_eq!(auth["port"], 8000);
        assert_eq!(auth["routes"], serde_json::json!(["/api/auth/..."]));
        assert_eq!(auth["health"], "/api/auth/health/");
        assert_eq!(auth["sqlite_databases"], serde_json::json!(["auth"]));
    }

    #[test]
    fn a_component_missing_from_the_port_table_is_refused() {
        let manifest = Manifest::parse(
            Path::new("spin.toml"),
            r#"
            spin_manifest_version = 2
            [application]
            name = "x"
            [[trigger.http]]
            route = "/..."
            component = "extra"
            [component.extra]
            source = "extra.wasm"
            "#,
        )
        .expect("valid manifest");
        let error = build(&manifest).expect_err("extra is not in the table");
        assert!(error.to_string().contains("`extra`"), "{error}");
    }

    #[test]
    fn wildcard_routes_cover_their_prefix_and_below() {
        assert!(route_matches("/api/auth/...", "/api/auth/health/"));
        assert!(route_matches("/api/auth/...", "/api/auth"));
        assert!(!route_matches("/api/auth/...", "/api/authx"));
        assert!(route_matches("/...", "/"));
        assert!(route_matches("/health", "/health/"));
        assert!(!route_matches("/health", "/healthz"));
    }
}
