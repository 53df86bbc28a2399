//! `cargo xtask up [--replicas COMPONENT=N]... [--metrics] [--data-dir DIR]
//! [--free-ports]`: installs the pinned tools, builds, starts the whole
//! stack on the seed's ports (or free ones) and stays in the foreground
//! with one log, restarting whatever process exits (`supervise`); only
//! Ctrl-C or SIGTERM stops everything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use xtask::components::{self, SERVICES};
use xtask::control::DASHBOARD_USER;
use xtask::lock::Lock;
use xtask::process::Log;
use xtask::secrets::Secrets;
use xtask::stack::{MetricsConfig, Ports, Stack, StackConfig};
use xtask::supervise::Supervisor;
use xtask::{cmd, tools};

pub fn run(root: &Path, options: &[String]) -> Result<()> {
    let options = parse(options)?;
    cmd::ensure_default_target_dir(root)?;
    let data_dir = match &options.data_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => root.join(".data"),
    };
    xtask::secrets::create_private_dir(&data_dir)?;
    let _lock = Lock::take(&data_dir)?;
    let secrets = Secrets::load_or_create(&data_dir.join("secrets"))?;
    let tools = tools::ensure(root)?;
    let metrics = match (options.metrics, options.free_ports) {
        (false, _) => None,
        (true, false) => Some(MetricsConfig::standard(root)?),
        (true, true) => Some(MetricsConfig::free(root)?),
    };
    let ports = if options.free_ports {
        Ports::free(&options.replicas)?
    } else {
        Ports::standard(&options.replicas)
    };
    components::install_wasm_targets()?;
    components::build_components(root)?;
    components::build_binaries(root)?;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let mut stack = Stack::start(StackConfig {
        root: root.to_owned(),
        data_dir: data_dir.clone(),
        ports,
        tools,
        log: Log::new(true),
        env: secrets.env(),
        host: components::binary(root, "host"),
        metrics,
    })?;
    print_urls(&stack, &secrets, &data_dir);
    let mut supervisor = Supervisor::default();
    while !stop.load(Ordering::Relaxed) {
        supervisor.tick(&mut stack);
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("stopping the stack...");
    stack.stop();
    eprintln!("stopped; data kept in {}", data_dir.display());
    Ok(())
}

fn print_urls(stack: &Stack, secrets: &Secrets, data_dir: &Path) {
    let web = stack.web_url();
    println!();
    println!("Gestion de stock is up:");
    println!("  UI                 {}/", stack.ui_url());
    println!("  API (via Traefik)  {web}/api/...  e.g. {web}/api/stock/health/");
    let [consul_token, dashboard_password] = stack.credential_files();
    println!(
        "  Consul UI          {}/ui/  (token in {})",
        stack.consul_url(),
        consul_token.display()
    );
    println!(
        "  Traefik dashboard  {}  (user {DASHBOARD_USER}, password in {})",
        stack.dashboard_url(),
        dashboard_password.display()
    );
    if let Some(prometheus) = stack.prometheus_url() {
        println!(
            "  Prometheus         {prometheus}/alerts  (rules in deploy/prometheus-rules.yml)"
        );
    }
    for (component, ports) in &stack.ports.instances {
        if ports.len() > 1 {
            println!("  {component} replicas on ports {ports:?}");
        }
    }
    // The generated password is shown once, the run that made it; after
    // that it lives only in its 0600 file.
    let password = data_dir.join("secrets/admin-password");
    if secrets.admin_password_generated {
        println!(
            "  Admin login        {} / {}  (generated; kept in {})",
            secrets.admin_username,
            secrets.admin_password,
            password.display()
        );
    } else {
        println!(
            "  Admin login        {}  (password in {})",
            secrets.admin_username,
            password.display()
        );
    }
    println!("Press Ctrl-C to stop.");
    println!();
}

/// What `up` was asked for.
#[derive(Debug, Default)]
struct Options {
    replicas: BTreeMap<String, usize>,
    metrics: bool,
    /// Instead of `.data/`: a second stack's databases and secrets.
    data_dir: Option<PathBuf>,
    /// Any free ports instead of the seed's (printed), for a second stack.
    free_ports: bool,
}

/// `--replicas stock=2` (repeatable; `stock=2,pieces=3` works too),
/// `--metrics`, `--data-dir DIR`, `--free-ports`.
fn parse(options: &[String]) -> Result<Options> {
    let mut parsed = Options::default();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let (flag, inline) = match option.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (option.as_str(), None),
        };
        let mut value = || {
            inline
                .or_else(|| options.next().map(String::as_str))
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag {
            "--metrics" => parsed.metrics = true,
            "--free-ports" => parsed.free_ports = true,
            "--data-dir" => parsed.data_dir = Some(PathBuf::from(value()?)),
            "--replicas" => parse_replicas(value()?, &mut parsed.replicas)?,
            _ => bail!(
                "`up` takes --replicas COMPONENT=N, --metrics, --data-dir DIR and --free-ports, not `{option}`"
            ),
        }
    }
    Ok(parsed)
}

fn parse_replicas(spec: &str, replicas: &mut BTreeMap<String, usize>) -> Result<()> {
    for pair in spec.split(',') {
        let (name, count) = pair
            .split_once('=')
            .with_context(|| format!("--replicas {pair}: expected COMPONENT=N"))?;
        if !SERVICES.iter().any(|s| s.name == name) {
            let known: Vec<_> = SERVICES.iter().map(|s| s.name).collect();
            bail!(
                "--replicas {pair}: no component `{name}` (known: {})",
                known.join(", ")
            );
        }
        let count: usize = count
            .parse()
            .ok()
            .filter(|n| (1..=9).contains(n))
            .with_context(|| format!("--replicas {pair}: N is a number from 1 to 9"))?;
        replicas.insert(name.to_owned(), count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn replicas_parse_in_both_spellings() {
        let r = parse(&args(&[
            "--replicas",
            "stock=2",
            "--replicas=pieces=3,auth=1",
        ]))
        .unwrap()
        .replicas;
        assert_eq!(r["stock"], 2);
        assert_eq!(r["pieces"], 3);
        assert_eq!(r["auth"], 1);
    }

    #[test]
    fn a_second_stack_takes_its_own_data_and_free_ports() {
        let o = parse(&args(&[
            "--data-dir",
            "/tmp/x",
            "--free-ports",
            "--metrics",
        ]))
        .unwrap();
        assert_eq!(o.data_dir, Some(PathBuf::from("/tmp/x")));
        assert!(o.free_ports && o.metrics);
        assert!(parse(&args(&["--data-dir"])).is_err());
    }

    #[test]
    fn bad_replicas_say_why() {
        for bad in [
            &["--replicas", "nope=2"][..],
            &["--replicas", "stock=0"],
            &["--replicas"],
            &["--other"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
