//! `cargo xtask up` itself, the command a user runs (not `Stack`, which the
//! other stack tests drive): `kill -9` of any of its processes under load
//! is followed by a restart, and the stack serves on.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::stack::send;

/// `cargo xtask up --free-ports --data-dir <temp>` running, its printed
/// addresses, and everything it wrote.
struct Up {
    child: Child,
    data: tempfile::TempDir,
    output: Arc<Mutex<Vec<String>>>,
    web: String,
    dashboard: u16,
    consul: String,
    admin_password: String,
}

impl Up {
    fn start(args: &[&str]) -> Self {
        let root = xtask::project_root().expect("the workspace root");
        let data = tempfile::tempdir().expect("a temp dir");
        let mut child = Command::new(xtask::components::binary(&root, "xtask"))
            .current_dir(&root)
            .args(["up", "--free-ports", "--data-dir"])
            .arg(data.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xtask runs");
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        let printed = loop {
            let lines = output.lock().unwrap().clone();
            if lines.iter().any(|l| l.starts_with("Press Ctrl-C")) {
                break lines;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("up exited ({status}):\n{}", lines.join("\n"));
            }
            assert!(
                Instant::now() < deadline,
                "up never served:\n{}",
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let after = |label: &str| -> String {
            printed
                .iter()
                .find_map(|l| l.trim_start().strip_prefix(label))
                .unwrap_or_else(|| panic!("no `{label}` in:\n{}", printed.join("\n")))
                .trim()
                .to_owned()
        };
        let web = after("API (via Traefik)")
            .split("/api/")
            .next()
            .unwrap()
            .to_owned();
        let dashboard = after("Traefik dashboard")
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let consul = after("Consul UI")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let admin_password = after("Admin login")
            .split(" / ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("a generated password")
            .to_owned();
        Self {
            child,
            data,
            output,
            web,
            dashboard,
            consul,
            admin_password,
        }
    }

    fn admin_token(&self) -> String {
        let (status, tokens) = send(
            "POST",
            &format!("{}/api/auth/login/", self.web),
            None,
            Some(serde_json::json!({"username": "admin", "password": self.admin_password})),
        );
        assert_eq!(status, 200, "{tokens}");
        tokens["access"].as_str().unwrap().to_owned()
    }

    /// The pid of the one process whose command line holds every `part`
    /// (one of them unique to this stack: a port, its data directory).
    fn pid(&self, parts: &[&str]) -> u32 {
        let found: Vec<u32> = processes()
            .into_iter()
            .filter(|(_, line)| parts.iter().all(|p| line.contains(p)))
            .map(|(pid, _)| pid)
            .collect();
        assert_eq!(found.len(), 1, "{parts:?}: {found:?}");
        found[0]
    }

    /// Kills (SIGKILL) the process `parts` names; returns when.
    fn kill(&self, parts: &[&str]) -> Instant {
        let pid = self.pid(parts);
        // SAFETY: kill(2) on a pid this stack started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        Instant::now()
    }

    fn stock_servers_up(&self) -> usize {
        let password =
            std::fs::read_to_string(self.data.path().join("stack/dashboard-password")).unwrap();
        let agent = agent(Duration::from_secs(2));
        let Ok(mut response) = agent
            .get(format!(
                "http://127.0.0.1:{}/api/http/services/stock@consulcatalog",
                self.dashboard
            ))
            .header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        format!("{}:{}", xtask::control::DASHBOARD_USER, password.trim())
                    )
                ),
            )
            .call()
        else {
            return 0;
        };
        let service: serde_json::Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or_default();
        service["serverStatus"]
            .as_object()
            .map_or(0, |servers| servers.values().filter(|s| *s == "UP").count())
    }

    /// Instances of stock Consul lists as passing: a restarted Consul has
    /// none until the sidecar registers them again and their checks pass.
    fn stock_passing_in_consul(&self) -> usize {
        let token = std::fs::read_to_string(self.data.path().join("stack/consul-token")).unwrap();
        let agent = agent(Duration::from_secs(2));
        agent
            .get(format!(
                "http://{}/v1/health/service/stock?passing=1",
                self.consul
            ))
            .header("x-consul-token", token.trim())
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|list| list.as_array().map(Vec::len))
            .unwrap_or(0)
    }

