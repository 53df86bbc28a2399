//! The whole system as processes: Consul, Traefik, one host per component
//! instance, and the sidecar that registers the hosts in Consul. `up` runs
//! it on the seed's ports; the stack tests run the very same code on free
//! ports.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use manifest::Manifest;

use crate::components::{self, SERVICES};
use crate::control::{Credentials, DASHBOARD_USER};
use crate::process::{Child, Log};
use crate::secrets::{create_private_dir, write_private};
use crate::tools::Tools;

/// Every port the stack listens on, all on 127.0.0.1.
#[derive(Debug, Clone)]
pub struct Ports {
    pub web: u16,
    pub dashboard: u16,
    pub consul_http: u16,
    pub consul_server: u16,
    pub consul_serf_lan: u16,
    pub consul_serf_wan: u16,
    /// Each component's instances, first one first.
    pub instances: BTreeMap<&'static str, Vec<u16>>,
}

impl Ports {
    /// The seed's ports: Traefik 8090/8091, Consul 8500, services 8000-8003,
    /// UI 5500; replica `k` of a service listens on its port + 10·k.
    pub fn standard(replicas: &BTreeMap<String, usize>) -> Self {
        let instances = SERVICES
            .iter()
            .map(|s| {
                let count = replicas.get(s.name).copied().unwrap_or(1);
                (s.name, (0..count).map(|k| s.port + 10 * k as u16).collect())
            })
            .collect();
        Self {
            web: 8090,
            dashboard: 8091,
            consul_http: 8500,
            consul_server: 8300,
            consul_serf_lan: 8301,
            consul_serf_wan: 8302,
            instances,
        }
    }

    /// Free ports for a test stack, beside anything else running.
    pub fn free(replicas: &BTreeMap<String, usize>) -> Result<Self> {
        let count: usize = 6 + SERVICES
            .iter()
            .map(|s| replicas.get(s.name).copied().unwrap_or(1))
            .sum::<usize>();
        let mut ports = unused_ports(count)?.into_iter();
        let mut next = || ports.next().expect("as many ports as asked for");
        Ok(Self {
            web: next(),
            dashboard: next(),
            consul_http: next(),
            consul_server: next(),
            consul_serf_lan: next(),
            consul_serf_wan: next(),
            instances: SERVICES
                .iter()
                .map(|s| {
                    (
                        s.name,
                        (0..replicas.get(s.name).copied().unwrap_or(1))
                            .map(|_| next())
                            .collect(),
                    )
                })
                .collect(),
        })
    }

    fn all(&self) -> Vec<u16> {
        let mut all = vec![
            self.web,
            self.dashboard,
            self.consul_http,
            self.consul_server,
            self.consul_serf_lan,
            self.consul_serf_wan,
        ];
        all.extend(self.instances.values().flatten());
        all
    }
}

/// One process of the stack, as supervision names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Process {
    Consul,
    Traefik,
    Host(&'static str, u16),
    Sidecar,
    Prometheus,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Consul => f.write_str("consul"),
            Self::Traefik => f.write_str("traefik"),
            Self::Host(component, port) => write!(f, "{component}:{port}"),
            Self::Sidecar => f.write_str("sidecar"),
            Self::Prometheus => f.write_str("prometheus"),
        }
    }
}

pub struct StackConfig {
    pub root: PathBuf,
    /// SQLite files and the rendered configurations (`stack/`).
    pub data_dir: PathBuf,
    pub ports: Ports,
    pub tools: Tools,
    pub log: Log,
    /// Extra environment of every host: the `SPIN_VARIABLE_*` secrets
    /// (`Secrets::env`).
    pub env: Vec<(String, String)>,
    /// The host binary every instance runs: the debug build
    /// (`components::binary`), or the release one for measurements.
    pub host: PathBuf,
    /// Prometheus, scraping Traefik, every host and the sidecar (`up
    /// --metrics`).
    pub metrics: Option<MetricsConfig>,
}

pub struct MetricsConfig {
    pub prometheus: PathBuf,
    pub prometheus_port: u16,
    /// Where the sidecar serves its gauges.
    pub sidecar_port: u16,
}

