use crate::helpers::{json, setup};

/// Four components on overlapping routes; each says who it is.
const OVERLAPPING: &str = r#"
spin_manifest_version = 2
[application]
name = "routing"
[[trigger.http]]
route = "/..."
component = "root"
[[trigger.http]]
route = "/a/b/..."
component = "deep"
[[trigger.http]]
route = "/a/..."
component = "shallow"
[[trigger.http]]
route = "/a/exact"
component = "exact"
[component.root]
source = "{probe}"
environment = { COMPONENT = "root" }
[component.shallow]
source = "{probe}"
environment = { COMPONENT = "shallow" }
[component.deep]
source = "{probe}"
environment = { COMPONENT = "deep" }
[component.exact]
source = "{probe}"
environment = { COMPONENT = "exact" }
"#;

fn component_for(host: &crate::helpers::TestHost, path: &str) -> String {
    let reply = host.get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    json(&reply.body)["component"].as_str().unwrap().to_owned()
}

#[test]
fn most_specific_route_wins_whatever_the_manifest_order() {
    let host = setup(OVERLAPPING).start();
    assert_eq!(component_for(&host, "/a/exact"), "exact");
    assert_eq!(component_for(&host, "/a/exact/"), "exact");
    assert_eq!(component_for(&host, "/a/exact/more"), "shallow");
    assert_eq!(component_for(&host, "/a/b/c"), "deep");
    assert_eq!(component_for(&host, "/a/b"), "deep");
    assert_eq!(component_for(&host, "/a/c"), "shallow");
    assert_eq!(component_for(&host, "/x"), "root");
    assert_eq!(component_for(&host, "/"), "root");
}

#[test]
fn unmatched_path_is_an_empty_404() {
    let host = setup(&OVERLAPPING.replace("route = \"/...\"", "route = \"/root\"")).start();
    let reply = host.get("/nowhere");
    assert_eq!((reply.status, reply.body.as_str()), (404, ""));
}

#[test]
fn well_known_health_route_answers_before_components() {
    let host = setup(OVERLAPPING).start();
    let reply = host.get("/.well-known/spin/health");
    assert_eq!((reply.status, reply.body.as_str()), (200, "OK"));
}

#[test]
fn banner_lists_routes_like_spin_up() {
    let host = setup(OVERLAPPING).start();
    let url = format!("http://{}", host.address);
    assert!(host.banner.contains("Available Routes:"), "{}", host.banner);
    assert!(
        host.banner
            .contains(&format!("  deep: {url}/a/b (wildcard)")),
        "{}",
        host.banner
    );
    assert!(
        host.banner.contains(&format!("  exact: {url}/a/exact\n")),
        "{}",
        host.banner
    );
}