    fn log_has(&self, text: &str) -> bool {
        self.output.lock().unwrap().iter().any(|l| l.contains(text))
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reads every status as an answer, waiting at most `limit`.
fn agent(limit: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(limit))
        .build()
        .into()
}

/// `(pid, command line with spaces)` of every process.
fn processes() -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let line = std::fs::read(entry.path().join("cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&line).replace('\0', " ")))
        })
        .collect()
}

/// Whether a GET through the edge answers 200 (a refused connection is a
/// no, while Traefik is down).
fn answers(url: &str, token: &str) -> bool {
    let agent = agent(Duration::from_secs(2));
    agent
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .call()
        .is_ok_and(|response| response.status() == 200)
}

/// How long until `check` holds, at most `within`.
fn recovery(what: &str, since: Instant, within: Duration, check: impl Fn() -> bool) -> Duration {
    while !check() {
        assert!(
            since.elapsed() < within,
            "{what}: not back within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    since.elapsed()
}

/// A keyed OUT of 1 through the edge; `None` when nothing answers (while
/// Traefik restarts).
fn withdraw(web: &str, token: &str, piece: i64, key: &str) -> Option<(u16, serde_json::Value)> {
    let agent = agent(Duration::from_secs(30));
    let mut response = agent
        .post(format!("{web}/api/stock/movement/"))
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .send(serde_json::json!({"piece_id": piece, "type": "OUT", "quantity": 1}).to_string())
        .ok()?;
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Some((
        response.status().as_u16(),
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    ))
}

/// Requests sent while one process was being killed and restarted, and
/// the keys of those that failed.
#[derive(Default)]
struct Tally {
    sent: usize,
    failed: Vec<String>,
}

/// The scenario against `up --replicas stock=2`: four clients send
/// keyed movements through Traefik all along while `kill -9` hits a stock
/// host, then the sidecar, Traefik and Consul in turn. Each is restarted
/// and the API is whole again; the figures go to docs/RELIABILITY.md.
#[test]
fn up_restarts_whatever_is_killed_and_loses_no_movement() {
    let up = Up::start(&["--replicas", "stock=2"]);
    let web = up.web.clone();
    let admin = up.admin_token();
    let (status, piece) = send(
        "POST",
        &format!("{web}/api/pieces/"),
        Some(&admin),
        Some(serde_json::json!({"reference": "SUPERVISION", "name": "Supervisée"})),
    );
    assert_eq!(status, 201, "{piece}");
    let piece = piece["id"].as_i64().unwrap();
    let (status, _) = send(
        "POST",
        &format!("{web}/api/stock/movement/"),
        Some(&admin),
        Some(serde_json::json!({"piece_id": piece, "type": "IN", "quantity": 1_000_000})),
    );
    assert_eq!(status, 201);
    let stock_ports: Vec<u16> = {
        let line = up
            .output
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("stock replicas on ports"))
            .cloned()
            .expect("the replicas' ports");
        line.split(['[', ']'])
            .nth(1)
            .unwrap()
            .split(", ")
            .map(|p| p.parse().unwrap())
            .collect()
    };
    let victim = format!("127.0.0.1:{}", stock_ports[1]);
    let data = up.data.path().display().to_string();
    let kills: [(String, [&str; 3]); 4] = [
        (
            format!("stock:{}", stock_ports[1]),
            ["host", "--listen", &victim],
        ),
        ("sidecar".into(), ["sidecar", "--consul", &up.consul]),
        ("traefik".into(), ["traefik", "--configFile", &data]),
        ("consul".into(), ["consul", "agent", &data]),
    ];

    // Whole: stock answers a read, and a keyed movement (the clients'
    // route, Traefik's `stock-keyed-movement` router) is recorded.
    let probes = AtomicUsize::new(0);
    let probed = Mutex::new(Vec::new());
    let serves = || {
        let key = format!(
            "supervision-probe-{}",
            probes.fetch_add(1, Ordering::Relaxed)
        );
        answers(&format!("{web}/api/stock/{piece}/"), &admin)
            && match withdraw(&web, &admin, piece, &key) {
                Some((201, body)) => {
                    probed
                        .lock()
                        .unwrap()
                        .push((key, body["id"].as_i64().unwrap()));
                    true
                }
                // Recorded or not: sent again with its key at the end.
                _ => {
                    probed.lock().unwrap().push((key, 0));
                    false
                }
            }
    };
    let phase = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let tallies: [Mutex<Tally>; 4] = Default::default();
    let acknowledged = Mutex::new(Vec::new());
    let recoveries = std::thread::scope(|s| {
        for client in 0..4 {
            let (phase, done, tallies, acknowledged, web, admin) =
                (&phase, &done, &tallies, &acknowledged, &web, &admin);
            s.spawn(move || {
                for n in 1.. {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("supervision-{client}-{n}");
                    let during = phase.load(Ordering::Relaxed);
                    let answer = withdraw(web, admin, piece, &key);
                    let mut tally = tallies[during].lock().unwrap();
                    tally.sent += 1;
                    match answer {
                        Some((201, body)) => acknowledged
                            .lock()
                            .unwrap()
                            .push((key, body["id"].as_i64().unwrap())),
                        _ => {
                            tally.failed.push(key);
                            drop(tally);
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        let mut recoveries = Vec::new();
        for (i, (name, parts)) in kills.iter().enumerate() {
            phase.store(i, Ordering::Relaxed);
            let killed = up.kill(parts);
            let restarted = recovery(name, killed, Duration::from_secs(30), || {
                up.log_has(&format!("{name} restarted"))
            });
            let whole = recovery(name, killed, Duration::from_secs(30), || {
                up.stock_passing_in_consul() == 2 && up.stock_servers_up() == 2 && serves()
            });
            std::thread::sleep(Duration::from_secs(2));
            recoveries.push((restarted, whole));
        }
        done.store(true, Ordering::Relaxed);
        recoveries
    });
    let tallies = tallies.map(|t| t.into_inner().unwrap());
    for ((name, _), ((restarted, whole), tally)) in
        kills.iter().zip(recoveries.iter().zip(&tallies))
    {
        eprintln!(
            "{name} killed: restarted after {restarted:.1?}, the API whole again after {whole:.1?}; {} of {} movements failed meanwhile",
            tally.failed.len(),
            tally.sent
        );
    }
    let host = &tallies[0];
    assert!(
        host.failed.len() * 100 <= host.sent,
        "more than 1 % failed while a stock host was down: {} of {}",
        host.failed.len(),
        host.sent
    );
    assert!(up.log_has(&format!("stock:{} exited (signal: 9", stock_ports[1])));
    assert!(
        !up.log_has("given up"),
        "{}",
        up.output.lock().unwrap().join("\n")
    );

    // A failed request may have been recorded before its host died: its
    // client sends it again with the same key, as the UI does, and gets the
    // movement once; an acknowledged key sent again changes nothing.
    let acknowledged = acknowledged.into_inner().unwrap();
    let mut recorded: Vec<i64> = acknowledged.iter().map(|(_, id)| *id).collect();
    let probed = probed.into_inner().unwrap();
    recorded.extend(probed.iter().filter(|(_, id)| *id != 0).map(|(_, id)| *id));
    let unanswered = probed.iter().filter(|(_, id)| *id == 0).map(|(key, _)| key);
    for key in tallies.iter().flat_map(|t| &t.failed).chain(unanswered) {
        let (status, body) = withdraw(&web, &admin, piece, key).expect("the edge answers");
        assert_eq!(status, 201, "{key} sent again: {status} {body}");
        recorded.push(body["id"].as_i64().unwrap());
    }
    for (key, id) in acknowledged.iter().step_by(97) {
        let (status, body) = withdraw(&web, &admin, piece, key).expect("the edge answers");
        assert_eq!(
            (status, body["id"].as_i64()),
            (201, Some(*id)),
            "{key} replayed"
        );
    }
    let ids: BTreeSet<i64> = recorded.iter().copied().collect();
    assert_eq!(ids.len(), recorded.len(), "a movement recorded twice");
    let (_, level) = send(
        "GET",
        &format!("{web}/api/stock/{piece}/"),
        Some(&admin),
        None,
    );
    assert_eq!(
        level["quantity"].as_i64(),
        Some(1_000_000 - recorded.len() as i64),
        "each movement counted once, and only those"
    );
}
