//! `cargo xtask dev`: build everything, then serve `spin.toml` on our host.

use std::path::Path;

use anyhow::{Context, Result};

use xtask::{cmd, components};

pub fn run(root: &Path, listen: &str) -> Result<()> {
    cmd::ensure_default_target_dir(root)?;
    components::build_components(root)?;
    components::build_binaries(root)?;
    // runtime-config.toml puts each database under .data/, relative to the
    // working directory, which is `root`.
    let data = root.join(".data");
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let host = components::host_up(root, listen);
    cmd::announce(&cmd::display(&host));
    match cmd::exec(host)? {}
}
