//! `cargo xtask test [STEP...]`: every check CI runs, in steps, cheapest
//! first, stopping at the first failure. Each step installs and builds only
//! what it needs and runs alone (`cargo xtask test unit`); without a step,
//! all of them run, which is what CI and the README call. Each step is
//! idempotent, so rerunning after a fix is cheap.

use std::path::Path;

use anyhow::Result;

use xtask::{cmd, components, registry, tools};

struct Step {
    name: &'static str,
    what: &'static str,
    run: fn(&Path) -> Result<()>,
}

const STEPS: &[Step] = &[
    Step {
        name: "unit",
        what: "fmt, service-registry.json, clippy, every crate's unit tests",
        run: unit,
    },
    Step {
        name: "host",
        what: "the host against the probe component",
        run: host,
    },
    Step {
        name: "e2e",
        what: "the app on one host and on real `spin up`",
        run: e2e,
    },
    Step {
        name: "stack",
        what: "Consul, Traefik, hosts and sidecar together; faults",
        run: stack,
    },
    Step {
        name: "browser",
        what: "the French UI in Chromium, through the stack",
        run: browser,
    },
    Step {
        name: "fuzz",
        what: "schemathesis on each service's OpenAPI document",
        run: fuzz,
    },
];

/// The end-to-end test modules (`tests/tests/api/`) each later step runs;
/// the `e2e` step runs every other one.
const STACK_TESTS: &[&str] = &["stack::", "faults::", "backup::", "supervision::"];
const BROWSER_TESTS: &[&str] = &["browser::"];
const FUZZ_TESTS: &[&str] = &["fuzz::"];

/// The usage line of the steps, for `cargo xtask help`.
pub fn usage() -> String {
    STEPS
        .iter()
        .map(|step| format!("    {:<9}{}", step.name, step.what))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(root: &Path, names: &[String]) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    let chosen: Vec<&Step> = if names.is_empty() {
        STEPS.iter().collect()
    } else {
        names
            .iter()
            .map(|name| {
                STEPS
                    .iter()
                    .find(|step| step.name == name)
                    .ok_or_else(|| anyhow::anyhow!("no test step `{name}`; steps:\n{}", usage()))
            })
            .collect::<Result<_>>()?
    };
    for step in &chosen {
        cmd::announce(&format!("test step `{}`: {}", step.name, step.what));
        (step.run)(root)?;
    }
    let names: Vec<&str> = chosen.iter().map(|step| step.name).collect();
    eprintln!("all checks passed ({})", names.join(", "));
    Ok(())
}

fn unit(root: &Path) -> Result<()> {
    cmd::step(
        "cargo fmt --all --check",
        cmd::cargo(root).args(["fmt", "--all", "--check"]),
    )?;
    cmd::announce("service-registry.json is up to date");
    registry::check(root)?;
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
        "unit tests",
        cmd::cargo(root).args(["test", "--workspace", "--lib", "--bins"]),
    )?;
    cmd::step(
        "documentation tests",
        cmd::cargo(root).args(["test", "--workspace", "--doc"]),
    )
}

fn host(root: &Path) -> Result<()> {
    components::install_wasm_targets()?;
    for target in ["wasm32-wasip2", "wasm32-wasip1"] {
        cmd::step(
            &format!("build the probe ({target})"),
            cmd::cargo(root).args(["build", "--release", "--target", target, "-p", "probe"]),
        )?;
    }
    cmd::step(
        "the host's tests",
        cmd::cargo(root).args(["test", "-p", "host", "--test", "host"]),
    )
}

fn e2e(root: &Path) -> Result<()> {
    build_app(root)?;
    let skipped = [STACK_TESTS, BROWSER_TESTS, FUZZ_TESTS]
        .concat()
        .into_iter()
        .flat_map(|filter| ["--skip", filter]);
    api_tests(root, "end-to-end tests on one host and on spin up", skipped)
}

fn stack(root: &Path) -> Result<()> {
    tools::ensure(root)?;
    build_app(root)?;
    api_tests(root, "stack tests", STACK_TESTS.iter().copied())
}

fn browser(root: &Path) -> Result<()> {
    tools::ensure(root)?;
    tools::ensure_browser(root)?;
    build_app(root)?;
    api_tests(root, "browser tests", BROWSER_TESTS.iter().copied())
}

fn fuzz(root: &Path) -> Result<()> {
    tools::ensure(root)?;
    tools::ensure_schemathesis(root)?;
    build_app(root)?;
    api_tests(root, "fuzzing", FUZZ_TESTS.iter().copied())
}

/// The components, the host and the sidecar, as the end-to-end tests run them.
fn build_app(root: &Path) -> Result<()> {
    components::install_wasm_targets()?;
    components::build_components(root)?;
    components::build_binaries(root)
}

fn api_tests<'a>(root: &Path, title: &str, filters: impl Iterator<Item = &'a str>) -> Result<()> {
    cmd::step(
        title,
        cmd::cargo(root)
            .args(["test", "-p", "e2e", "--test", "api", "--"])
            .args(filters),
    )
}
