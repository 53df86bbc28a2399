//! The whole stack as `cargo xtask up` starts it (same code, free ports):
//! Consul, Traefik, one host per instance, the sidecar.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use xtask::process::Log;
use xtask::stack::{Ports, Stack, StackConfig, get};

/// A stack and its data directory, dropped in that order (fields drop in
/// declaration order, so Traefik never sees its configuration vanish).
pub struct Running {
    pub stack: Stack,
    pub secrets: xtask::secrets::Secrets,
    pub data: tempfile::TempDir,
}

impl Running {
    /// A new piece, through the edge as `token`; its id.
    pub fn piece(&self, token: &str, reference: &str) -> i64 {
        let (status, piece) = send(
            "POST",
            &format!("{}/api/pieces/", self.stack.web_url()),
            Some(token),
            Some(serde_json::json!({"reference": reference, "name": reference})),
        );
        assert_eq!(status, 201, "{piece}");
        piece["id"].as_i64().expect("an id")
    }

    /// A movement of `quantity` of `piece`, through the edge as `token`.
    pub fn movement(
        &self,
        token: &str,
        piece: i64,
        kind: &str,
        quantity: i64,
    ) -> (u16, serde_json::Value) {
        send(
            "POST",
            &format!("{}/api/stock/movement/", self.stack.web_url()),
            Some(token),
            Some(serde_json::json!({"piece_id": piece, "type": kind, "quantity": quantity})),
        )
    }

    /// A fresh access token of the bootstrap admin, through the edge.
    pub fn admin_token(&self) -> String {
        let (status, tokens) = send(
            "POST",
            &format!("{}/api/auth/login/", self.stack.web_url()),
            None,
            Some(serde_json::json!({
                "username": self.secrets.admin_username,
                "password": self.secrets.admin_password,
            })),
        );
        assert_eq!(status, 200, "admin login: {tokens}");
        tokens["access"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }
}

pub fn start(replicas: &[(&str, usize)]) -> Running {
    start_with(replicas, &[])
}

/// As [`start`], with extra `SPIN_VARIABLE_*` settings for every host.
pub fn start_with(replicas: &[(&str, usize)], variables: &[(&str, &str)]) -> Running {
    start_in(
        tempfile::tempdir().expect("a temp dir"),
        replicas,
        variables,
    )
}

/// As [`start_with`], on the databases and secrets already in `data` (a
/// restored backup), or new ones.
pub fn start_in(
    data: tempfile::TempDir,
    replicas: &[(&str, usize)],
    variables: &[(&str, &str)],
) -> Running {
    launch(data, replicas, variables, false)
}

/// As [`start`], with Prometheus scraping the stack (`up --metrics`).
pub fn start_with_prometheus() -> Running {
    launch(tempfile::tempdir().expect("a temp dir"), &[], &[], true)
}

fn launch(
    data: tempfile::TempDir,
    replicas: &[(&str, usize)],
    variables: &[(&str, &str)],
    metrics: bool,
) -> Running {
    let root = xtask::project_root().expect("the workspace root");
    let tools = xtask::tools::ensure(&root).expect("consul and traefik install");
    let replicas: BTreeMap<String, usize> =
        replicas.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    let secrets = xtask::secrets::Secrets::load_or_create(&data.path().join("secrets"))
        .unwrap_or_else(|e| panic!("the secrets: {e:#}"));
    let stack = Stack::start(StackConfig {
        root: root.clone(),
        data_dir: data.path().to_owned(),
        ports: Ports::free(&replicas).expect("free ports"),
        tools,
        log: Log::new(std::env::var_os("TEST_LOG").is_some()),
        env: secrets
            .env()
            .into_iter()
            .chain(
                variables
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.to_string())),
            )
            .collect(),
        host: xtask::components::binary(&root, "host"),
        metrics: metrics.then(|| {
            xtask::stack::MetricsConfig::free(&root)
                .unwrap_or_else(|e| panic!("prometheus installs: {e:#}"))
        }),
    })
    .unwrap_or_else(|e| panic!("the stack starts: {e:#}"));
    Running {
        stack,
        secrets,
        data,
    }
}

fn json(url: &str) -> serde_json::Value {
    parse(url, get(url).unwrap_or_else(|e| panic!("GET {url}: {e:#}")))
}

fn parse(url: &str, (status, body): (u16, String)) -> serde_json::Value {
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
    let path = format!("/v1/health/service/{service}?passing=true");
    let reply = stack.consul_get(&path).expect("consul answers");
    parse(&path, reply).as_array().map_or(0, Vec::len)
}

