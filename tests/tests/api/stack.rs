//! The whole stack as `cargo xtask up` starts it (same code, free ports):
//! Consul, Traefik, one host per instance, the sidecar.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use xtask::process::Log;
use xtask::stack::{Ports, Stack, StackConfig, get};

/// A stack and its data directory, dropped in that order (fields drop in
/// declaration order, so Traefik never sees its configuration vanish).
struct Running {
    stack: Stack,
    secrets: xtask::secrets::Secrets,
    _data: tempfile::TempDir,
}

fn start(replicas: &[(&str, usize)]) -> Running {
    let root = xtask::project_root().expect("the workspace root");
    let tools = xtask::tools::ensure(&root).expect("consul and traefik install");
    let replicas: BTreeMap<String, usize> =
        replicas.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    let data = tempfile::tempdir().expect("a temp dir");
    let secrets = xtask::secrets::Secrets::load_or_create(&data.path().join("secrets"))
        .unwrap_or_else(|e| panic!("the secrets: {e:#}"));
    let stack = Stack::start(StackConfig {
        root,
        data_dir: data.path().to_owned(),
        ports: Ports::free(&replicas).expect("free ports"),
        tools,
        log: Log::new(std::env::var_os("TEST_LOG").is_some()),
        env: secrets.env(),
    })
    .unwrap_or_else(|e| panic!("the stack starts: {e:#}"));
    Running {
        stack,
        secrets,
        _data: data,
    }
}

fn json(url: &str) -> serde_json::Value {
    let (status, body) = get(url).unwrap_or_else(|e| panic!("GET {url}: {e:#}"));
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn passing_instances(stack: &Stack, service: &str) -> usize {
    json(&format!(
        "{}/v1/health/service/{service}?passing=true",
        stack.consul_url()
    ))
    .as_array()
    .map_or(0, Vec::len)
}

#[test]
fn traefik_fronts_every_service_through_consul_and_drops_a_dead_replica() {
    let mut running = start(&[("stock", 2)]);
    let stack = &mut running.stack;
    let web = stack.web_url();

    for service in ["auth", "pieces", "stock", "notifications"] {
        let health = json(&format!("{web}/api/{service}/health/"));
        assert_eq!(health["service"], service);
        assert_eq!(health["database"], "ok");
    }

    // Both stock hosts are registered, healthy, and in Traefik's pool.
    assert_eq!(passing_instances(stack, "stock"), 2);
    let dashboard = format!("http://127.0.0.1:{}", stack.ports.dashboard);
    let pool = json(&format!(
        "{dashboard}/api/http/services/stock@consulcatalog"
    ));
    let statuses = pool["serverStatus"].as_object().expect("server statuses");
    assert_eq!(statuses.len(), 2, "{pool}");
    assert!(statuses.values().all(|s| s == "UP"), "{pool}");

    // A crashed replica leaves the catalog and the pool; requests keep
    // being answered by the other one.
    let replica = stack.ports.instances["stock"][1];
    stack
        .kill_instance("stock", replica)
        .expect("the replica exists");
    eventually(
        "the dead replica leaves the passing set",
        Duration::from_secs(15),
        || passing_instances(stack, "stock") == 1,
    );
    eventually(
        "traefik stops sending to the dead replica",
        Duration::from_secs(10),
        || (0..10).all(|_| get(&format!("{web}/api/stock/health/")).is_ok_and(|(s, _)| s == 200)),
    );
}

#[test]
fn the_edge_exposes_the_api_and_nothing_else() {
    let mut running = start(&[]);
    let stack = &mut running.stack;
    let web = stack.web_url();
    // Service-to-service routes are never routed by Traefik.
    let (status, _) = get(&format!("{web}/api/stock/internal/anything")).unwrap();
    assert_eq!(status, 404);
    // Neither are the dashboard, Traefik's API or the UI.
    for path in [
        "/dashboard/",
        "/api/rawdata",
        "/api/http/routers",
        "/",
        "/index.html",
    ] {
        let (status, _) = get(&format!("{web}{path}")).unwrap();
        assert_eq!(status, 404, "{path} must not be reachable through the edge");
    }
    // The UI is registered in Consul (visible there) but served on its own port.
    assert_eq!(passing_instances(stack, "ui"), 1);
    let (status, body) = get(&format!("{}/", stack.ui_url())).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("lang=\"fr\""));
}

