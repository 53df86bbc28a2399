//! Starts the real `host` binary on a free port with a manifest written by
//! the test, around the `probe` component the tests build themselves.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const WASIP1: &str = "wasm32-wasip1";
pub const WASIP2: &str = "wasm32-wasip2";

/// The probe twice: built for wasip1 (a core module the host adapts) at
/// `/p1/...`, for wasip2 (a component) at `/p2/...`.
pub const PROBES: &str = r#"
spin_manifest_version = 2
[application]
name = "probes"
[[trigger.http]]
route = "/p1/..."
component = "core-module"
[[trigger.http]]
route = "/p2/..."
component = "component"
[component.core-module]
source = "{probe}"
[component.component]
source = "{probe_p2}"
"#;

/// Builds the probe for `target` once per test run and returns its path.
pub fn probe(target: &'static str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(t, _)| *t == target) {
        return path.clone();
    }
    let workspace = workspace();
    let target_dir = workspace.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "probe",
            "--target",
            target,
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building the probe for {target} failed (is the target installed? `rustup target add {target}`):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = target_dir.join(target).join("release/probe.wasm");
    built.push((target, path.clone()));
    path
}

/// A running host, killed when dropped.
pub struct TestHost {
    pub address: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pub banner: String,
}

pub struct Setup<'a> {
    manifest: String,
    listen: String,
    runtime_config: Option<&'a str>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<tempfile::TempDir>,
}

/// Prepares a host for `manifest`, in which `{probe}` and `{probe_p2}`
/// stand for the probe built for wasip1 and wasip2.
pub fn setup(manifest: &str) -> Setup<'_> {
    let mut manifest = manifest.to_owned();
    if manifest.contains("{probe}") {
        manifest = manifest.replace("{probe}", &probe(WASIP1).display().to_string());
    }
    if manifest.contains("{probe_p2}") {
        manifest = manifest.replace("{probe_p2}", &probe(WASIP2).display().to_string());
    }
    Setup {
        manifest,
        listen: "127.0.0.1:0".into(),
        runtime_config: None,
        args: Vec::new(),
        env: Vec::new(),
        dir: None,
    }
}

impl<'a> Setup<'a> {
    /// `{dir}` in the runtime config stands for the test's temporary dir.
    pub fn runtime_config(mut self, toml: &'a str) -> Self {
        self.runtime_config = Some(toml);
        self
    }

    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = addr.into();
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Reuses a directory (and so its databases) from an earlier host.
    pub fn in_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    fn command(self) -> (Command, tempfile::TempDir) {
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let manifest = dir.path().join("spin.toml");
        std::fs::write(&manifest, &self.manifest).unwrap();
        let mut command = Command::new(workspace().join("target/debug/host"));
        command
            .current_dir(dir.path())
            .args(["up", "-f"])
            .arg(&manifest)
            .args(["--listen", &self.listen])
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(rc) = self.runtime_config {
            let path = dir.path().join("runtime-config.toml");
            std::fs::write(
                &path,
                rc.replace("{dir}", &dir.path().display().to_string()),
            )
            .unwrap();
            command.arg("--runtime-config-file").arg(path);
        }
        (command, dir)
    }

    /// Starts the host and waits for its `Serving http://` line.
    pub fn start(self) -> TestHost {
        let (mut command, dir) = self.command();
        let mut child = command.spawn().expect("host starts");
        let stdout = child.stdout.take().unwrap();
        let banner = Arc::new(Mutex::new(String::new()));
        let written = banner.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut banner = written.lock().unwrap();
                banner.push_str(&line);
                banner.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = loop {
            let seen = banner.lock().unwrap().clone();
            if let Some(line) = seen.lines().find(|l| l.starts_with("Serving http://")) {
                break line.trim_start_matches("Serving http://").to_owned();
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
                panic!("host exited ({status}) before serving:\n{stderr}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("host did not print `Serving http://` within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The route list is printed in the same write as `Serving`.
        std::thread::sleep(Duration::from_millis(20));
        let banner = banner.lock().unwrap().clone();
        // Drain stderr so a chatty host never blocks on a full pipe.
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("TEST_LOG").is_some() {
                    eprintln!("[host] {line}");
                }
            }
        });
        TestHost {
            address,
            dir,
            child,
            banner,
        }
    }

    /// Runs a host that must fail to start; returns its stderr.
    pub fn start_fails(self) -> String {
        let (mut command, _dir) = self.command();
        let output = command.output().expect("host runs");
        assert!(
            !output.status.success(),
            "host should have refused to start"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl TestHost {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], None)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.unwrap_or_default().to_vec())
            .expect("a valid request");
        let mut response = client()
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself (after a signal).
    pub fn wait(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "host still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The workspace root, from the package `cargo test` says it runs: the
/// compile-time paths may be those of another checkout sharing this target
/// directory (cargo shares artifacts between them).
fn workspace() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("host sits in the workspace")
        .to_path_buf()
}
