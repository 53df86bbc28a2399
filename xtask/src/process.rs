//! The stack's child processes: each line they print is prefixed with the
//! process's name and goes to one shared log; each dies with xtask (even a
//! `kill -9` of xtask) and stops with SIGTERM, then SIGKILL after a grace.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use logline::Format;

/// Where children's lines go: echoed (`up`, or tests under `TEST_LOG`) and
/// kept (the tail explains a failed start). Echoed prefixed with the
/// process's name, or, under `LOG_FORMAT=json`, as JSON objects with a
/// `process` field: the children then write JSON lines themselves, and a
/// line that is not one becomes the `message` of one.
#[derive(Clone)]
pub struct Log {
    echo: bool,
    format: Format,
    kept: Arc<Mutex<Vec<String>>>,
}

const KEPT_LINES: usize = 400;

impl Log {
    pub fn new(echo: bool) -> Self {
        Self {
            echo,
            format: Format::from_env(),
            kept: Arc::default(),
        }
    }

    pub fn line(&self, name: &str, line: &str) {
        if self.echo {
            println!("{}", echoed(self.format, name, line));
        }
        let line = format!("{name:>16} | {line}");
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT_LINES {
            kept.remove(0);
        }
        kept.push(line);
    }

    /// The last lines of `name`, for error messages.
    pub fn tail(&self, name: &str, count: usize) -> String {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let prefix = format!("{name:>16} | ");
        let lines: Vec<&String> = kept.iter().filter(|l| l.starts_with(&prefix)).collect();
        lines[lines.len().saturating_sub(count)..]
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The kept lines that contain `text`.
    pub fn lines_with(&self, text: &str) -> Vec<String> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    /// Whether any kept line contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().any(|l| l.contains(text))
    }
}

fn echoed(format: Format, name: &str, line: &str) -> String {
    match format {
        Format::Text => format!("{name:>16} | {line}"),
        Format::Json => {
            let mut object = match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(object)) => object,
                _ => serde_json::Map::from_iter([("message".to_owned(), line.into())]),
            };
            object.insert("process".to_owned(), name.into());
            serde_json::Value::Object(object).to_string()
        }
    }
}

pub struct Child {
    pub name: String,
    child: std::process::Child,
}

impl Child {
    pub fn spawn(name: &str, mut command: Command, log: &Log) -> Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name}: `{}`", crate::cmd::display(&command)))?;
        forward(name, child.stdout.take(), log);
        forward(name, child.stderr.take(), log);
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, without waiting: processes that drain stop side by side.
    pub fn terminate(&mut self) {
        if self.exited().is_none() {
            signal(self.pid(), libc::SIGTERM);
        }
    }

    /// SIGTERM, then SIGKILL if it is still there after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        self.terminate();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL now: a crash, for fault tests.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

fn forward(name: &str, stream: Option<impl Read + Send + 'static>, log: &Log) {
    let Some(stream) = stream else { return };
    let (name, log) = (name.to_owned(), log.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            log.line(&name, &line);
        }
    });
}

pub fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on a pid we spawned; no memory is involved.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Puts the child in its own process group (a Ctrl-C in the terminal
/// reaches xtask only, which stops the stack in order) and has the kernel
/// send it SIGTERM if xtask dies first, so nothing outlives the stack.
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_json_every_echoed_line_is_an_object_naming_its_process() {
        let json = echoed(
            Format::Json,
            "stock:8002",
            r#"{"level":"warn","message":"m"}"#,
        );
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json["process"], "stock:8002");
        assert_eq!(json["level"], "warn");
        let text = echoed(Format::Json, "consul", "==> Starting");
        let text: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text["message"], "==> Starting");
        assert_eq!(echoed(Format::Text, "ui", "x"), "              ui | x");
    }
}