impl MetricsConfig {
    /// Prometheus on 9090, the sidecar's gauges on 9102.
    pub fn standard(root: &Path) -> Result<Self> {
        Ok(Self {
            prometheus: crate::tools::ensure_prometheus(root)?,
            prometheus_port: 9090,
            sidecar_port: 9102,
        })
    }

    /// On free ports, for a test stack.
    pub fn free(root: &Path) -> Result<Self> {
        let [prometheus_port, sidecar_port] = unused_ports(2)?[..] else {
            bail!("two free ports");
        };
        Ok(Self {
            prometheus: crate::tools::ensure_prometheus(root)?,
            prometheus_port,
            sidecar_port,
        })
    }
}

/// A running stack; dropping it stops every process, newest first.
pub struct Stack {
    pub ports: Ports,
    pub log: Log,
    /// How every host instance is started (and restarted).
    hosts_launch: HostLaunch,
    tools: Tools,
    /// Rendered configurations and Traefik's access log.
    rendered: PathBuf,
    credentials: Credentials,
    consul: Option<Child>,
    traefik: Option<Child>,
    hosts: Vec<(&'static str, u16, Child)>,
    sidecar: Option<Child>,
    metrics: Option<MetricsConfig>,
    prometheus: Option<Child>,
}

const START_TIMEOUT: Duration = Duration::from_secs(60);

impl Stack {
    pub fn start(config: StackConfig) -> Result<Self> {
        let StackConfig {
            root,
            data_dir,
            ports,
            tools,
            log,
            env,
            host,
            metrics,
        } = config;
        let metrics_ports = metrics
            .iter()
            .flat_map(|m| [m.prometheus_port, m.sidecar_port]);
        for port in ports.all().into_iter().chain(metrics_ports) {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!("port {port} on 127.0.0.1 is in use: is another stack running?");
            }
        }
        let rendered = data_dir.join("stack");
        create_private_dir(&rendered)?;
        let credentials = Credentials::generate()?;
        credentials.write(&rendered)?;
        let runtime_config = relocate_runtime_config(&root, &data_dir, &rendered)?;
        let hosts_launch = HostLaunch {
            binary: host,
            root: root.clone(),
            runtime_config,
            manifest: Manifest::load(&root.join("spin.toml"))?,
            env: port_variables(&ports)
                .into_iter()
                .chain(env.iter().cloned())
                .collect(),
        };
        let mut stack = Self {
            ports,
            log,
            hosts_launch,
            tools: tools.clone(),
            rendered: rendered.clone(),
            credentials,
            consul: None,
            traefik: None,
            hosts: Vec::new(),
            sidecar: None,
            metrics,
            prometheus: None,
        };
        stack.start_consul(&tools)?;
        stack.start_traefik(&root, &tools, &rendered)?;
        stack.start_hosts()?;
        stack.start_sidecar(&root, &internal_secret(&env))?;
        stack.start_prometheus(&root)?;
        Ok(stack)
    }

