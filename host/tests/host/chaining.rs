//! Spin's service chaining (`http://<id>.spin.internal`) and static
//! responses, as Spin 3.6 serves them: a chained request reaches the
//! component past the route table, even a private one, and only with the
//! grant; a `static_response` route answers without running anything.

use crate::helpers::{json, setup};

fn app(caller_allowed: &str) -> String {
    format!(
        r#"
spin_manifest_version = 2
[application]
name = "chaining"
[[trigger.http]]
route = "/..."
component = "caller"
[[trigger.http]]
route = {{ private = true }}
component = "target"
[[trigger.http]]
route = "/caller/internal/..."
static_response = {{ status_code = 404, headers = {{ content-type = "text/plain", x-static = "yes" }}, body = "not here" }}
[component.caller]
source = "{{probe}}"
environment = {{ COMPONENT = "caller" }}
allowed_outbound_hosts = [{caller_allowed}]
[component.target]
source = "{{probe}}"
environment = {{ COMPONENT = "target" }}
"#
    )
}

#[test]
fn a_chained_request_reaches_a_private_component_as_spin_shows_it() {
    let host = setup(&app(r#""http://target.spin.internal""#)).start();
    let reply = host.get("/outbound?http://target.spin.internal/caller/internal/x");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (status, body) = reply.body.split_once(' ').expect("`STATUS BODY`");
    assert_eq!(status, "200", "{body}");
    let seen = json(body);
    assert_eq!(seen["component"], "target");
    assert_eq!(seen["path"], "/caller/internal/x");
    let headers = &seen["headers"];
    assert_eq!(headers["spin-matched-route"], "/...");
    assert_eq!(headers["spin-path-info"], "/caller/internal/x");
    assert_eq!(headers["spin-client-addr"], "0.0.0.0:0");
}

#[test]
fn chaining_needs_the_grant() {
    let host = setup(&app("")).start();
    let reply = host.get("/outbound?http://target.spin.internal/x");
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("HttpRequestDenied"), "{}", reply.body);
}

#[test]
fn a_static_response_answers_its_route_without_a_component() {
    let host = setup(&app("")).start();
    let reply = host.get("/caller/internal/anything");
    assert_eq!((reply.status, reply.body.as_str()), (404, "not here"));
    assert_eq!(reply.header("x-static"), Some("yes"));
    assert_eq!(json(&host.get("/caller/other").body)["component"], "caller");
}

/// As in Spin, `-c` keeps only the selected components' triggers (the
/// static response goes) and refuses a selection that leaves a literal
/// chaining target out.
#[test]
fn selective_deployment_drops_static_responses_and_checks_chaining_targets() {
    let host = setup(&app("")).arg("-c").arg("caller").start();
    let reply = host.get("/caller/internal/anything");
    assert_eq!(json(&reply.body)["component"], "caller", "{}", reply.body);
    let err = setup(&app(r#""http://target.spin.internal""#))
        .arg("-c")
        .arg("caller")
        .start_fails();
    assert!(
        err.contains("cannot chain to unselected component `target`"),
        "{err}"
    );
}
