//! The project's commands as a library: `cargo xtask` is its command line,
//! and the end-to-end tests start the stack through [`stack`] exactly as
//! `cargo xtask up` does.

pub mod backup;
pub mod cmd;
pub mod components;
pub mod control;
pub mod lock;
pub mod process;
pub mod registry;
pub mod secrets;
pub mod spin;
pub mod stack;
pub mod supervise;
pub mod tools;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The workspace root, one level above the package cargo runs (`cargo
/// run` and `cargo test` say which when they start it); the directory xtask
/// was compiled in only when run by hand. Cargo shares artifacts between
/// checkouts of one workspace that share a target directory, so the
/// compile-time path may be another checkout's.
pub fn project_root() -> anyhow::Result<PathBuf> {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    package
        .parent()
        .map(Path::to_path_buf)
        .context("the package cargo runs has no parent directory")
}