    pub fn web_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.web)
    }

    pub fn ui_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.instances["ui"][0])
    }

    /// Prometheus, when the stack runs it (`up --metrics`).
    pub fn prometheus_url(&self) -> Option<String> {
        self.metrics
            .as_ref()
            .map(|m| format!("http://127.0.0.1:{}", m.prometheus_port))
    }

    pub fn consul_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.consul_http)
    }

    pub fn dashboard_url(&self) -> String {
        format!("http://127.0.0.1:{}/dashboard/", self.ports.dashboard)
    }

    /// Where the operator finds Consul's management token and the
    /// dashboard's password (user [`DASHBOARD_USER`]).
    pub fn credential_files(&self) -> [PathBuf; 2] {
        [
            self.rendered.join("consul-token"),
            self.rendered.join("dashboard-password"),
        ]
    }

    /// `GET path` of Consul's API with the management token.
    pub fn consul_get(&self, path: &str) -> Result<(u16, String)> {
        let token = ("x-consul-token", self.credentials.consul_management.clone());
        get_with(&format!("{}{path}", self.consul_url()), &[token])
    }

    /// `GET path` of Traefik's API (`/api/...`) with the dashboard's password.
    pub fn traefik_api_get(&self, path: &str) -> Result<(u16, String)> {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{DASHBOARD_USER}:{}",
            self.credentials.dashboard_password
        ));
        let url = format!("http://127.0.0.1:{}{path}", self.ports.dashboard);
        get_with(&url, &[("authorization", format!("Basic {basic}"))])
    }

    /// Traefik's access log: one JSON line per request, naming the
    /// instance (`ServiceURL`) that served it.
    pub fn access_log(&self) -> PathBuf {
        self.rendered.join("traefik-access.log")
    }

    /// Stops Consul and starts a new dev agent (which remembers nothing):
    /// the sidecar must register everything again.
    pub fn restart_consul(&mut self) -> Result<()> {
        if let Some(mut consul) = self.consul.take() {
            consul.stop(Duration::from_secs(10));
        }
        let tools = self.tools.clone();
        self.start_consul(&tools)
    }

    /// SIGKILLs one host instance: a crash, as fault tests need.
    pub fn kill_instance(&mut self, component: &str, port: u16) -> Result<()> {
        self.instance(component, port)?.kill();
        Ok(())
    }

    /// Every process that has exited since it was (re)started, with a line
    /// that names it and says how it ended.
    pub fn exited(&mut self) -> Vec<(Process, String)> {
        let singles = [
            (Process::Consul, self.consul.as_mut()),
            (Process::Traefik, self.traefik.as_mut()),
            (Process::Sidecar, self.sidecar.as_mut()),
            (Process::Prometheus, self.prometheus.as_mut()),
        ];
        let hosts = self
            .hosts
            .iter_mut()
            .map(|(component, port, child)| (Process::Host(component, *port), Some(child)));
        singles
            .into_iter()
            .chain(hosts)
            .filter_map(|(process, child)| {
                let child = child?;
                let status = child.exited()?;
                Some((process, format!("{} exited ({status})", child.name)))
            })
            .collect()
    }

    /// Starts `process` again as the stack first started it, and waits
    /// until it is ready.
    pub fn restart(&mut self, process: Process) -> Result<()> {
        let root = self.hosts_launch.root.clone();
        match process {
            Process::Consul => self.restart_consul(),
            Process::Traefik => {
                let (tools, rendered) = (self.tools.clone(), self.rendered.clone());
                self.start_traefik(&root, &tools, &rendered)
            }
            Process::Host(component, port) => self.start_instance(component, port),
            Process::Sidecar => {
                let secret = internal_secret(&self.hosts_launch.env);
                self.start_sidecar(&root, &secret)
            }
            Process::Prometheus => self.start_prometheus(&root),
        }
    }

    /// Stops the sidecar first (it deregisters the hosts), then the hosts,
    /// then Traefik and Consul. Stopping twice is a no-op.
    pub fn stop(&mut self) {
        let grace = Duration::from_secs(10);
        if let Some(mut prometheus) = self.prometheus.take() {
            prometheus.stop(grace);
        }
        if let Some(mut sidecar) = self.sidecar.take() {
            sidecar.stop(grace);
        }
        for (_, _, host) in &mut self.hosts {
            host.terminate();
        }
        for (_, _, mut host) in self.hosts.drain(..).rev() {
            host.stop(DRAIN + grace);
        }
        for child in [self.traefik.take(), self.consul.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            child.stop(grace);
        }
    }

    fn start_consul(&mut self, tools: &Tools) -> Result<()> {
        let p = &self.ports;
        let mut command = Command::new(&tools.consul);
        command.args([
            "agent",
            "-dev",
            "-bind=127.0.0.1",
            "-client=127.0.0.1",
            "-log-level=warn",
        ])
        .arg(format!(
            "-config-file={}",
            self.credentials.consul_config(&self.rendered).display()
        ))
        .args([
            "-hcl",
            &format!(
                "ports {{ http = {} server = {} serf_lan = {} serf_wan = {} dns = -1 grpc = -1 }}",
                p.consul_http, p.consul_server, p.consul_serf_lan, p.consul_serf_wan
            ),
        ]);
        if logline::Format::from_env() == logline::Format::Json {
            command.arg("-log-json");
        }
        let child = Child::spawn("consul", command, &self.log)?;
        let leader = format!("{}/v1/status/leader", self.consul_url());
        let child = self.await_ready(child, "consul elects itself leader", || {
            get(&leader).is_ok_and(|(status, body)| status == 200 && body.contains(':'))
        })?;
        self.consul = Some(child);
        self.credentials.bootstrap(&self.consul_url())
    }

    fn start_traefik(&mut self, root: &Path, tools: &Tools, rendered: &Path) -> Result<()> {
        let dynamic = rendered.join("traefik-dynamic.yml");
        let mut values = vec![
            ("web_port", self.ports.web.to_string()),
            ("dashboard_port", self.ports.dashboard.to_string()),
            ("consul_port", self.ports.consul_http.to_string()),
            ("dynamic_config", dynamic.display().to_string()),
            ("ui_origin", self.ui_url()),
            ("tracing", tracing_config(&self.hosts_launch.env)),
            (
                "metrics",
                if self.metrics.is_some() {
                    "metrics:\n  prometheus:\n    entryPoint: traefik\n".to_owned()
                } else {
                    String::new()
                },
            ),
            (
                "log_format",
                match logline::Format::from_env() {
                    logline::Format::Json => "json",
                    logline::Format::Text => "common",
                }
                .to_owned(),
            ),
            (
                "access_log",
                rendered.join("traefik-access.log").display().to_string(),
            ),
        ];
        values.extend(self.credentials.template_values()?);
        render(&root.join("deploy/traefik-dynamic.yml"), &dynamic, &values)?;
        let config = rendered.join("traefik.yml");
        render(&root.join("deploy/traefik.yml"), &config, &values)?;
        let mut command = Command::new(&tools.traefik);
        command.arg(format!("--configFile={}", config.display()));
        let child = Child::spawn("traefik", command, &self.log)?;
        let ping = format!("http://127.0.0.1:{}/ping", self.ports.dashboard);
        let child = self.await_ready(child, "traefik answers its ping", || {
            get(&ping).is_ok_and(|(status, _)| status == 200)
        })?;
        self.traefik = Some(child);
        Ok(())
    }

    /// Prometheus scraping Traefik, each host instance and the sidecar every
    /// 5 s, with the alerting rules of `deploy/prometheus-rules.yml`.
    fn start_prometheus(&mut self, root: &Path) -> Result<()> {
        let Some(metrics) = &self.metrics else {
            return Ok(());
        };
        let config = self.rendered.join("prometheus.yml");
        // JSON is YAML: the configuration is built, not templated, since
        // its targets follow the replicas.
        let text = prometheus_config(root, &self.ports, metrics).to_string();
        write_private(&config, &text)?;
        let mut command = Command::new(&metrics.prometheus);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.rendered.join("prometheus").display()
            ))
            .arg(format!(
                "--web.listen-address=127.0.0.1:{}",
                metrics.prometheus_port
            ))
            .arg("--log.level=warn");
        if logline::Format::from_env() == logline::Format::Json {
            command.arg("--log.format=json");
        }
        let child = Child::spawn("prometheus", command, &self.log)?;
        let ready = format!("http://127.0.0.1:{}/-/ready", metrics.prometheus_port);
        let child = self.await_ready(child, "prometheus is ready", || {
            get(&ready).is_ok_and(|(status, _)| status == 200)
        })?;
        self.prometheus = Some(child);
        Ok(())
    }

    fn start_hosts(&mut self) -> Result<()> {
        let instances: Vec<(&'static str, u16)> = self
            .ports
            .instances
            .iter()
            .flat_map(|(name, ports)| ports.iter().map(move |port| (*name, *port)))
            .collect();
        let mut started = Vec::new();
        for (component, port) in instances {
            started.push((
                component,
                port,
                self.hosts_launch.spawn(component, port, &self.log)?,
            ));
        }
        // Compiling the components is the slow part; they compile in
        // parallel, then each host is awaited in turn.
        for (component, port, child) in started {
            let child = self.await_host(component, port, child)?;
            self.hosts.push((component, port, child));
        }
        Ok(())
    }

    fn await_host(&self, component: &str, port: u16, child: Child) -> Result<Child> {
        let health = format!("http://127.0.0.1:{port}/.well-known/spin/health");
        self.await_ready(child, &format!("{component} serves on {port}"), || {
            get(&health).is_ok_and(|(status, _)| status == 200)
        })
    }

    /// Stops one host instance as an operator would (SIGTERM): an outage.
    pub fn stop_instance(&mut self, component: &str, port: u16) -> Result<()> {
        self.instance(component, port)?
            .stop(DRAIN + Duration::from_secs(10));
        Ok(())
    }

    /// Starts a stopped (or crashed) instance again on its port.
    pub fn start_instance(&mut self, component: &str, port: u16) -> Result<()> {
        let (component, port) = self
            .hosts
            .iter()
            .map(|(c, p, _)| (*c, *p))
            .find(|(c, p)| *c == component && *p == port)
            .with_context(|| format!("no instance of {component} on port {port}"))?;
        let child = self.hosts_launch.spawn(component, port, &self.log)?;
        let child = self.await_host(component, port, child)?;
        *self.instance(component, port)? = child;
        Ok(())
    }

    /// The pid of each host (by component) and of the sidecar (`sidecar`).
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.hosts
            .iter()
            .map(|(component, _, child)| (*component, child.pid()))
            .chain(self.sidecar.iter().map(|child| ("sidecar", child.pid())))
            .collect()
    }

    fn instance(&mut self, component: &str, port: u16) -> Result<&mut Child> {
        self.hosts
            .iter_mut()
            .find(|(c, p, _)| *c == component && *p == port)
            .map(|(_, _, child)| child)
            .with_context(|| format!("no instance of {component} on port {port}"))
    }

    fn start_sidecar(&mut self, root: &Path, env: &[(String, String)]) -> Result<()> {
        let mut command = Command::new(components::binary(root, "sidecar"));
        command
            .current_dir(root)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("CONSUL_HTTP_TOKEN", &self.credentials.sidecar)
            .args(["--consul", &format!("127.0.0.1:{}", self.ports.consul_http)])
            .args(["--manifest", "spin.toml"]);
        for (component, port, _) in &self.hosts {
            command.args(["--instance", &format!("{component}=127.0.0.1:{port}")]);
        }
        for service in SERVICES {
            command.args(["--health", &format!("{}={}", service.name, service.health)]);
        }
        if let Some(metrics) = &self.metrics {
            command.args(["--metrics", &format!("127.0.0.1:{}", metrics.sidecar_port)]);
        }
        // What Spin components cannot schedule themselves: stock's alerts,
        // pieces' catalogue changes and purchasing's receipts leave their
        // outboxes every second
        // (what waited while a peer was down), old notifications go hourly.
        let first = |name: &str| {
            self.ports
                .instances
                .get(name)
                .and_then(|p| p.first())
                .copied()
        };
        let jobs = [
            ("stock", 1, "/api/stock/internal/outbox/flush/"),
            ("pieces", 1, "/api/pieces/internal/outbox/flush/"),
            ("purchasing", 1, "/api/purchasing/internal/outbox/flush/"),
            (
                "notifications",
                1,
                "/api/notifications/internal/webhooks/flush/",
            ),
            ("notifications", 3600, "/api/notifications/internal/purge/"),
        ];
        for (service, every, path) in jobs {
            if let Some(port) = first(service) {
                command.args(["--job", &format!("{every}=http://127.0.0.1:{port}{path}")]);
            }
        }
        let child = Child::spawn("sidecar", command, &self.log)?;
        let web = self.web_url();
        let routed: Vec<String> = components::api_services()
            .map(|s| format!("{web}{}", s.health))
            .collect();
        let child = self.await_ready(child, "traefik routes every service", || {
            routed
                .iter()
                .all(|url| get(url).is_ok_and(|(status, _)| status == 200))
        })?;
        self.sidecar = Some(child);
        Ok(())
    }

    /// Polls `ready` until it holds; fails early, with the process's last
    /// lines, if the process exits or the time runs out.
    fn await_ready(
        &self,
        mut child: Child,
        what: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Child> {
        crate::cmd::announce(what);
        let started = Instant::now();
        loop {
            if ready() {
                eprintln!("    ok in {:.1?}", started.elapsed());
                return Ok(child);
            }
            if let Some(status) = child.exited() {
                std::thread::sleep(Duration::from_millis(100));
                bail!(
                    "{} exited ({status}) before: {what}\n{}",
                    child.name,
                    self.log.tail(&child.name, 20)
                );
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "timed out after {START_TIMEOUT:?} waiting for: {what}\n{}",
                    self.log.tail(&child.name, 20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The first port of the range test stacks take their ports from: below
/// Linux's ephemeral range (32768 and up), so that no outgoing connection
/// takes a port between its check and its use by a process that starts
/// slowly (Consul takes seconds).
const TEST_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// `count` ports of [`TEST_PORTS`] that nothing listens on, each handed out
/// once per process (the stack tests run side by side in one), starting
/// at a point that differs between processes.
fn unused_ports(count: usize) -> Result<Vec<u16>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(usize::MAX);
    let span = usize::from(TEST_PORTS.end - TEST_PORTS.start);
    let _ = NEXT.compare_exchange(
        usize::MAX,
        std::process::id() as usize * 97 % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    let mut ports = Vec::with_capacity(count);
    for _ in 0..span {
        if ports.len() == count {
            return Ok(ports);
        }
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = TEST_PORTS.start + u16::try_from(offset).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    bail!("fewer than {count} free ports in {TEST_PORTS:?}")
}

/// The Spin variables that depend on this run's ports: the peers services
/// call on their internal routes (`stock_url`, `pieces_url`,
/// `notifications_url` in `spin.toml`), the first instance of each, and the
/// edge the UI calls (`api_base`).
fn port_variables(ports: &Ports) -> Vec<(String, String)> {
    ["pieces", "stock", "notifications"]
        .into_iter()
        .filter_map(|service| {
            let port = ports.instances.get(service)?.first()?;
            Some((
                format!("SPIN_VARIABLE_{}_URL", service.to_ascii_uppercase()),
                format!("127.0.0.1:{port}"),
            ))
        })
        .chain([(
            "SPIN_VARIABLE_API_BASE".to_owned(),
            format!("http://127.0.0.1:{}", ports.web),
        )])
        .collect()
}

/// How long a host keeps serving, its health failing, after SIGTERM.
const DRAIN: Duration = Duration::from_secs(3);

/// The command line and environment of a host instance.
struct HostLaunch {
    binary: PathBuf,
    root: PathBuf,
    runtime_config: PathBuf,
    manifest: Manifest,
    /// Peer addresses and secrets (`SPIN_VARIABLE_*`), of every component:
    /// each instance gets the ones its component uses.
    env: Vec<(String, String)>,
}

impl HostLaunch {
    fn spawn(&self, component: &str, port: u16, log: &Log) -> Result<Child> {
        let mut command = Command::new(&self.binary);
        command
            .current_dir(&self.root)
            .args(["up", "-f", "spin.toml", "--component-id", component])
            // Consul checks every second and Traefik refreshes every second:
            // a stopping host leaves the pool before it stops accepting.
            .args(["--drain-secs", &DRAIN.as_secs().to_string()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--runtime-config-file")
            .arg(&self.runtime_config)
            .envs(self.env_of(component));
        Child::spawn(&format!("{component}:{port}"), command, log)
    }

    /// The `SPIN_VARIABLE_*` values `component` reads: a process never holds
    /// a secret its component does not use (only auth gets the signing key
    /// and the admin password). The rest (`OTEL_*`, `LOG_FORMAT`) is the
    /// host's own, for every instance.
    fn env_of(&self, component: &str) -> impl Iterator<Item = (&String, &String)> {
        let used = self.manifest.variables_used_by(component);
        self.env
            .iter()
            .filter(move |(name, _)| {
                name.strip_prefix("SPIN_VARIABLE_")
                    .is_none_or(|variable| used.contains(&variable.to_ascii_lowercase()))
            })
            .map(|(name, value)| (name, value))
    }
}

/// The sidecar's only secret: the credential of the internal routes it calls.
fn internal_secret(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(name, _)| name == "SPIN_VARIABLE_INTERNAL_SECRET")
        .cloned()
        .collect()
}

/// `GET url` → (status, body), with a short timeout: readiness probes only.
pub fn get(url: &str) -> Result<(u16, String)> {
    get_with(url, &[])
}

fn get_with(url: &str, headers: &[(&str, String)]) -> Result<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.call()?;
    Ok((
        response.status().as_u16(),
        response.body_mut().read_to_string()?,
    ))
}

/// Fills the `{{name}}` holes of a deploy/ template; a hole left unfilled
/// is a mistake in the template, not something to serve.
fn render(template: &Path, out: &Path, values: &[(&str, String)]) -> Result<()> {
    let mut text = std::fs::read_to_string(template)
        .with_context(|| format!("cannot read {}", template.display()))?;
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(start) = text.find("{{") {
        let hole: String = text[start..].chars().take_while(|c| *c != '\n').collect();
        bail!("{}: unfilled {hole}", template.display());
    }
    // Traefik's rendered configuration holds its Consul token.
    write_private(out, &text)
}

fn prometheus_config(root: &Path, ports: &Ports, metrics: &MetricsConfig) -> serde_json::Value {
    let loopback = |port: u16| format!("127.0.0.1:{port}");
    let hosts: Vec<serde_json::Value> = ports
        .instances
        .iter()
        .map(|(component, ports)| {
            serde_json::json!({
                "targets": ports.iter().map(|p| loopback(*p)).collect::<Vec<_>>(),
                "labels": {"component": component},
            })
        })
        .collect();
    serde_json::json!({
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [root.join("deploy/prometheus-rules.yml")],
        "scrape_configs": [
            {"job_name": "traefik", "static_configs": [{"targets": [loopback(ports.dashboard)]}]},
            {"job_name": "hosts", "metrics_path": "/.well-known/spin/metrics", "static_configs": hosts},
            {"job_name": "sidecar", "static_configs": [{"targets": [loopback(metrics.sidecar_port)]}]},
        ],
    })
}

/// Traefik's `tracing:` block when the stack's environment (or xtask's)
/// names an OTLP endpoint, with OTel's rules: the traces endpoint as it is,
/// else the base one plus `/v1/traces`.
fn tracing_config(env: &[(String, String)]) -> String {
    let var = |name: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let endpoint = match (
        var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        var("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(traces), _) => traces,
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) => return String::new(),
    };
    format!(
        "tracing:\n  serviceName: traefik\n  otlp:\n    http:\n      endpoint: {}\n",
        serde_json::Value::from(endpoint)
    )
}

/// The repository's runtime config with each database moved into
/// `data_dir` (the same place for `up`, a temporary one for tests).
fn relocate_runtime_config(root: &Path, data_dir: &Path, rendered: &Path) -> Result<PathBuf> {
    let source = root.join("runtime-config.toml");
    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let mut config: toml::Table = text
        .parse()
        .with_context(|| format!("cannot parse {}", source.display()))?;
    if let Some(toml::Value::Table(databases)) = config.get_mut("sqlite_database") {
        for (_, database) in databases.iter_mut() {
            let Some(path) = database.get("path").and_then(toml::Value::as_str) else {
                continue;
            };
            let file = Path::new(path)
                .file_name()
                .context("a database path without a file name")?
                .to_owned();
            database
                .as_table_mut()
                .context("a [sqlite_database] entry that is not a table")?
                .insert(
                    "path".into(),
                    data_dir.join(&file).display().to_string().into(),
                );
        }
    }
    let out = rendered.join("runtime-config.toml");
    std::fs::write(&out, toml::to_string(&config)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ports_are_distinct_and_outside_the_ephemeral_range() {
        let first = unused_ports(12).unwrap();
        let second = unused_ports(12).unwrap();
        let all: std::collections::BTreeSet<u16> = first.iter().chain(&second).copied().collect();
        assert_eq!(all.len(), 24, "{first:?} {second:?}");
        assert!(all.iter().all(|port| TEST_PORTS.contains(port)), "{all:?}");
    }
}
