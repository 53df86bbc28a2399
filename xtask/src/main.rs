//! Project commands, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! ```text
//! cargo xtask dev [--listen 127.0.0.1:3000]   build, then serve spin.toml on our host
//! cargo xtask up [--replicas stock=2] [--metrics]  the whole stack: Consul, Traefik, hosts, sidecar (+ Prometheus)
//! cargo xtask test                             every check CI runs, in order
//! cargo xtask bench                            ratios host/native, written to bench/
//! cargo xtask bench reports                    the reports over 1,000,000 movements, printed
//! cargo xtask backup [--to DIR]               every database and the secrets, one archive
//! cargo xtask restore ARCHIVE                  checks the archive, then puts it in place
//! cargo xtask systemd                         a systemd unit running `up` from this checkout at boot
//! cargo xtask registry [--check]               write or verify service-registry.json
//! cargo xtask secrets                          .env for `spin up`, from .data/secrets/
//! ```

mod bench;
mod dev;
mod systemd;
mod test;
mod up;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use xtask::secrets::Secrets;
use xtask::{cmd, project_root, registry};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  dev [--listen ADDR]   build the components and the host, then serve spin.toml (default 127.0.0.1:3000)
  up [--replicas C=N] [--metrics]
                        install Consul and Traefik, build, start the whole stack (Ctrl-C stops it);
                        --metrics adds Prometheus on :9090, scraping Traefik, the hosts and the sidecar;
                        --data-dir DIR and --free-ports run a second stack beside the first;
                        a process that exits is restarted (backoff 0.5 s to 30 s)
  test [STEP...]        run every check CI runs, or only the steps named (see below)
  bench                 measure the host against a native baseline, write bench/results/ (release build, about 7 min)
  bench reports         only time the reports over 100,000 pieces and 1,000,000 movements
  backup [--to DIR]     copy every database (while the stack runs or not) and the secrets
                        into DIR/gestion-de-stock-<UTC instant>.tar.gz (default backups/)
  restore ARCHIVE       check the archive, then replace .data/'s databases and secrets with it
                        (the stack must be stopped; what it replaces is moved aside)
  systemd               print a systemd unit that runs `cargo xtask up` from this checkout at boot
  registry [--check]    write service-registry.json from spin.toml, or fail if it is stale
  secrets               make the secrets if missing and write them to .env, where `spin up` reads them";

const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let root = project_root()?;
    let (command, options) = args
        .split_first()
        .map_or(("help", &[][..]), |(c, o)| (c.as_str(), o));
    match command {
        "dev" => dev::run(&root, &listen_option(options)?),
        "up" => up::run(&root, options),
        "bench" => match options {
            [] => bench::run(&root),
            [only] if only == "reports" => bench::run_reports(&root),
            _ => bail!("`bench` takes only `reports`\n\n{USAGE}"),
        },
        "test" => test::run(&root, options),
        "backup" => backup(&root, options),
        "restore" => match options {
            [archive] if !archive.starts_with('-') => restore(&root, Path::new(archive)),
            _ => bail!("`restore` takes the archive's path\n\n{USAGE}"),
        },
        "secrets" => {
            no_options(command, options)?;
            secrets(&root)
        }
        "systemd" => {
            no_options(command, options)?;
            print!("{}", systemd::unit(&root)?);
            Ok(())
        }
        "registry" => match options {
            [] => registry::write(&root),
            [flag] if flag == "--check" => registry::check(&root),
            _ => bail!("`registry` takes only `--check`\n\n{USAGE}"),
        },
        "help" | "--help" | "-h" => {
            println!(
                "{USAGE}\n\ntest steps, in the order they run:\n{}",
                test::usage()
            );
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The secrets `up` and `dev` use, written to `.env` for `spin up` (Spin's
/// environment provider reads `.env` in the directory it starts in).
fn secrets(root: &Path) -> Result<()> {
    let data = root.join(".data");
    xtask::secrets::create_private_dir(&data)?;
    let secrets = Secrets::load_or_create(&data.join("secrets"))?;
    let dotenv = root.join(".env");
    secrets.write_dotenv(&dotenv)?;
    eprintln!(
        "wrote {} (0600): spin up --runtime-config-file runtime-config.toml now finds the secrets",
        dotenv.display()
    );
    if secrets.admin_password_generated {
        eprintln!(
            "admin login: {} / {} (generated; kept in .data/secrets/admin-password)",
            secrets.admin_username, secrets.admin_password
        );
    }
    Ok(())
}

fn backup(root: &Path, options: &[String]) -> Result<()> {
    let out = match options {
        [] => root.join("backups"),
        [flag, dir] if flag == "--to" => root.join(dir),
        _ => bail!("`backup` takes only `--to DIR`\n\n{USAGE}"),
    };
    cmd::announce("backing up .data/");
    let archive = xtask::backup::create(root, &root.join(".data"), &out)?;
    eprintln!("wrote {} (0600: it holds the secrets)", archive.display());
    Ok(())
}

fn restore(root: &Path, archive: &Path) -> Result<()> {
    cmd::announce(&format!("restoring {}", archive.display()));
    let restored = xtask::backup::restore(root, &root.join(".data"), archive)?;
    eprintln!(
        "restored the backup of {} into .data/; start the stack as usual",
        restored.created_at
    );
    if let Some(replaced) = restored.replaced {
        eprintln!("what it replaced is in {}", replaced.display());
    }
    Ok(())
}

/// `--listen ADDR` or `--listen=ADDR`, else the Spin default.
fn listen_option(options: &[String]) -> Result<String> {
    match options {
        [] => Ok(DEFAULT_LISTEN.to_owned()),
        [flag, addr] if flag == "--listen" => Ok(addr.clone()),
        [flag] if flag.starts_with("--listen=") => Ok(flag["--listen=".len()..].to_owned()),
        _ => bail!("`dev` takes only `--listen ADDR`\n\n{USAGE}"),
    }
}

fn no_options(command: &str, options: &[String]) -> Result<()> {
    if !options.is_empty() {
        bail!("`{command}` takes no options\n\n{USAGE}");
    }
    Ok(())
}
