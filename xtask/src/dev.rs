//! `cargo xtask dev`: build everything, then serve `spin.toml` on our host.

use std::path::Path;

use anyhow::Result;

use xtask::lock::Lock;
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
    xtask::secrets::create_private_dir(&data)?;
    // Held by the host itself once exec'd: the pid stays the same.
    let _lock = Lock::take(&data)?;
    let secrets = Secrets::load_or_create(&data.join("secrets"))?;
    if secrets.admin_password_generated {
        eprintln!(
            "admin login: {} / {} (generated; kept in .data/secrets/admin-password)",
            secrets.admin_username, secrets.admin_password
        );
    }
    // One host serves every component: services chain to each other in it
    // and the UI calls its own origin (`spin.toml`'s defaults), as on
    // `spin up`.
    let mut host = components::host_up(root, listen);
    host.envs(secrets.env());
    cmd::announce(&cmd::display(&host));
    match cmd::exec(host)? {}
}
