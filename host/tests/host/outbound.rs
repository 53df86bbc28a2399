use crate::helpers::setup;

const TARGET: &str = r#"
spin_manifest_version = 2
[application]
name = "target"
[[trigger.http]]
route = "/..."
component = "target"
[component.target]
source = "{probe}"
environment = { COMPONENT = "target" }
"#;

fn caller(allowed: &str) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "caller"
[[trigger.http]]
route = "/..."
component = "caller"
[component.caller]
source = "{{probe}}"
environment = {{ COMPONENT = "caller" }}
allowed_outbound_hosts = [{allowed}]
"#
    )
}

#[test]
fn a_request_to_an_allowed_host_goes_through() {
    let target = setup(TARGET).start();
    let port = target.address.rsplit(':').next().unwrap();
    let host = setup(&caller(&format!("\"http://127.0.0.1:{port}\""))).start();
    let reply = host.get(&format!("/outbound?http://{}/who", target.address));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.starts_with("200 ") && reply.body.contains("\"component\":\"target\""),
        "{}",
        reply.body
    );
}

#[test]
fn a_request_to_any_other_host_or_port_is_denied() {
    let target = setup(TARGET).start();
    let port: u16 = target.address.rsplit(':').next().unwrap().parse().unwrap();
    let host = setup(&caller(&format!("\"http://127.0.0.1:{}\"", port + 1))).start();
    let reply = host.get(&format!("/outbound?http://{}/who", target.address));
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("HttpRequestDenied"), "{}", reply.body);
    let host = setup(&caller("")).start();
    let reply = host.get(&format!("/outbound?http://{}/who", target.address));
    assert!(reply.body.contains("HttpRequestDenied"), "{}", reply.body);
}

#[test]
fn self_reaches_the_application_itself_only_when_allowed() {
    let host = setup(&caller("\"http://self\"")).start();
    let reply = host.get("/outbound?http://self.alt/who");
    assert!(
        reply.body.starts_with("200 ") && reply.body.contains("\"path\":\"/who\""),
        "{}",
        reply.body
    );
    let host = setup(&caller("\"https://example.com\"")).start();
    let reply = host.get("/outbound?http://self.alt/who");
    assert!(reply.body.contains("HttpRequestDenied"), "{}", reply.body);
}

#[test]
fn a_malformed_allowed_host_stops_the_host_at_start() {
    let err = setup(&caller("\"example.com\"")).start_fails();
    assert!(
        err.contains("allowed_outbound_hosts") && err.contains("example.com"),
        "{err}"
    );
}

#[test]
fn allowed_hosts_may_be_templates_over_application_variables() {
    let target = setup(TARGET).start();
    let manifest = caller("\"http://{{ peer }}\"").replace(
        "[[trigger.http]]",
        "[variables]\npeer = { required = true }\n[[trigger.http]]",
    );
    let host = setup(&manifest)
        .env("SPIN_VARIABLE_PEER", &target.address)
        .start();
    let reply = host.get(&format!("/outbound?http://{}/who", target.address));
    assert!(reply.body.starts_with("200 "), "{}", reply.body);
}

#[test]
fn consecutive_requests_reuse_one_kept_alive_connection() {
    let target = setup(TARGET).start();
    let port = target.address.rsplit(':').next().unwrap();
    let host = setup(&caller(&format!("\"http://127.0.0.1:{port}\""))).start();
    let client_address = || {
        let reply = host.get(&format!("/outbound?http://{}/who", target.address));
        assert!(reply.body.starts_with("200 "), "{}", reply.body);
        let who: serde_json::Value =
            serde_json::from_str(reply.body.trim_start_matches("200 ")).unwrap();
        who["headers"]["spin-client-addr"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = client_address();
    assert_eq!(client_address(), first, "a second connection was opened");
}

#[test]
fn a_pooled_request_to_a_closed_port_fails_as_a_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let host = setup(&caller(&format!("\"http://127.0.0.1:{port}\""))).start();
    let reply = host.get(&format!("/outbound?http://127.0.0.1:{port}/who"));
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("ConnectionRefused"), "{}", reply.body);
}