#[test]
fn every_port_of_the_stack_listens_on_loopback_only() {
    let mut running = start(&[]);
    let stack = &mut running.stack;
    let ours: Vec<u16> = [
        stack.ports.web,
        stack.ports.dashboard,
        stack.ports.consul_http,
    ]
    .into_iter()
    .chain(stack.ports.instances.values().flatten().copied())
    .collect();
    let listening = listening_sockets();
    for port in &ours {
        let addresses: Vec<&String> = listening
            .iter()
            .filter(|(_, p)| p == port)
            .map(|(a, _)| a)
            .collect();
        assert!(!addresses.is_empty(), "nothing listens on {port}");
        assert!(
            addresses.iter().all(|a| a.as_str() == "127.0.0.1"),
            "port {port} listens on {addresses:?}"
        );
    }
    let ports = stack.ports.clone();
    stack.stop();
    for port in ours
        .iter()
        .chain([&ports.consul_server, &ports.consul_serf_lan])
    {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok(),
            "port {port} still taken after stop"
        );
    }
}

/// (address, port) of every listening TCP socket, from /proc/net/tcp{,6}.
fn listening_sockets() -> Vec<(String, u16)> {
    let mut sockets = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(table) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&"0A") {
                continue;
            }
            let Some((address, port)) = fields[1].split_once(':') else {
                continue;
            };
            let Ok(port) = u16::from_str_radix(port, 16) else {
                continue;
            };
            let address = match address.len() {
                8 => u32::from_str_radix(address, 16).map_or_else(
                    |_| address.to_owned(),
                    |a| std::net::Ipv4Addr::from(a.swap_bytes()).to_string(),
                ),
                _ if address.chars().all(|c| c == '0') => "::".to_owned(),
                _ => address.to_owned(),
            };
            sockets.push((address, port));
        }
    }
    sockets
}

/// `method url` with a bearer token and a JSON body, through the edge.
fn send(method: &str, url: &str, token: Option<&str>, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    let mut response = agent.run(request.body(body).expect("a request")).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// The scenario end to end: movements through Traefik, alerts
/// delivered by the sidecar's outbox job, read through Traefik.
#[test]
fn threshold_alerts_reach_managers_through_the_edge() {
    let mut running = start(&[]);
    let web = running.stack.web_url();
    let secrets = &running.secrets;
    let (status, tokens) = send(
        "POST",
        &format!("{web}/api/auth/login/"),
        None,
        Some(serde_json::json!({"username": secrets.admin_username, "password": secrets.admin_password})),
    );
    assert_eq!(status, 200, "{tokens}");
    let admin = tokens["access"].as_str().expect("a token").to_owned();
    let (status, piece) = send(
        "POST",
        &format!("{web}/api/pieces/"),
        Some(&admin),
        Some(serde_json::json!({"reference": "COUR-B7", "name": "Courroie B7", "min_stock": 5})),
    );
    assert_eq!(status, 201, "{piece}");
    for (kind, quantity) in [("IN", 10), ("OUT", 6), ("OUT", 1), ("OUT", 3), ("IN", 8)] {
        let (status, body) = send(
            "POST",
            &format!("{web}/api/stock/movement/"),
            Some(&admin),
            Some(serde_json::json!({"piece_id": piece["id"], "type": kind, "quantity": quantity})),
        );
        assert_eq!(status, 201, "{kind} {quantity}: {body}");
    }
    let mut seen = Vec::new();
    eventually("the three alerts arrive", Duration::from_secs(20), || {
        let (_, list) = send("GET", &format!("{web}/api/notifications/"), Some(&admin), None);
        seen = list["results"].as_array().into_iter().flatten().map(|n| n["type"].to_string()).collect();
        seen.len() >= 3
    });
    assert_eq!(seen, ["\"back_in_stock\"", "\"out_of_stock\"", "\"low_stock\""]);
    std::thread::sleep(Duration::from_secs(2));
    let (_, count) = send("GET", &format!("{web}/api/notifications/unread-count/"), Some(&admin), None);
    assert_eq!(count["unread"], 3, "delivered once, however many flushes ran");
    running.stack.stop();
}
