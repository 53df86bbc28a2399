//! One process at a time owns a data directory's databases: `up`, `dev` and
//! `restore` each hold `<data>/stack/up.pid` while they run.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// The pid file, honoured while its pid lives; removed on drop.
pub struct Lock(PathBuf);

impl Lock {
    /// Takes the lock of `data_dir`, or says who holds it.
    pub fn take(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join("stack/up.pid");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(pid) = text.trim().parse::<i32>()
            && alive(pid)
        {
            bail!(
                "the stack is running on {} (pid {pid}); stop it with Ctrl-C in its terminal, or `kill {pid}`",
                data_dir.display()
            );
        }
        std::fs::write(&path, std::process::id().to_string())?;
        Ok(Self(path))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid != std::process::id() as i32 && unsafe { libc::kill(pid, 0) } == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_pid_file_refuses_a_second_owner() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("stack")).unwrap();
        let path = dir.path().join("stack/up.pid");
        std::fs::write(&path, "1").unwrap();
        let err = Lock::take(dir.path())
            .err()
            .expect("pid 1 is alive")
            .to_string();
        assert!(err.contains("is running"), "{err}");
        std::fs::write(&path, "999999999").unwrap();
        let lock = Lock::take(dir.path()).expect("a dead pid is no owner");
        drop(lock);
        assert!(!path.exists());
    }
}
