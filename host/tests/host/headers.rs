use crate::helpers::{json, setup};

const REQUEST_SHAPE: &str = r#"
spin_manifest_version = 2
[application]
name = "headers"
[[trigger.http]]
route = "/base/:path_segment/:path_end/..."
component = "shape"
[component.shape]
source = "{probe}"
"#;

/// The request-shape conformance case: every `spin-*` header, and nothing
/// a client sends can overwrite them.
#[test]
fn spin_headers_have_spins_values() {
    let host = setup(REQUEST_SHAPE).start();
    let reply = host.request(
        "GET",
        "/base/seg/end/rest/of/path?key1=value1&key2=value2",
        &[
            ("Host", "example.test:1234"),
            ("spin-path-info", "/forged"),
            ("spin-client-addr", "6.6.6.6:6"),
        ],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let headers = &json(&reply.body)["headers"];
    let expected = [
        (
            "spin-full-url",
            "http://example.test:1234/base/seg/end/rest/of/path?key1=value1&key2=value2",
        ),
        ("spin-path-info", "/rest/of/path"),
        ("spin-matched-route", "/base/:path_segment/:path_end/..."),
        ("spin-base-path", "/"),
        (
            "spin-raw-component-route",
            "/base/:path_segment/:path_end/...",
        ),
        ("spin-component-route", "/base/:path_segment/:path_end"),
        ("spin-path-match-path-segment", "seg"),
        ("spin-path-match-path-end", "end"),
    ];
    for (name, value) in expected {
        assert_eq!(headers[name], value, "{name} in {headers}");
    }
    let client = headers["spin-client-addr"].as_str().unwrap();
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert_eq!(
        headers.as_object().unwrap().len(),
        9,
        "no other spin-* header: {headers}"
    );
}
