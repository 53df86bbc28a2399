//! What the stack is made of: the components, their ports, their builds.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// One component of `spin.toml`, as the rest of the stack sees it.
pub struct Service {
    /// The component id in `spin.toml`.
    pub name: &'static str,
    /// The port its own host listens on when the stack runs one host per
    /// service (`up`, Consul registration); the seed's ports.
    pub port: u16,
    /// The route Consul's health check calls.
    pub health: &'static str,
}

/// The single port table; `registry` checks it against `spin.toml`.
pub const SERVICES: &[Service] = &[
    Service {
        name: "auth",
        port: 8000,
        health: "/api/auth/health/",
    },
    Service {
        name: "pieces",
        port: 8001,
        health: "/api/pieces/health/",
    },
    Service {
        name: "stock",
        port: 8002,
        health: "/api/stock/health/",
    },
    Service {
        name: "notifications",
        port: 8003,
        health: "/api/notifications/health/",
    },
    Service {
        name: "purchasing",
        port: 8004,
        health: "/api/purchasing/health/",
    },
    // The UI has no health route of its own: its index page answering is health.
    Service {
        name: "ui",
        port: 5500,
        health: "/",
    },
];

/// The services behind `/api/...`: every component but the UI.
pub fn api_services() -> impl Iterator<Item = &'static Service> {
    SERVICES.iter().filter(|s| s.health.starts_with("/api/"))
}

/// The target the components are built for, as each `build.command` of
/// `spin.toml` says (Spin 3.6's own Rust template builds `wasm32-wasip1`;
/// ARCHITECTURE.md says why this project does not).
pub const COMPONENT_TARGET: &str = "wasm32-wasip2";

/// Builds every component with exactly the command of its `build.command`
/// in `spin.toml`, one package per cargo invocation: cargo unifies the
/// features of shared dependencies over the packages of one invocation, so
/// building them together would give other `.wasm` bytes than `spin build`
/// gives, and a `spin build` would then rewrite the files under running
/// hosts.
pub fn build_components(root: &Path) -> anyhow::Result<()> {
    for service in SERVICES {
        cmd::step(
            &format!("build {} ({COMPONENT_TARGET})", service.name),
            cmd::cargo(root).args([
                "build",
                "--target",
                COMPONENT_TARGET,
                "--release",
                "-p",
                service.name,
            ]),
        )?;
    }
    Ok(())
}

/// Builds the native programs the tests, `dev` and `up` run (debug
/// profile, optimised dependencies: one wasmtime build serves all).
pub fn build_binaries(root: &Path) -> anyhow::Result<()> {
    cmd::step(
        "build the host and the sidecar",
        cmd::cargo(root).args(["build", "-p", "host", "-p", "sidecar"]),
    )
}

/// A binary `build_binaries` produces.
pub fn binary(root: &Path, name: &str) -> PathBuf {
    cmd::target_dir(root)
        .join("debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A binary of `cargo build --release` (benchmarks only).
pub fn release_binary(root: &Path, name: &str) -> PathBuf {
    cmd::target_dir(root)
        .join("release")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// `host up` serving `spin.toml` from `root` with the repository's runtime config.
pub fn host_up(root: &Path, listen: &str) -> Command {
    let mut command = Command::new(binary(root, "host"));
    command.current_dir(root).args([
        "up",
        "-f",
        "spin.toml",
        "--listen",
        listen,
        "--runtime-config-file",
        "runtime-config.toml",
    ]);
    command
}

/// Targets the components (wasip2) and the host's probe (both) need.
const WASM_TARGETS: [&str; 2] = ["wasm32-wasip1", "wasm32-wasip2"];

/// Adds the wasm targets that rustup lacks; without rustup (a distribution
/// toolchain) it assumes they are there and lets the builds say otherwise.
pub fn install_wasm_targets() -> Result<()> {
    cmd::announce("rustup targets wasm32-wasip1 wasm32-wasip2");
    let listed = match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        Ok(output) if output.status.success() => output.stdout,
        Ok(output) => bail!(
            "`rustup target list --installed` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            eprintln!("    rustup not found; assuming the targets are installed");
            return Ok(());
        }
        Err(error) => return Err(error).context("cannot run rustup"),
    };
    let installed = String::from_utf8_lossy(&listed);
    let missing: Vec<&str> = WASM_TARGETS
        .into_iter()
        .filter(|target| !installed.lines().any(|line| line.trim() == *target))
        .collect();
    if missing.is_empty() {
        eprintln!("    already installed");
        return Ok(());
    }
    cmd::step(
        &format!("rustup target add {}", missing.join(" ")),
        Command::new("rustup")
            .args(["target", "add"])
            .args(&missing),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_build_command_of_spin_toml_is_the_one_xtask_runs() {
        let root = crate::project_root().unwrap();
        let text = std::fs::read_to_string(root.join("spin.toml")).unwrap();
        let manifest: toml::Table = text.parse().unwrap();
        for service in SERVICES {
            let command = manifest["component"][service.name]["build"]["command"].as_str();
            let expected = format!(
                "cargo build --target {COMPONENT_TARGET} --release -p {}",
                service.name
            );
            assert_eq!(command, Some(expected.as_str()), "{}", service.name);
        }
    }
}
