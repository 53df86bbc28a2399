//! The real Spin CLI and Spin's conformance suite, where this machine has
//! them: tests and benchmarks run the app on both Spin and our host. Spin is
//! on no registry this project installs from, so it is found, never fetched.

use std::path::{Path, PathBuf};

/// `$SPIN`, else `spin` on `PATH`, else `../shared/tools/spin` beside the
/// repository.
pub fn binary(root: &Path) -> Option<PathBuf> {
    let from_env = std::env::var_os("SPIN").map(PathBuf::from);
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("spin"))
            .find(|candidate| candidate.is_file())
    });
    let beside = Some(root.join("../shared/tools/spin"));
    [from_env, on_path, beside]
        .into_iter()
        .flatten()
        .find(|path| path.is_file())
        .and_then(|path| path.canonicalize().ok())
}

/// Spin's conformance suite with its runner (`run.py`, `suite/`):
/// `$SPIN_CONFORMANCE`, else `../shared/conformance` beside the repository.
pub fn conformance_suite(root: &Path) -> Option<PathBuf> {
    std::env::var_os("SPIN_CONFORMANCE")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.join("../shared/conformance")])
        .find(|dir| dir.join("run.py").is_file() && dir.join("suite").is_dir())
        .and_then(|dir| dir.canonicalize().ok())
}
