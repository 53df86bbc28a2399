//! Every service fuzzed from its own OpenAPI document by schemathesis,
//! through Traefik, with an admin token: no 5xx, and every response
//! conforms to the document (status, content type, headers, schema), and
//! what the document forbids is refused.

use std::process::Command;

use crate::stack::start;

/// Generated cases per operation; the four documents together give well
/// over a thousand cases.
const CASES_PER_OPERATION: &str = "50";

/// Cases the whole run must at least generate.
const MINIMUM_CASES: usize = 1000;

/// One schemathesis run: a service's document, against `base`, limited to
/// some operations.
struct Run {
    service: &'static str,
    base: String,
    filter: [&'static str; 2],
}

#[test]
fn every_service_conforms_to_its_document_under_fuzzing() {
    let root = xtask::project_root().expect("the workspace root");
    let schemathesis = xtask::tools::ensure_schemathesis(&root).expect("schemathesis");
    let running = start(&[]);
    let web = running.stack.web_url();
    let token = running.admin_token();
    let auth_host = format!(
        "http://127.0.0.1:{}",
        running.stack.ports.instances["auth"][0]
    );
    let through_edge = |service| Run {
        service,
        base: web.clone(),
        // Service-to-service routes are not routed by Traefik.
        filter: ["--exclude-path-regex", "/internal/"],
    };
    // auth last: its cases log in, log out and edit users. Traefik answers
    // logins beyond its rate limit itself (a plain-text 429), so login is
    // fuzzed on the auth host, everything else through the edge.
    let runs = [
        through_edge("pieces"),
        through_edge("stock"),
        through_edge("notifications"),
        through_edge("purchasing"),
        Run {
            filter: ["--exclude-path", "/api/auth/login/"],
            ..through_edge("auth")
        },
        Run {
            service: "auth",
            base: auth_host,
            filter: ["--include-path", "/api/auth/login/"],
        },
    ];
    let reports = tempfile::tempdir().expect("a temp dir");
    let mut generated = 0;
    for run in runs {
        let Run {
            service,
            base,
            filter,
        } = run;
        let output = Command::new(&schemathesis)
            .arg("run")
            .arg(format!("{base}/api/{service}/openapi.json"))
            .args(["--url", &base])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--max-examples", CASES_PER_OPERATION])
            .args(["--checks", "all"])
            // Schema-valid data may still break a business rule (an unknown
            // piece, a stock level too low): refusing it is right. DELETE
            // archives a used piece and deactivates a user, both still
            // readable afterwards by design.
            .args([
                "--exclude-checks",
                "positive_data_acceptance,use_after_free",
            ])
            .args(filter)
            .args(["--seed", "1", "--no-color", "--generation-database", "none"])
            .current_dir(reports.path())
            .output()
            .expect("schemathesis runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "schemathesis found failures in {service} ({base}, {filter:?}):\n{text}"
        );
        let cases = generated_cases(&text)
            .unwrap_or_else(|| panic!("no case count in the {service} run:\n{text}"));
        eprintln!("{service} via {base} {filter:?}: {cases} cases, no failure");
        generated += cases;
    }
    assert!(
        generated >= MINIMUM_CASES,
        "only {generated} cases generated"
    );
}

/// `N` in schemathesis' summary line `N generated, ...`.
fn generated_cases(summary: &str) -> Option<usize> {
    summary.lines().find_map(|line| {
        let (count, rest) = line.trim().split_once(' ')?;
        rest.starts_with("generated").then(|| count.parse().ok())?
    })
}
