//! `cargo xtask test`: every check CI runs, cheapest first, stopping at the
//! first failure. Each step is idempotent, so rerunning after a fix is cheap.

use std::path::Path;

use anyhow::Result;

use xtask::{cmd, components, registry, tools};

pub fn run(root: &Path) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    components::install_wasm_targets()?;
    cmd::step(
        "cargo fmt --all --check",
        cmd::cargo(root).args(["fmt", "--all", "--check"]),
    )?;
    cmd::announce("service-registry.json is up to date");
    registry::check(root)?;
    // The stack tests run the pinned Consul and Traefik; the browser and
    // fuzzing tests, Chromium with playwright-core and schemathesis.
    tools::ensure(root)?;
    tools::ensure_browser(root)?;
    tools::ensure_schemathesis(root)?;
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
