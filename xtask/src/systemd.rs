//! `cargo xtask systemd`: a systemd unit that runs `cargo xtask up` from
//! this checkout at boot and starts it again if it ever exits with an
//! error (within, `up` restarts the stack's processes itself).

use std::path::Path;

use anyhow::{Context, Result};

/// The unit for this checkout, this toolchain and this user.
pub fn unit(root: &Path) -> Result<String> {
    let cargo = std::env::var_os("CARGO")
        .map(std::path::PathBuf::from)
        .context("run it as `cargo xtask systemd`: the unit names the cargo that runs it")?;
    let toolchain = cargo
        .parent()
        .context("cargo's path has no directory")?
        .display()
        .to_string();
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_owned());
    Ok(format!(
        "[Unit]
Description=Gestion de stock: the whole stack (cargo xtask up)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={root}
# cargo, rustc and the wasm targets of the toolchain that wrote this unit.
Environment=PATH={toolchain}:/usr/local/bin:/usr/bin:/bin
ExecStart={cargo} xtask up
# `up` stops the stack in order on SIGTERM (hosts drain for 3 s).
KillSignal=SIGTERM
TimeoutStopSec=90
Restart=on-failure
RestartSec=10

[Install]
WantedBy=multi-user.target
",
        root = root.display(),
        cargo = cargo.display(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `systemd-analyze verify` accepts the unit (where systemd is there).
    #[test]
    fn the_unit_verifies() {
        let root = xtask::project_root().unwrap();
        if std::env::var_os("CARGO").is_none() {
            eprintln!("CARGO unset: not run by cargo, nothing to check");
            return;
        }
        let text = unit(&root).unwrap();
        assert!(
            text.contains(&format!("WorkingDirectory={}", root.display())),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gestion-de-stock.service");
        std::fs::write(&path, &text).unwrap();
        match std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .output()
        {
            Ok(output) => assert!(
                output.status.success(),
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(_) => eprintln!("no systemd-analyze here: the unit's syntax is not checked"),
        }
    }
}
