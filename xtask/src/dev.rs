//! `cargo xtask dev`: build everything, then serve `spin.toml` on our host.

use std::path::Path;

use anyhow::{Context, Result};

use xtask::secrets::Secrets;
use xtask::{cmd, components};

pub fn run(root: &Path, listen: &str) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    components::install_wasm_targets()?;
    components::build_components(root)?;
    components::build_binaries(root)?;
    // runtime-config.toml puts each database under .data/, relative to the
    // working directory, which is `root`.
    let data = root.join(".data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let secrets = Secrets::load_or_create(&data.join("secrets"))?;
    if secrets.admin_password_generated {
        eprintln!(
            "admin login: {} / {} (generated; kept in .data/secrets/admin-password)",
            secrets.admin_username, secrets.admin_password
        );
    }
    let mut host = components::host_up(root, listen);
    host.envs(secrets.env());
    // One host serves every component: services call each other on it.
    for peer in [
        "SPIN_VARIABLE_STOCK_URL",
        "SPIN_VARIABLE_PIECES_URL",
        "SPIN_VARIABLE_NOTIFICATIONS_URL",
    ] {
        host.env(peer, listen);
    }
    // Same origin for the UI and the API: no edge in front of this host.
    host.env("SPIN_VARIABLE_API_BASE", format!("http://{listen}"));
    cmd::announce(&cmd::display(&host));
    match cmd::exec(host)? {}
}
