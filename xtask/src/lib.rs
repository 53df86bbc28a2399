//! The project's commands as a library: `cargo xtask` is its command line,
//! and the end-to-end tests start the stack through [`stack`] exactly as
//! `cargo xtask up` does.

pub mod cmd;
pub mod components;
pub mod control;
pub mod process;
pub mod registry;
pub mod secrets;
pub mod spin;
pub mod stack;
pub mod tools;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The workspace root: xtask lives one level below it.
pub fn project_root() -> anyhow::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}
