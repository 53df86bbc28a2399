//! `cargo xtask test`: every check CI runs, cheapest first, stopping at the
//! first failure. Each step is idempotent, so rerunning after a fix is cheap.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use xtask::{cmd, components, registry, tools};

/// Targets the components (wasip1) and the host's probe (both) need.
const WASM_TARGETS: [&str; 2] = ["wasm32-wasip1", "wasm32-wasip2"];

pub fn run(root: &Path) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    install_wasm_targets()?;
    cmd::step(
        "cargo fmt --all --check",
        cmd::cargo(root).args(["fmt", "--all", "--check"]),
    )?;
    cmd::announce("service-registry.json is up to date");
    registry::check(root)?;
    // The stack tests run the pinned Consul and Traefik.
    tools::ensure(root)?;
    components::build_components(root)?;
    components::build_binaries(root)?;
    for target in ["wasm32-wasip2", "wasm32-wasip1"] {
        cmd::step(
            &format!("build the probe ({target})"),
            cmd::cargo(root).args(["build", "--release", "--target", target, "-p", "probe"]),
        )?;
    }
    cmd::step(
        "cargo clippy --workspace --all-targets -- -D warnings",
        cmd::cargo(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    cmd::step(
        "cargo test --workspace",
        cmd::cargo(root).args(["test", "--workspace"]),
    )?;
    eprintln!("all checks passed");
    Ok(())
}

/// Adds the wasm targets that rustup lacks; without rustup (a distribution
/// toolchain) it assumes they are there and lets the builds say otherwise.
fn install_wasm_targets() -> Result<()> {
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
