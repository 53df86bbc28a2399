//! Running processes: progress lines, failures as errors, the target-dir rule.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Prints `==> title`; every step of every command starts with one.
pub fn announce(title: &str) {
    eprintln!("==> {title}");
}

/// Runs `command` as the step `title`, inheriting the terminal; fails on a
/// non-zero exit.
pub fn step(title: &str, command: &mut Command) -> Result<()> {
    announce(title);
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("cannot start `{}`", display(command)))?;
    if !status.success() {
        bail!("step `{title}` failed ({status})");
    }
    eprintln!("    ok in {:.1?}", started.elapsed());
    Ok(())
}

/// `cargo`, the same one that runs xtask, working in `root`.
pub fn cargo(root: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command.current_dir(root);
    command
}

/// The artifact directory every path in `spin.toml` and the tests assume.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target")
}

/// Refuses a `CARGO_TARGET_DIR` other than `<root>/target`.
///
/// `spin.toml` names `target/wasm32-wasip2/release/*.wasm` relative to
/// itself and the tests run `target/debug/host`, so building elsewhere would
/// silently serve stale files. A symlinked `target/` is fine.
pub fn ensure_default_target_dir(root: &Path) -> Result<()> {
    for variable in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR"] {
        let Some(value) = std::env::var_os(variable) else {
            continue;
        };
        let configured = root.join(&value);
        let expected = target_dir(root);
        if !same_directory(&configured, &expected) {
            bail!(
                "{variable}={} but spin.toml and the tests read artifacts from {}; \
                 unset it, or make {} a symlink to the directory you want",
                configured.display(),
                expected.display(),
                expected.display(),
            );
        }
    }
    Ok(())
}

fn same_directory(a: &Path, b: &Path) -> bool {
    // Either may not exist yet on a fresh clone; then compare as written.
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Replaces xtask by `command` so that Ctrl-C and the exit code are the
/// child's own; returns only if it could not start.
#[cfg(unix)]
pub fn exec(mut command: Command) -> Result<std::convert::Infallible> {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    Err(error).with_context(|| format!("cannot run `{}`", display(&command)))
}

/// Runs `command` in the foreground and exits with its code. The console
/// delivers Ctrl-C to both processes; the child decides how to stop.
#[cfg(not(unix))]
pub fn exec(mut command: Command) -> Result<std::convert::Infallible> {
    let status = command
        .status()
        .with_context(|| format!("cannot run `{}`", display(&command)))?;
    std::process::exit(status.code().unwrap_or(1))
}

/// The command line, for messages.
pub fn display(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_target_dir_is_the_same_directory() {
        let base = std::env::temp_dir().join(format!("xtask-same-dir-{}", std::process::id()));
        let real = base.join("real");
        let link = base.join("link");
        std::fs::create_dir_all(&real).expect("create the real directory");
        std::os::unix::fs::symlink(&real, &link).expect("create the symlink");
        let same = same_directory(&link, &real);
        let different = same_directory(&base, &real);
        std::fs::remove_dir_all(&base).expect("clean up");
        assert!(same);
        assert!(!different);
    }

    #[test]
    fn directories_that_do_not_exist_yet_compare_as_written() {
        let root = Path::new("/nonexistent-xtask-root");
        assert!(same_directory(&root.join("target"), &target_dir(root)));
    }
}
