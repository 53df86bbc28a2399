//! `cargo xtask up [--replicas COMPONENT=N]...`: installs the pinned tools,
//! builds, starts the whole stack on the seed's ports and stays in the
//! foreground with one log; Ctrl-C stops everything.

use std::collections::BTreeMap;
use std::path::Path;
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
use xtask::{cmd, tools};

pub fn run(root: &Path, options: &[String]) -> Result<()> {
    let metrics = options.iter().any(|o| o == "--metrics");
    let options: Vec<String> = options
        .iter()
        .filter(|o| *o != "--metrics")
        .cloned()
        .collect();
    let replicas = parse_replicas(&options)?;
    cmd::ensure_default_target_dir(root)?;
    let data_dir = root.join(".data");
    xtask::secrets::create_private_dir(&data_dir)?;
    let _lock = Lock::take(&data_dir)?;
    let secrets = Secrets::load_or_create(&data_dir.join("secrets"))?;
    let tools = tools::ensure(root)?;
    let metrics = metrics.then(|| MetricsConfig::standard(root)).transpose()?;
    components::install_wasm_targets()?;
    components::build_components(root)?;
    components::build_binaries(root)?;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let mut stack = Stack::start(StackConfig {
        root: root.to_owned(),
        data_dir,
        ports: Ports::standard(&replicas),
        tools,
        log: Log::new(true),
        env: secrets.env(),
        host: components::binary(root, "host"),
        metrics,
    })?;
    print_urls(&stack, &secrets);
    while !stop.load(Ordering::Relaxed) {
        if let Some(why) = stack.exited() {
            eprintln!("{why}: stopping the stack");
            stack.stop();
            bail!("{why}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("stopping the stack...");
    stack.stop();
    eprintln!("stopped; data kept in .data/");
    Ok(())
}

fn print_urls(stack: &Stack, secrets: &Secrets) {
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
    if secrets.admin_password_generated {
        println!(
            "  Admin login        {} / {}  (generated; kept in .data/secrets/admin-password)",
            secrets.admin_username, secrets.admin_password
        );
    } else {
        println!(
            "  Admin login        {}  (password in .data/secrets/admin-password)",
            secrets.admin_username
        );
    }
    println!("Press Ctrl-C to stop.");
    println!();
}

/// `--replicas stock=2` (repeatable; `stock=2,pieces=3` works too).
fn parse_replicas(options: &[String]) -> Result<BTreeMap<String, usize>> {
    let mut replicas = BTreeMap::new();
    let mut options = options.iter();
    while let Some(option) = options.next() {
        let spec = match option.strip_prefix("--replicas") {
            Some("") => options
                .next()
                .context("--replicas needs COMPONENT=N")?
                .as_str(),
            Some(rest) if rest.starts_with('=') => &rest[1..],
            _ => bail!("`up` takes only --replicas COMPONENT=N and --metrics"),
        };
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
    }
    Ok(replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn replicas_parse_in_both_spellings() {
        let r = parse_replicas(&args(&[
            "--replicas",
            "stock=2",
            "--replicas=pieces=3,auth=1",
        ]))
        .unwrap();
        assert_eq!(r["stock"], 2);
        assert_eq!(r["pieces"], 3);
        assert_eq!(r["auth"], 1);
    }

    #[test]
    fn bad_replicas_say_why() {
        for bad in [
            &["--replicas", "nope=2"][..],
            &["--replicas", "stock=0"],
            &["--replicas"],
            &["--other"],
        ] {
            assert!(parse_replicas(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
