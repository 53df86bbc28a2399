//! `spawn_app()`: a host on a free port with fresh databases, per test.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;
use ureq::Agent;
use xtask::secrets::Secrets;

/// How long the host may take to compile the components and start serving.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The API services (`xtask::components`); each owns the SQLite label of
/// its own name.
pub fn services() -> Vec<&'static str> {
    xtask::components::api_services().map(|s| s.name).collect()
}

/// A running host; dropping it stops the host and deletes its databases.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub address: String,
    pub client: Agent,
    /// Holds the runtime config and the SQLite files.
    pub data_dir: TempDir,
    /// The keys and passwords the host was given (`xtask::secrets`).
    pub secrets: Secrets,
    host: Child,
    stderr: Arc<Mutex<String>>,
}

impl TestApp {
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None, &[], None)
    }

    pub fn post(&self, path: &str) -> Reply {
        self.request("POST", path, None, &[], None)
    }

    /// `method path` with an optional bearer token and an optional body of
    /// the given content type.
    /// `POST path` with a token and no body.
    pub fn post_as(&self, path: &str, token: &str) -> Reply {
        self.call("POST", path, Some(token), None)
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Reply {
        let body = body.as_ref().map(|(kind, text)| (*kind, text.as_str()));
        self.request(method, path, token, &[], body)
    }

    /// `method path` with extra headers and an optional `(content type, body)`.
    pub fn call_with_headers_and_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        (content_type, body): (&str, String),
    ) -> Reply {
        let body = (!content_type.is_empty()).then_some((content_type, body.as_str()));
        self.request(method, path, None, headers, body)
    }

    pub fn call_with_headers(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request(method, path, None, headers, None)
    }

    /// The one way every test speaks HTTP to the host: `method path` with an
    /// optional bearer token, extra headers and an optional
    /// `(content type, body)`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> Reply {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (content_type, text) = body.unwrap_or_default();
        if body.is_some() {
            request = request.header("content-type", content_type);
        }
        let request = request
            .body(text.to_owned())
            .unwrap_or_else(|error| panic!("building {method} {path}: {error}"));
        let mut response = self
            .client
            .run(request)
            .unwrap_or_else(|error| panic!("{method} {path} failed: {error}"));
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|error| panic!("reading the body of {path}: {error}"));
        let status = response.status().as_u16();
        if status >= 500 {
            // Shown only if the test then fails: why the host answered so.
            eprintln!(
                "{method} {path} answered {status}; the host's last log lines:\n{}",
                last_lines(&self.log(), LOG_LINES_ON_SERVER_ERROR)
            );
        }
        Reply {
            status,
            headers: response.headers().clone(),
            body,
        }
    }

    /// What the host (and its components) wrote to stderr so far.
    pub fn log(&self) -> String {
        self.stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }

    /// The service-to-service credential this host was started with.
    pub fn internal_secret(&self) -> String {
        self.secrets
            .env()
            .into_iter()
            .find(|(name, _)| name == "SPIN_VARIABLE_INTERNAL_SECRET")
            .map(|(_, value)| value)
            .expect("the secrets include the internal one")
    }

    /// `method path` with a JSON body (and a bearer token if given).
    pub fn json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Reply {
        self.call(
            method,
            path,
            token,
            Some(("application/json", body.to_string())),
        )
    }

    /// Logs in; panics unless it succeeds. `{access, refresh, user}`.
    pub fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let reply = self.json(
            "POST",
            "/api/auth/login/",
            None,
            &serde_json::json!({ "username": username, "password": password }),
        );
        assert_eq!(reply.status, 200, "login as {username}: {}", reply.body);
        reply.json()
    }

    /// An access token of the bootstrap admin.
    pub fn admin_token(&self) -> String {
        let tokens = self.login(&self.secrets.admin_username, &self.secrets.admin_password);
        tokens["access"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Creates a user with `role` (as the admin) and returns an access
    /// token of theirs; the password is `{username}-password`.
    pub fn user_token(&self, username: &str, role: &str) -> String {
        let password = format!("{username}-password");
        let reply = self.json(
            "POST",
            "/api/auth/users/",
            Some(&self.admin_token()),
            &serde_json::json!({ "username": username, "password": password, "role": role }),
        );
        assert_eq!(reply.status, 201, "create {username}: {}", reply.body);
        let tokens = self.login(username, &password);
        tokens["access"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// A token for each role: the bootstrap admin, and users it creates.
    pub fn team(&self) -> Team {
        Team {
            admin: self.admin_token(),
            manager: self.user_token("gerante", "manager"),
            operator: self.user_token("magasinier", "operator"),
            viewer: self.user_token("lecteur", "viewer"),
        }
    }
}

/// An access token of each role; user `x` has the password `x-password`.
pub struct Team {
    pub admin: String,
    pub manager: String,
    pub operator: String,
    pub viewer: String,
}

impl Team {
    /// Viewer first, admin last (`docs/ROLES.md`'s order).
    pub fn by_role(&self) -> [(&'static str, &str); 4] {
        [
            ("viewer", &self.viewer),
            ("operator", &self.operator),
            ("manager", &self.manager),
            ("admin", &self.admin),
        ]
    }
}

/// A workshop on one host serving every component, each selected as the
/// split stack's hosts select theirs (so that the internal routes the
/// sidecar calls answer here too), with a team and what stock, pieces and
/// notifications tests do most.
pub struct Workshop {
    pub app: TestApp,
    pub team: Team,
}

impl Workshop {
    pub fn open() -> Self {
        let app = spawn_app_selecting_each_component();
        let team = app.team();
        Self { app, team }
    }

    /// A new piece (as the admin); its id.
    pub fn piece(&self, reference: &str, min_stock: i64) -> i64 {
        let reply = self.app.json(
            "POST",
            "/api/pieces/",
            Some(&self.team.admin),
            &serde_json::json!({ "reference": reference, "name": format!("Pièce {reference}"), "min_stock": min_stock }),
        );
        assert_eq!(reply.status, 201, "create piece: {}", reply.body);
        reply.json()["id"].as_i64().expect("a piece id")
    }

    pub fn movement(&self, token: &str, body: serde_json::Value) -> Reply {
        self.app
            .json("POST", "/api/stock/movement/", Some(token), &body)
    }

    pub fn level(&self, piece: i64) -> serde_json::Value {
        let reply = self.app.call(
            "GET",
            &format!("/api/stock/{piece}/"),
            Some(&self.team.viewer),
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// A new location (as the manager); its id.
    pub fn location(&self, code: &str, name: &str, parent: Option<i64>) -> i64 {
        let reply = self.app.json(
            "POST",
            "/api/stock/locations/",
            Some(&self.team.manager),
            &serde_json::json!({ "code": code, "name": name, "parent_id": parent }),
        );
        assert_eq!(reply.status, 201, "create location: {}", reply.body);
        reply.json()["id"].as_i64().expect("a location id")
    }

    /// What each location holds of `piece`, by location code.
    pub fn held(&self, piece: i64) -> std::collections::BTreeMap<String, i64> {
        self.level(piece)["locations"]
            .as_array()
            .expect("the locations of a level")
            .iter()
            .map(|at| {
                (
                    at["code"].as_str().unwrap_or_default().to_owned(),
                    at["quantity"].as_i64().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// What the sidecar does every second in the stack.
    pub fn flush_outbox(&self) -> serde_json::Value {
        let reply = self.app.call_with_headers(
            "POST",
            "/api/stock/internal/outbox/flush/",
            &[("x-internal-secret", &self.app.internal_secret())],
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The host may have exited already; nothing else to do then.
        let _ = self.host.kill();
        let _ = self.host.wait();
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }
}

/// Starts `target/debug/host up` on the repository's `spin.toml` with a
/// runtime config of its own, and waits until it serves.
pub fn spawn_app() -> TestApp {
    spawn_app_with(&[])
}

/// As [`spawn_app`], with extra environment variables for the host (they
/// win over the defaults below), e.g. a peer URL that nothing answers.
pub fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    spawn(env, &[])
}

/// As [`spawn_app`], with every component selected by `-c`, as the hosts of
/// the split stack select theirs: selective deployment drops the
/// `static_response` triggers, so the internal routes answer (to the
/// service secret) as they do on each service's own host.
pub fn spawn_app_selecting_each_component() -> TestApp {
    spawn_app_on(&[])
}

/// As [`spawn_app_selecting_each_component`], with extra environment
/// variables for the host.
pub fn spawn_app_selecting_each_component_with(env: &[(&str, &str)]) -> TestApp {
    spawn_seeded(env, &COMPONENTS, &[])
}

/// As [`spawn_app_selecting_each_component`], on databases that exist
/// already: each `(service, sql)` is loaded into the service's file first,
/// as an older version of the app left it.
pub fn spawn_app_on(databases: &[(&str, &str)]) -> TestApp {
    spawn_seeded(&[], &COMPONENTS, databases)
}

/// Every component of `spin.toml`.
const COMPONENTS: [&str; 6] = [
    "auth",
    "pieces",
    "stock",
    "notifications",
    "purchasing",
    "ui",
];

/// Our host, built by `cargo xtask test`.
pub fn host_binary() -> PathBuf {
    let root = project_root();
    let host = root
        .join("target/debug")
        .join(format!("host{}", std::env::consts::EXE_SUFFIX));
    require_artifacts(&root, &host);
    host
}

fn spawn(env: &[(&str, &str)], components: &[&str]) -> TestApp {
    spawn_seeded(env, components, &[])
}

fn spawn_seeded(env: &[(&str, &str)], components: &[&str], databases: &[(&str, &str)]) -> TestApp {
    let root = project_root();
    let host = host_binary();

    let data_dir = tempfile::tempdir().expect("create a temp dir");
    for (service, sql) in databases {
        // A dump creates each table in name order, before the ones its
        // rows reference.
        rusqlite::Connection::open(database_file(data_dir.path(), service))
            .and_then(|db| {
                db.pragma_update(None, "foreign_keys", false)?;
                db.execute_batch(sql)
            })
            .unwrap_or_else(|error| panic!("loading {service}'s database: {error}"));
    }
    let secrets = Secrets::load_or_create(&data_dir.path().join("secrets"))
        .unwrap_or_else(|error| panic!("make the secrets: {error:#}"));
    let runtime_config = data_dir.path().join("rc.toml");
    std::fs::write(&runtime_config, runtime_config_toml(data_dir.path()))
        .expect("write the runtime config");

    let listen = free_address();

    let mut command = Command::new(&host);
    command
        .arg("up")
        .arg("-f")
        .arg(root.join("spin.toml"))
        .args(["--listen", &listen, "--runtime-config-file"])
        .arg(&runtime_config)
        .args(components.iter().flat_map(|id| ["-c", id]))
        // One host serves every component: services chain to each other in
        // it (`spin.toml`'s defaults).
        .envs(secrets.env())
        .envs(env.iter().copied());
    start(command, &listen, data_dir, secrets)
}

/// Waits up to 2 s for what a service does right after its response (its
/// outbox): `check` holds by then, or the test fails naming `what`.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "not within 2 s: {what}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A free port on 127.0.0.1, as `127.0.0.1:PORT`. Another process could
/// take it before the runtime binds it; on a test machine that is rare
/// enough.
pub fn free_address() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port();
    format!("127.0.0.1:{port}")
}

/// Starts `command` (a Spin runtime's `up` listening on `listen`) in
/// `data_dir`, and waits until it prints `Serving http://`, as `spin up`
/// and our host both do.
pub fn start(mut command: Command, listen: &str, data_dir: TempDir, secrets: Secrets) -> TestApp {
    let program = command.get_program().to_owned();
    let mut child = command
        // Anything the runtime writes relative to its working directory
        // stays in the temp dir, not in the repository.
        .current_dir(data_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));

    let stderr = collect(child.stderr.take().expect("stderr is piped"));
    let serving = watch_for_serving(child.stdout.take().expect("stdout is piped"));
    match serving.recv_timeout(STARTUP_TIMEOUT) {
        Ok(()) => {}
        Err(_) => {
            let status = child.try_wait().ok().flatten();
            let _ = child.kill();
            let _ = child.wait();
            // Give the reader thread a moment to drain what the host wrote.
            thread::sleep(Duration::from_millis(200));
            panic!(
                "{} did not print `Serving http://` within {STARTUP_TIMEOUT:?} (exit status: {}); its stderr:\n{}",
                program.display(),
                status.map_or_else(|| "still running".to_owned(), |s| s.to_string()),
                stderr.lock().map(|text| text.clone()).unwrap_or_default(),
            );
        }
    }

    let client: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    TestApp {
        address: format!("http://{listen}"),
        client,
        data_dir,
        secrets,
        host: child,
        stderr,
    }
}

/// The path of a service's SQLite file in `data_dir`.
pub fn database_file(data_dir: &Path, service: &str) -> PathBuf {
    data_dir.join(format!("{service}.db"))
}

fn runtime_config_toml(data_dir: &Path) -> String {
    let mut databases = toml::Table::new();
    for service in services() {
        let mut database = toml::Table::new();
        database.insert("type".into(), "spin".into());
        database.insert(
            "path".into(),
            database_file(data_dir, service)
                .to_string_lossy()
                .into_owned()
                .into(),
        );
        databases.insert(service.into(), database.into());
    }
    let mut config = toml::Table::new();
    config.insert("sqlite_database".into(), databases.into());
    toml::to_string(&config).expect("a table of strings serialises")
}

pub fn project_root() -> PathBuf {
    xtask::project_root().expect("the tests crate sits in the workspace")
}

/// Fails with the command to run when the host or a component is not built.
fn require_artifacts(root: &Path, host: &Path) {
    let manifest: toml::Table = std::fs::read_to_string(root.join("spin.toml"))
        .expect("read spin.toml")
        .parse()
        .expect("parse spin.toml");
    let sources = manifest
        .get("component")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|components| components.values())
        .filter_map(|component| component.get("source")?.as_str())
        .map(|source| root.join(source));
    let missing: Vec<PathBuf> = std::iter::once(host.to_path_buf())
        .chain(sources)
        .filter(|path| !path.exists())
        .collect();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: run `cargo xtask test` (it builds the host and the components first)"
    );
}

/// Signals once the host prints `Serving http://`, then keeps draining its
/// stdout so it never blocks on a full pipe.
fn watch_for_serving(stdout: impl Read + Send + 'static) -> mpsc::Receiver<()> {
    let (serving, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("Serving http://") {
                // The receiver is gone once the test stopped waiting.
                let _ = serving.send(());
            }
        }
    });
    receiver
}

/// Lines of the host's log printed after a 5xx answer.
const LOG_LINES_ON_SERVER_ERROR: usize = 30;

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Accumulates the host's stderr for failure messages.
fn collect(stderr: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut text) = sink.lock() {
                text.push_str(&line);
                text.push('\n');
            }
        }
    });
    text
}
