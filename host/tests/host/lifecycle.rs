use std::process::Command;
use std::time::Duration;

use crate::helpers::setup;

const TWO: &str = r#"
spin_manifest_version = 2
[application]
name = "lifecycle"
[[trigger.http]]
route = "/one/..."
component = "one"
[[trigger.http]]
route = "/two/..."
component = "two"
[component.one]
source = "{probe}"
[component.two]
source = "{probe}"
"#;

#[test]
fn component_id_deploys_only_the_named_components() {
    let host = setup(TWO).arg("--component-id").arg("two").start();
    assert_eq!(host.get("/two/x").status, 200);
    assert_eq!(host.get("/one/x").status, 404);
    assert!(!host.banner.contains("one:"), "{}", host.banner);
}

#[test]
fn an_unknown_component_id_is_refused() {
    let err = setup(TWO).arg("-c").arg("three").start_fails();
    assert!(err.contains("three") && err.contains("one, two"), "{err}");
}

#[test]
fn a_malformed_manifest_is_one_line_naming_file_line_and_field() {
    let err = setup(&TWO.replace(
        "source = \"{probe}\"\n[component.two]",
        "sorce = \"x\"\n[component.two]",
    ))
    .start_fails();
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "{err}");
    assert!(
        line.contains("spin.toml:12:") && line.contains("sorce"),
        "{err}"
    );
}

#[test]
fn a_missing_wasm_file_is_named() {
    let err = setup(&TWO.replace("{probe}", "/nowhere/app.wasm")).start_fails();
    assert!(
        err.contains("component `one`") && err.contains("/nowhere/app.wasm"),
        "{err}"
    );
}

#[test]
fn a_port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = setup(TWO).listen(&addr).start_fails();
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let host = setup(TWO).start();
    std::thread::scope(|s| {
        let slow = s.spawn(|| host.get("/one/sleep?1500"));
        std::thread::sleep(Duration::from_millis(400));
        let killed = Command::new("kill")
            .args(["-TERM", &host.pid().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let reply = slow.join().unwrap();
        assert_eq!((reply.status, reply.body.as_str()), (200, "slept 1500 ms"));
    });
    let status = host.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn a_draining_host_fails_its_health_but_keeps_serving() {
    let host = setup(TWO).arg("--drain-secs").arg("2").start();
    assert_eq!(host.get("/.well-known/spin/health").status, 200);
    let terminated = Command::new("kill")
        .args(["-TERM", &host.pid().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    std::thread::sleep(Duration::from_millis(300));
    let health = host.get("/.well-known/spin/health");
    assert_eq!((health.status, health.body.as_str()), (503, "draining"));
    assert_eq!(
        host.get("/one/sleep?10").status,
        200,
        "new requests still served"
    );
    let status = host.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}");
}

#[test]
fn an_otlp_setting_the_host_cannot_honour_stops_start_up() {
    let grpc = setup(TWO)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .start_fails();
    assert!(grpc.contains("http/protobuf only"), "{grpc}");
    let tls = setup(TWO)
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://collector.example/v1/traces",
        )
        .start_fails();
    assert!(tls.contains("plain http:// only"), "{tls}");
}

#[test]
fn the_metrics_route_counts_each_request_by_component_route_and_status() {
    let host = setup(TWO).start();
    assert_eq!(host.get("/two/x").status, 200);
    assert_eq!(host.get("/two/x").status, 200);
    let metrics = host.get("/.well-known/spin/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains(
            "host_requests_total{component=\"two\",route=\"/two/...\",status=\"200\"} 2\n"
        ),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("host_instantiation_seconds_count{component=\"two\"} 2\n"),
        "{}",
        metrics.body
    );
}