#[test]
fn traefik_fronts_every_service_through_consul_and_drops_a_dead_replica() {
    let mut running = start(&[("stock", 2)]);
    let stack = &mut running.stack;
    let web = stack.web_url();

    for service in xtask::components::api_services().map(|s| s.name) {
        let health = json(&format!("{web}/api/{service}/health/"));
        assert_eq!(health["service"], service);
        assert_eq!(health["database"], "ok");
    }

    // Both stock hosts are registered, healthy, and in Traefik's pool.
    assert_eq!(passing_instances(stack, "stock"), 2);
    let path = "/api/http/services/stock@consulcatalog";
    let pool = parse(path, stack.traefik_api_get(path).expect("traefik answers"));
    let statuses = pool["serverStatus"].as_object().expect("server statuses");
    assert_eq!(statuses.len(), 2, "{pool}");
    assert!(statuses.values().all(|s| s == "UP"), "{pool}");

    // Both replicas take traffic (Traefik's access log names the server).
    for _ in 0..40 {
        assert_eq!(get(&format!("{web}/api/stock/health/")).unwrap().0, 200);
    }
    let log = std::fs::read_to_string(stack.access_log()).expect("the access log");
    for port in &stack.ports.instances["stock"] {
        assert!(
            log.contains(&format!("\"ServiceURL\":\"http://127.0.0.1:{port}\"")),
            "no request reached stock on {port}"
        );
    }

    // Consul restarted (a dev agent forgets everything): the sidecar
    // registers the instances again and Traefik routes them again.
    let restarted = Instant::now();
    stack.restart_consul().expect("consul restarts");
    eventually(
        "every service is routed again",
        Duration::from_secs(15),
        || {
            xtask::components::api_services()
                .all(|s| get(&format!("{web}{}", s.health)).is_ok_and(|(status, _)| status == 200))
        },
    );
    eprintln!(
        "routed again {:.1?} after the Consul restart began",
        restarted.elapsed()
    );

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
fn consul_and_the_dashboard_refuse_whoever_has_no_credential() {
    let running = start(&[]);
    let stack = &running.stack;
    let consul = stack.consul_url();
    // A local process without the sidecar's token cannot register a
    // service that Traefik would route (here: a rival `auth`).
    let rival = serde_json::json!({
        "ID": "rival-auth",
        "Name": "auth",
        "Address": "127.0.0.1",
        "Port": 9,
        "Tags": ["traefik.enable=true", "traefik.http.routers.rival.rule=PathPrefix(`/api/auth`)"],
    });
    let (status, body) = send(
        "PUT",
        &format!("{consul}/v1/agent/service/register"),
        None,
        Some(rival),
    );
    assert_eq!(status, 403, "{body}");
    // Nor read the catalog: without a token, nothing is listed.
    assert_eq!(
        json(&format!("{consul}/v1/catalog/services")),
        serde_json::json!({})
    );
    let registered = stack
        .consul_get("/v1/catalog/services")
        .expect("consul answers");
    assert!(registered.1.contains("\"auth\""), "{registered:?}");

    // Traefik's API and dashboard ask for the password; the ping does not.
    let dashboard = format!("http://127.0.0.1:{}", stack.ports.dashboard);
    for path in ["/api/http/routers", "/api/rawdata", "/dashboard/"] {
        let (status, _) = get(&format!("{dashboard}{path}")).unwrap();
        assert_eq!(status, 401, "{path}");
    }
    let (status, body) = stack.traefik_api_get("/api/http/routers").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("auth@consulcatalog"), "{body}");
    assert_eq!(get(&format!("{dashboard}/ping")).unwrap().0, 200);
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
    // Nor are internal routes spelled another way: a component that served
    // one would answer 401 (no service credential), not 404 or 400.
    for path in [
        "/api/stock//internal/usage/1/",
        "/api/stock/./internal/usage/1/",
        "/api/stock/x/../internal/usage/1/",
        "/api/stock/%2e%2e/stock/internal/usage/1/",
        "/api/stock/%2e/internal/usage/1/",
        "/api/stock/%2Finternal/usage/1/",
        "/api/stock/internal%2Fusage/1/",
        "/api/pieces//internal/pieces/1/",
        "/api/notifications/.//internal/purge/",
        "/api//stock/internal/usage/1/",
    ] {
        let (status, body) = get(&format!("{web}{path}")).unwrap();
        assert!(
            matches!(status, 400 | 404),
            "{path} answered {status} through the edge: {body}"
        );
    }
    // CORS: the UI origin may call the API, no other origin.
    let preflight = |origin: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let request = ureq::http::Request::builder()
            .method("OPTIONS")
            .uri(format!("{web}/api/stock/movement/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(())
            .expect("a request");
        let response = agent.run(request).expect("a preflight answer");
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(preflight(&stack.ui_url()), Some(stack.ui_url()));
    assert_eq!(preflight("http://evil.example"), None);

    // Login is rate limited at the edge: a burst of 10, then 5 a second.
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            send(
                "POST",
                &format!("{web}/api/auth/login/"),
                None,
                Some(serde_json::json!({})),
            )
            .0
        })
        .collect();
    assert!(statuses[..10].iter().all(|s| *s == 400), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");

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
    // And each process holds only the secrets its component reads.
    for (process, pid) in stack.pids() {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("its environment");
        let mut secrets: Vec<String> = environ
            .split(|byte| *byte == 0)
            .filter_map(|entry| std::str::from_utf8(entry).ok()?.split_once('='))
            .map(|(name, _)| name.to_owned())
            .filter(|name| {
                [
                    "JWT_PRIVATE_KEY",
                    "ADMIN_PASSWORD",
                    "INTERNAL_SECRET",
                    "JWT_PUBLIC_KEYS",
                ]
                .iter()
                .any(|secret| *name == format!("SPIN_VARIABLE_{secret}"))
            })
            .collect();
        secrets.sort();
        let expected: &[&str] = match process {
            "auth" => &[
                "SPIN_VARIABLE_ADMIN_PASSWORD",
                "SPIN_VARIABLE_INTERNAL_SECRET",
                "SPIN_VARIABLE_JWT_PRIVATE_KEY",
                "SPIN_VARIABLE_JWT_PUBLIC_KEYS",
            ],
            "ui" => &[],
            "sidecar" => &["SPIN_VARIABLE_INTERNAL_SECRET"],
            _ => &[
                "SPIN_VARIABLE_INTERNAL_SECRET",
                "SPIN_VARIABLE_JWT_PUBLIC_KEYS",
            ],
        };
        assert_eq!(secrets, expected, "{process}");
    }
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
pub fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    send_with(method, url, token, &[], body)
}

/// As [`send`], with extra headers (an `Idempotency-Key`...).
pub fn send_with(
    method: &str,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    let mut response = agent
        .run(request.body(body).expect("a request"))
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// The issue's scenario end to end: movements through Traefik, alerts
/// delivered by the sidecar's outbox job, read through Traefik.
#[test]
fn threshold_alerts_reach_managers_through_the_edge() {
    let mut running = start(&[]);
    let web = running.stack.web_url();
    let admin = running.admin_token();
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
    // Created at 0 under its minimum (one "to order" alert), then
    // 0 -> 10 a first reception, 10 -> 4 low, 4 -> 3 nothing, 3 -> 0 out,
    // 0 -> 8 back.
    let mut seen = Vec::new();
    eventually("the four alerts arrive", Duration::from_secs(20), || {
        let (_, list) = send(
            "GET",
            &format!("{web}/api/notifications/"),
            Some(&admin),
            None,
        );
        seen = list["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| n["type"].to_string())
            .collect();
        seen.len() >= 4
    });
    assert_eq!(
        seen,
        [
            "\"back_in_stock\"",
            "\"out_of_stock\"",
            "\"low_stock\"",
            "\"out_of_stock\""
        ]
    );
    std::thread::sleep(Duration::from_secs(2));
    let (_, count) = send(
        "GET",
        &format!("{web}/api/notifications/unread-count/"),
        Some(&admin),
        None,
    );
    assert_eq!(
        count["unread"], 4,
        "delivered once, however many flushes ran"
    );
    running.stack.stop();
}

/// Issue 7's proofs, through Traefik with two stock replicas on one file.
#[test]
fn two_stock_replicas_never_oversell_double_count_or_lose_an_alert() {
    let mut running = start(&[("stock", 2)]);
    let web = running.stack.web_url();
    let admin = running.admin_token();
    let piece = |reference: &str, min_stock: i64| -> i64 {
        let (status, piece) = send(
            "POST",
            &format!("{web}/api/pieces/"),
            Some(&admin),
            Some(
                serde_json::json!({"reference": reference, "name": reference, "min_stock": min_stock}),
            ),
        );
        assert_eq!(status, 201, "{piece}");
        piece["id"].as_i64().expect("an id")
    };
    let movement = |body: serde_json::Value| {
        send(
            "POST",
            &format!("{web}/api/stock/movement/"),
            Some(&admin),
            Some(body),
        )
    };

    // 200 withdrawals of 1, 40 at a time, on a level of 50.
    let bolts = piece("BOULON-M8", 0);
    assert_eq!(
        movement(serde_json::json!({"piece_id": bolts, "type": "IN", "quantity": 50})).0,
        201
    );
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..40)
            .map(|_| {
                s.spawn(|| {
                    (0..5)
                        .map(|_| movement(serde_json::json!({"piece_id": bolts, "type": "OUT", "quantity": 1})).0)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        50,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        150,
        "{statuses:?}"
    );
    let level = |id: i64| {
        send("GET", &format!("{web}/api/stock/{id}/"), Some(&admin), None).1["quantity"].as_i64()
    };
    assert_eq!(level(bolts), Some(0));

    // One Idempotency-Key sent 20 times at once: one movement.
    let washers = piece("RONDELLE-8", 0);
    let keyed = |_| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(format!("{web}/api/stock/movement/"))
            .header("authorization", format!("Bearer {admin}"))
            .header("idempotency-key", "bon-de-livraison-17")
            .header("content-type", "application/json")
            .send(serde_json::json!({"piece_id": washers, "type": "IN", "quantity": 7}).to_string())
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let replies: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20).map(|i| s.spawn(move || keyed(i))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(replies.iter().all(|s| *s == 201), "{replies:?}");
    assert_eq!(level(washers), Some(7));

    // The ledger replays to the level for every piece, reversals included.
    let (_, ledger) = send(
        "GET",
        &format!("{web}/api/stock/movements/?piece_id={bolts}&page_size=200"),
        Some(&admin),
        None,
    );
    let reversible = ledger["results"][0]["id"].as_i64().expect("a movement");
    let (status, _) = send(
        "POST",
        &format!("{web}/api/stock/movements/{reversible}/reverse/"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 201);
    for id in [bolts, washers] {
        let (_, ledger) = send(
            "GET",
            &format!("{web}/api/stock/movements/?piece_id={id}&page_size=200"),
            Some(&admin),
            None,
        );
        let sum: i64 = ledger["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["delta"].as_i64().unwrap())
            .sum();
        assert_eq!(Some(sum), level(id), "piece {id}");
    }

    // Notifications down during a creation under its minimum and 10
    // crossings: all 11 alerts arrive once it is back.
    let count = || {
        send(
            "GET",
            &format!("{web}/api/notifications/?page_size=200"),
            Some(&admin),
            None,
        )
        .1["count"]
            .as_i64()
    };
    // The bolts ran out, and came back with the reversal: two alerts so far.
    eventually(
        "the earlier alerts are delivered",
        Duration::from_secs(15),
        || count() == Some(2),
    );
    let notifications = running.stack.ports.instances["notifications"][0];
    running
        .stack
        .stop_instance("notifications", notifications)
        .expect("stop notifications");
    let belts = piece("COURROIE-Z", 5);
    assert_eq!(
        movement(serde_json::json!({"piece_id": belts, "type": "IN", "quantity": 10})).0,
        201
    );
    let cycle = [("OUT", 6), ("OUT", 4), ("IN", 10)];
    for (kind, quantity) in cycle.iter().cycle().take(10) {
        let (status, body) =
            movement(serde_json::json!({"piece_id": belts, "type": kind, "quantity": quantity}));
        assert_eq!(status, 201, "{kind} {quantity}: {body}");
    }
    // Two minutes down: stock's outbox backs off to its 64 s ceiling.
    std::thread::sleep(Duration::from_secs(120));
    running
        .stack
        .start_instance("notifications", notifications)
        .expect("restart notifications");
    let back = Instant::now();
    eventually("the 11 alerts arrive", Duration::from_secs(90), || {
        count() == Some(13)
    });
    eprintln!(
        "after a 2 min outage, the 11 alerts arrived {:.1?} after notifications returned",
        back.elapsed()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(), Some(13), "none twice");
    running.stack.stop();
}

/// Issue 10's edge checks: security headers on every answer, bodies over
/// the limit refused before any service, and error bodies that name the
/// problem and never the code behind it.
#[test]
fn the_edge_hardens_answers_and_errors_never_leak_internals() {
    let running = start(&[]);
    let web = running.stack.web_url();
    let token = running.admin_token();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let call = |method: &str, path: &str, body: &str| {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{web}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .expect("a request");
        let mut response = agent.run(request).expect("an answer");
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), headers, text)
    };

    assert_eq!(
        oversized_post(running.stack.ports.web, "/api/pieces/import/"),
        "HTTP/1.1 413 Request Entity Too Large"
    );

    let bad_requests = [
        ("POST", "/api/pieces/", "{"),
        ("POST", "/api/pieces/", r#"{"reference": 7}"#),
        (
            "POST",
            "/api/pieces/",
            r#"{"reference": "A'; DROP TABLE pieces;--", "name": "x", "price": "abc"}"#,
        ),
        ("GET", "/api/pieces/999999/", ""),
        ("GET", "/api/pieces/%27%20OR%201=1/", ""),
        ("GET", "/api/pieces/?ordering=name%3BDELETE", ""),
        (
            "POST",
            "/api/stock/movement/",
            r#"{"piece_id": 999999, "type": "OUT", "quantity": 1}"#,
        ),
        (
            "POST",
            "/api/stock/movement/",
            r#"{"piece_id": 1, "type": "VOL", "quantity": -1}"#,
        ),
        ("GET", "/api/stock/movements/?date_from=hier", ""),
        ("DELETE", "/api/notifications/", ""),
        (
            "POST",
            "/api/notifications/mark-read/",
            r#"{"ids": "tous"}"#,
        ),
        ("PATCH", "/api/auth/users/abc/", "[]"),
    ];
    let leaks = [
        "panicked",
        "backtrace",
        "sqlite",
        "SQL",
        "SELECT ",
        "INSERT ",
        ".rs:",
        "wasm",
        "trap",
    ];
    for (method, path, body) in bad_requests {
        let (status, headers, text) = call(method, path, body);
        assert!(
            (400..500).contains(&status),
            "{method} {path}: {status} {text}"
        );
        let problem: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        assert!(problem["detail"].is_string(), "{method} {path}: {text}");
        for leak in leaks {
            assert!(
                !text.contains(leak),
                "{method} {path} shows {leak:?}: {text}"
            );
        }
        for (header, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(
                headers.get(header).and_then(|v| v.to_str().ok()),
                Some(value),
                "{method} {path}: {header}"
            );
        }
    }
}

/// The status line Traefik answers a body one byte over its 10 MiB limit
/// with; written by hand because Traefik may answer and close before the
/// body is all sent, which HTTP clients report as a broken pipe.
fn oversized_post(port: u16, path: &str) -> String {
    use std::io::{BufRead, Write};
    let limit = 10 * 1024 * 1024;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the edge accepts");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    );
    stream.write_all(head.as_bytes()).expect("the request head");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent <= limit {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut status = String::new();
    let _ = std::io::BufReader::new(stream).read_line(&mut status);
    status.trim_end().to_owned()
}

/// A client that starts a request and never finishes it is cut at
/// Traefik's read timeout instead of holding a connection forever.
#[test]
fn a_slow_client_is_cut_at_the_read_timeout() {
    use std::io::{Read, Write};
    let running = start(&[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", running.stack.ports.web))
        .expect("the edge accepts");
    stream
        .write_all(b"POST /api/pieces/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
        .expect("a partial request");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let waited = started.elapsed();
    eprintln!(
        "a stalled request was cut after {waited:.1?}: {:?}",
        String::from_utf8_lossy(&answer).lines().next()
    );
    assert!(
        waited < Duration::from_secs(45),
        "the connection stayed open {waited:?}"
    );
}

/// A catalogue change reaches stock through the edge at once, and one made
/// while stock is down reaches it once stock is back (the sidecar flushes
/// pieces' outbox every second): none is lost.
#[test]
fn new_pieces_are_listed_in_stock_even_when_stock_was_down() {
    let mut running = start(&[]);
    let web = running.stack.web_url();
    let admin = running.admin_token();
    let create = |reference: &str| {
        let (status, piece) = send(
            "POST",
            &format!("{web}/api/pieces/"),
            Some(&admin),
            Some(serde_json::json!({"reference": reference, "name": reference, "min_stock": 2})),
        );
        assert_eq!(status, 201, "{piece}");
        piece["id"].as_i64().expect("an id")
    };
    let listed = |piece: i64| {
        let (status, list) = send("GET", &format!("{web}/api/stock/"), Some(&admin), None);
        status == 200
            && list["results"].as_array().is_some_and(|levels| {
                levels
                    .iter()
                    .any(|level| level["piece_id"] == piece && level["status"] == "out")
            })
    };
    let first = create("EDGE-1");
    eventually(
        "a new piece listed at 0 through the edge",
        Duration::from_secs(2),
        || listed(first),
    );

    let port = running.stack.ports.instances["stock"][0];
    running
        .stack
        .stop_instance("stock", port)
        .expect("stock stops");
    let second = create("EDGE-2");
    running
        .stack
        .start_instance("stock", port)
        .expect("stock starts again");
    eventually(
        "a piece created while stock was down is listed once it is back",
        Duration::from_secs(10),
        || listed(second),
    );
}

/// Issue 19's proofs through Traefik, with two stock replicas on one file:
/// concurrent transfers both ways never take a location below zero and
/// keep the total; a stocktake validated twice at once adjusts once; a
/// movement body from before locations still works.
#[test]
fn transfers_and_stocktakes_hold_through_the_edge_with_two_stock_replicas() {
    let mut running = start(&[("stock", 2)]);
    let web = running.stack.web_url();
    let admin = running.admin_token();
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        send(method, &format!("{web}{path}"), Some(&admin), body)
    };
    let (status, piece) = call(
        "POST",
        "/api/pieces/",
        Some(serde_json::json!({"reference": "ROUL-6301", "name": "Roulement 6301"})),
    );
    assert_eq!(status, 201, "{piece}");
    let piece = piece["id"].as_i64().expect("an id");
    let location = |code: &str| {
        let (status, created) = call(
            "POST",
            "/api/stock/locations/",
            Some(serde_json::json!({"code": code, "name": code})),
        );
        assert_eq!(status, 201, "{created}");
        created["id"].as_i64().expect("an id")
    };
    let (left, right) = (location("GAUCHE"), location("DROITE"));
    for (at, quantity) in [(left, 30), (right, 20)] {
        let (status, body) = call(
            "POST",
            "/api/stock/movement/",
            Some(
                serde_json::json!({"piece_id": piece, "type": "IN", "quantity": quantity, "location_id": at}),
            ),
        );
        assert_eq!(status, 201, "{body}");
    }

    // 100 transfers, 10 clients, quantities 1 to 12 either way: many are
    // refused for want of stock, none may overdraw.
    let outcomes: Vec<(i64, i64, u16)> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..10u64)
            .map(|client| {
                let call = &call;
                s.spawn(move || {
                    let mut seed = client.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (0..10)
                        .map(|_| {
                            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                            let quantity = (seed >> 33) as i64 % 12 + 1;
                            let (from, to) = if seed >> 63 == 0 { (left, right) } else { (right, left) };
                            let (status, body) = call(
                                "POST",
                                "/api/stock/movement/",
                                Some(serde_json::json!({"piece_id": piece, "type": "TRANSFER",
                                    "quantity": quantity, "from_location_id": from, "to_location_id": to})),
                            );
                            assert!(matches!(status, 201 | 409), "{status}: {body}");
                            (from, quantity, status)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    let moved_right: i64 = outcomes
        .iter()
        .filter(|(_, _, status)| *status == 201)
        .map(|(from, quantity, _)| if *from == left { *quantity } else { -quantity })
        .sum();
    let held = || -> BTreeMap<i64, i64> {
        let (_, level) = call("GET", &format!("/api/stock/{piece}/"), None);
        assert_eq!(level["quantity"], 50, "the total never changes: {level}");
        level["locations"]
            .as_array()
            .expect("locations")
            .iter()
            .map(|at| {
                (
                    at["location_id"].as_i64().unwrap(),
                    at["quantity"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let after = held();
    assert_eq!(
        (
            after.get(&left).copied().unwrap_or(0),
            after.get(&right).copied().unwrap_or(0)
        ),
        (30 - moved_right, 20 + moved_right),
        "each accepted transfer moved once: {outcomes:?}"
    );
    assert!(outcomes.iter().any(|(_, _, s)| *s == 201), "{outcomes:?}");

    // A stocktake of the left location, validated by two requests at once.
    let (status, count) = call(
        "POST",
        "/api/stock/counts/",
        Some(serde_json::json!({"location_id": left})),
    );
    assert_eq!(status, 201, "{count}");
    let id = count["id"].as_i64().unwrap();
    let counted = after.get(&left).copied().unwrap_or(0) + 3;
    let (status, body) = call(
        "PUT",
        &format!("/api/stock/counts/{id}/lines/"),
        Some(serde_json::json!({"lines": [{"piece_id": piece, "counted": counted}]})),
    );
    assert_eq!(status, 200, "{body}");
    let validations: Vec<u16> = std::thread::scope(|s| {
        let both: Vec<_> = (0..2)
            .map(|_| s.spawn(|| call("POST", &format!("/api/stock/counts/{id}/validate/"), None).0))
            .collect();
        both.into_iter().map(|v| v.join().unwrap()).collect()
    });
    assert_eq!(validations, [200, 200]);
    let (_, adjustments) = call(
        "GET",
        &format!("/api/stock/movements/?type=ADJUST&piece_id={piece}"),
        None,
    );
    assert_eq!(adjustments["count"], 1, "{adjustments}");
    assert_eq!(adjustments["results"][0]["delta"], 3);

    // A body from before locations: the default location.
    let (status, old) = call(
        "POST",
        "/api/stock/movement/",
        Some(serde_json::json!({"piece_id": piece, "type": "IN", "quantity": 2})),
    );
    assert_eq!(
        (status, old["location_id"].as_i64()),
        (201, Some(1)),
        "{old}"
    );
    let (_, level) = call("GET", &format!("/api/stock/{piece}/"), None);
    assert_eq!(level["quantity"], 55, "{level}");
    running.stack.stop();
}

/// Issue 20's loop through Traefik: pieces below their minimum are on the
/// reorder list with the right quantities; "create the orders" makes one
/// per supplier; the same receipt sent twice at once moves stock once; a
/// receipt made while stock is down waits and reaches stock once it is
/// back (the sidecar flushes purchasing's outbox); the level and the
/// back-in-stock alert follow.
#[test]
fn purchasing_orders_what_is_low_and_receives_it_once_through_the_edge() {
    let mut running = start(&[]);
    let web = running.stack.web_url();
    let admin = running.admin_token();
    let call = |method: &str, path: &str, body: Option<serde_json::Value>| {
        send(method, &format!("{web}{path}"), Some(&admin), body)
    };
    let created = |path: &str, body: serde_json::Value| {
        let (status, made) = call("POST", path, Some(body));
        assert_eq!(status, 201, "{path}: {made}");
        made["id"].as_i64().expect("an id")
    };
    let piece = |reference: &str, min_stock: i64| {
        created(
            "/api/pieces/",
            serde_json::json!({"reference": reference, "name": reference, "min_stock": min_stock}),
        )
    };
    let (bolts, nuts) = (piece("BOULON-8", 10), piece("ECROU-8", 6));
    let (north, south) = (
        created(
            "/api/purchasing/suppliers/",
            serde_json::json!({"name": "Nord"}),
        ),
        created(
            "/api/purchasing/suppliers/",
            serde_json::json!({"name": "Sud"}),
        ),
    );
    created(
        "/api/purchasing/offers/",
        serde_json::json!({"supplier_id": north, "piece_id": bolts, "unit_price_cents": 20, "pack_size": 25}),
    );
    created(
        "/api/purchasing/offers/",
        serde_json::json!({"supplier_id": south, "piece_id": nuts, "unit_price_cents": 8, "min_order_quantity": 50}),
    );
    let (status, body) = call(
        "POST",
        "/api/stock/movement/",
        Some(serde_json::json!({"piece_id": bolts, "type": "IN", "quantity": 3})),
    );
    assert_eq!(status, 201, "{body}");

    // Bolts: 3 of 20 (twice 10), 17 missing, a pack of 25. Nuts: 12
    // missing, the minimum of 50.
    let quantities = || -> BTreeMap<i64, i64> {
        let (status, list) = call("GET", "/api/purchasing/reorder/", None);
        assert_eq!(status, 200, "{list}");
        list["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .flat_map(|g| g["lines"].as_array().cloned().unwrap_or_default())
            .map(|l| {
                (
                    l["piece_id"].as_i64().unwrap(),
                    l["to_order"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(quantities(), BTreeMap::from([(bolts, 25), (nuts, 50)]));
    let (status, orders) = call("POST", "/api/purchasing/reorder/orders/", None);
    assert_eq!(status, 201, "{orders}");
    let orders = orders["created"].as_array().expect("created").clone();
    let suppliers: Vec<i64> = orders
        .iter()
        .filter_map(|o| o["supplier_id"].as_i64())
        .collect();
    assert_eq!(suppliers, [north, south], "one order per supplier");
    assert!(quantities().is_empty(), "everything is on order now");
    for order in &orders {
        let (status, body) = call(
            "POST",
            &format!("/api/purchasing/orders/{}/send/", order["id"]),
            None,
        );
        assert_eq!(status, 200, "{body}");
    }

    // The same receipt twice at once, through the edge: one IN movement.
    let receive = |order: &serde_json::Value, key: &str| {
        send_with(
            "POST",
            &format!("{web}/api/purchasing/orders/{}/receive/", order["id"]),
            Some(&admin),
            &[("idempotency-key", key)],
            Some(
                serde_json::json!({"lines": [{"line_id": order["lines"][0]["id"], "quantity": order["lines"][0]["quantity"]}]}),
            ),
        )
    };
    let (one, two) = std::thread::scope(|s| {
        let one = s.spawn(|| receive(&orders[0], "quai-1"));
        let two = s.spawn(|| receive(&orders[0], "quai-1"));
        (one.join().unwrap(), two.join().unwrap())
    });
    let mut statuses = [one.0, two.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{} / {}", one.1, two.1);
    let level = |piece: i64| call("GET", &format!("/api/stock/{piece}/"), None).1;
    assert_eq!(level(bolts)["quantity"], 28);
    assert_eq!(level(bolts)["status"], "ok");

    // Stock down: the receipt is kept (202) and reaches stock once it is
    // back, once.
    let port = running.stack.ports.instances["stock"][0];
    running
        .stack
        .stop_instance("stock", port)
        .expect("stock stops");
    let (status, waiting) = receive(&orders[1], "quai-2");
    assert_eq!(status, 202, "{waiting}");
    assert_eq!(waiting["receptions"][0]["state"], "pending");
    running
        .stack
        .start_instance("stock", port)
        .expect("stock starts again");
    eventually(
        "the waiting receipt reaches stock",
        Duration::from_secs(30),
        || level(nuts)["quantity"] == 50,
    );
    let (_, order) = call(
        "GET",
        &format!("/api/purchasing/orders/{}/", orders[1]["id"]),
        None,
    );
    assert_eq!(order["status"], "received", "{order}");
    assert_eq!(order["receptions"][0]["state"], "recorded", "{order}");
    let (_, movements) = call(
        "GET",
        &format!("/api/stock/movements/?piece_id={nuts}"),
        None,
    );
    assert_eq!(movements["count"], 1, "{movements}");

    // The alert follows: bolts, low before, are back in stock (nuts had
    // never moved: their first movement raises no "back" alert).
    eventually("the back-in-stock alert", Duration::from_secs(10), || {
        let (_, alerts) = call("GET", "/api/notifications/?type=back_in_stock", None);
        let about: Vec<i64> = alerts["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["piece"]["id"].as_i64())
            .collect();
        about.contains(&bolts)
    });
    running.stack.stop();
}

/// Webhooks in the split stack: the notifications host tells the stock host
/// which events to write, stock's outbox reaches notifications' host, and
/// the sidecar's flush sends each delivery again until the receiver takes
/// it: each event acknowledged once.
#[test]
fn webhooks_reach_a_failing_receiver_through_the_split_stack() {
    let receiver = crate::receiver::Receiver::start(2);
    let origin = format!("http://{}", receiver.address);
    let mut running = start_with(&[], &[("SPIN_VARIABLE_WEBHOOK_HOSTS", &origin)]);
    let web = running.stack.web_url();
    let admin = running.admin_token();
    let (status, webhook) = send(
        "POST",
        &format!("{web}/api/notifications/webhooks/"),
        Some(&admin),
        Some(
            serde_json::json!({"url": format!("{origin}/hook"), "events": ["movement", "piece_changed"]}),
        ),
    );
    assert_eq!(status, 201, "{webhook}");
    let (status, piece) = send(
        "POST",
        &format!("{web}/api/pieces/"),
        Some(&admin),
        Some(serde_json::json!({"reference": "WH-STACK", "name": "Vanne", "min_stock": 0})),
    );
    assert_eq!(status, 201, "{piece}");
    let (status, moved) = send(
        "POST",
        &format!("{web}/api/stock/movement/"),
        Some(&admin),
        Some(serde_json::json!({"piece_id": piece["id"], "type": "IN", "quantity": 3})),
    );
    assert_eq!(status, 201, "{moved}");
    eventually(
        "the catalogue change and the movement, after two refusals",
        Duration::from_secs(20),
        || receiver.acknowledged_kinds().len() >= 2,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        receiver.acknowledged_kinds(),
        ["movement", "piece_changed"],
        "each once, however many flushes ran"
    );
    running.stack.stop();
}

/// An idle stack is quiet: every second the sidecar flushes four outboxes
/// and Consul checks each host twice, and none of it may cut a response
/// short (a job that dropped its answer unread made stock log a failed
/// send every other second).
#[test]
fn an_idle_stack_logs_no_failed_send() {
    let mut running = start(&[]);
    std::thread::sleep(Duration::from_secs(8));
    for failed in [
        "cannot send the response",
        "Could not set `ResponseOutparam`",
    ] {
        let lines = running.stack.log.lines_with(failed);
        assert!(lines.is_empty(), "{lines:#?}");
    }
    running.stack.stop();
}

/// A movement through Traefik is one trace across three processes, each
/// exporting its own spans over OTLP: Traefik's, the stock host's (a child
/// of Traefik's), the pieces host's (a child of stock's call).
#[test]
fn a_movement_through_the_edge_is_one_trace_across_traefik_stock_and_pieces() {
    let collector = crate::receiver::Receiver::start(0);
    let endpoint = format!("http://{}", collector.address);
    let running = start_with(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);
    let admin = running.admin_token();
    let piece = running.piece(&admin, "TRACE-EDGE");
    let (status, movement) = running.movement(&admin, piece, "IN", 2);
    assert_eq!(status, 201, "{movement}");

    let is_movement = |s: &crate::traces::SeenSpan| {
        s.service == "stock"
            && s.attributes
                .get("url.path")
                .is_some_and(|p| p == "/api/stock/movement/")
    };
    let seen = crate::traces::spans_when(&collector, |spans| {
        spans.iter().filter(|s| is_movement(s)).any(|stock| {
            let of_trace = || spans.iter().filter(|s| s.trace_id == stock.trace_id);
            of_trace().any(|s| s.service == "pieces" && s.parent_id == stock.span_id)
                && of_trace().any(|s| s.service == "traefik" && s.span_id == stock.parent_id)
        })
    });
    let stock = seen.iter().find(|s| is_movement(s)).unwrap();
    let services: std::collections::BTreeSet<&str> = seen
        .iter()
        .filter(|s| s.trace_id == stock.trace_id)
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(
        services,
        ["pieces", "stock", "traefik"].into(),
        "one trace: {seen:#?}"
    );
}

/// `up --metrics`: after some traffic, a real Prometheus holds Traefik's,
/// every host's and the sidecar's metrics, and has loaded the alerting
/// rules.
#[test]
fn prometheus_scrapes_traefik_the_hosts_and_the_sidecar() {
    let running = start_with_prometheus();
    let prometheus = running.stack.prometheus_url().expect("prometheus runs");
    let admin = running.admin_token();
    let piece = running.piece(&admin, "METRIQUE");
    for _ in 0..5 {
        assert_eq!(running.movement(&admin, piece, "IN", 1).0, 201);
    }
    assert_eq!(running.movement(&admin, piece, "OUT", 99).0, 409);

    let query = |promql: &str| -> Option<f64> {
        let url = format!(
            "{prometheus}/api/v1/query?query={}",
            promql
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        );
        let answer = json(&url);
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    };
    let expected = [
        (
            r#"sum(host_requests_total{component="stock",route="/api/stock/...",status="201"})"#,
            5.0,
        ),
        (
            r#"sum(host_requests_total{component="stock",status="409"})"#,
            1.0,
        ),
        (
            r#"sum(host_instantiation_seconds_count{component="stock"})"#,
            6.0,
        ),
        (
            r#"sum(host_sqlite_writer_wait_seconds_count{database="stock"})"#,
            5.0,
        ),
        (
            r#"sum(traefik_entrypoint_requests_total{entrypoint="web"})"#,
            8.0,
        ),
        (r#"count(sidecar_job_pending)"#, 3.0),
        (r#"min(up)"#, 1.0),
        (r#"count(up)"#, 8.0),
    ];
    eventually("every metric scraped", Duration::from_secs(40), || {
        expected
            .iter()
            .all(|(promql, at_least)| query(promql).is_some_and(|v| v >= *at_least))
    });
    let rules = json(&format!("{prometheus}/api/v1/rules"));
    let mut names: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .expect("the rules")
        .iter()
        .filter(|r| r["health"] == "ok")
        .filter_map(|r| r["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["OutboxBacklog", "ServerErrors", "ServiceDown"],
        "{rules}"
    );
}
