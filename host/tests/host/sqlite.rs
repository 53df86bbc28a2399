use std::time::{Duration, Instant};

use crate::helpers::{TestHost, json, setup};

/// `left` may open `left` and `default`, `right` only `right`.
const TWO_DATABASES: &str = r#"
spin_manifest_version = 2
[application]
name = "sqlite"
[[trigger.http]]
route = "/left/..."
component = "left"
[[trigger.http]]
route = "/right/..."
component = "right"
[component.left]
source = "{probe}"
sqlite_databases = ["left", "default"]
[component.right]
source = "{probe_p2}"
sqlite_databases = ["right"]
"#;

const RUNTIME_CONFIG: &str = r#"
[sqlite_database.left]
type = "spin"
path = "{dir}/data/left.db"
[sqlite_database.right]
type = "spin"
path = "{dir}/data/right.db"
"#;

fn sql(host: &TestHost, component: &str, label: &str, statement: &str) -> (u16, String) {
    let path = format!(
        "/{component}/sqlite?{}",
        statement.replace(' ', "+").replace('\'', "%27")
    );
    let reply = host.request("GET", &path, &[("x-label", label)], None);
    (reply.status, reply.body)
}

#[test]
fn a_component_opens_only_the_labels_it_is_granted() {
    let host = setup(TWO_DATABASES).runtime_config(RUNTIME_CONFIG).start();
    assert_eq!(
        sql(&host, "left", "right", "SELECT 1"),
        (409, "Error::AccessDenied".into())
    );
    assert_eq!(
        sql(&host, "right", "left", "SELECT 1"),
        (409, "Error::AccessDenied".into())
    );
    assert_eq!(
        sql(&host, "right", "default", "SELECT 1"),
        (409, "Error::AccessDenied".into())
    );
    assert_eq!(sql(&host, "left", "left", "SELECT 1").0, 200);
}

#[test]
fn each_label_is_its_own_file() {
    let host = setup(TWO_DATABASES).runtime_config(RUNTIME_CONFIG).start();
    assert_eq!(sql(&host, "left", "left", "CREATE TABLE t (v TEXT)").0, 200);
    assert_eq!(
        sql(&host, "left", "left", "INSERT INTO t VALUES ('é à ç')").0,
        200
    );
    let (status, body) = sql(&host, "left", "left", "SELECT v FROM t");
    assert_eq!(status, 200);
    assert_eq!(json(&body)["rows"][0][0], "Value::Text(\"é à ç\")");
    let (status, body) = sql(&host, "right", "right", "SELECT v FROM t");
    assert_eq!(status, 409);
    assert!(body.contains("no such table"), "{body}");
    assert!(host.dir.path().join("data/left.db").exists());
    assert!(host.dir.path().join("data/right.db").exists());
}

#[test]
fn sql_errors_are_io_errors_with_sqlites_message() {
    let host = setup(TWO_DATABASES).runtime_config(RUNTIME_CONFIG).start();
    let (status, body) = sql(&host, "left", "left", "SELEC nonsense");
    assert_eq!(status, 409);
    assert!(
        body.starts_with("Error::Io(") && body.contains("syntax error"),
        "{body}"
    );
}

#[test]
fn attach_cannot_reach_another_database() {
    let host = setup(TWO_DATABASES).runtime_config(RUNTIME_CONFIG).start();
    let other = host.dir.path().join("data/right.db");
    let (status, body) = sql(
        &host,
        "left",
        "left",
        &format!("ATTACH DATABASE '{}' AS other", other.display()),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("too many attached databases"), "{body}");
}

#[test]
fn default_database_lives_in_dot_spin_beside_the_manifest() {
    let host = setup(TWO_DATABASES).runtime_config(RUNTIME_CONFIG).start();
    assert_eq!(sql(&host, "left", "default", "CREATE TABLE d (x)").0, 200);
    assert!(host.dir.path().join(".spin/sqlite_db.db").exists());
}

#[test]
fn an_undefined_label_stops_the_host_at_start() {
    let err = setup(TWO_DATABASES).start_fails();
    assert!(
        err.contains("`left`") && err.contains("[sqlite_database.left]"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn sqlite_flag_runs_a_file_on_a_label_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("seed.sql"),
        "CREATE TABLE s (n INTEGER); INSERT INTO s VALUES (41), (1);",
    )
    .unwrap();
    let seed = format!("@{}:left", dir.path().join("seed.sql").display());
    let host = setup(TWO_DATABASES)
        .runtime_config(RUNTIME_CONFIG)
        .arg("--sqlite")
        .arg(seed)
        .in_dir(dir)
        .start();
    let (status, body) = sql(&host, "left", "left", "SELECT sum(n) FROM s");
    assert_eq!(
        (status, json(&body)["rows"][0][0].as_str()),
        (200, Some("Value::Integer(42)"))
    );
}

/// Two hosts on one file (replicas of a component) see each other's
/// writes: WAL and a busy timeout make the file shareable.
#[test]
fn two_hosts_share_one_database_file() {
    let first = setup(TWO_DATABASES).runtime_config(RUNTIME_CONFIG).start();
    let rc = RUNTIME_CONFIG.replace("{dir}", &first.dir.path().display().to_string());
    let second = setup(TWO_DATABASES).runtime_config(&rc).start();
    assert_eq!(
        sql(&first, "left", "left", "CREATE TABLE shared (n INTEGER)").0,
        200
    );
    std::thread::scope(|s| {
        for host in [&first, &second] {
            s.spawn(move || {
                for _ in 0..50 {
                    assert_eq!(
                        sql(host, "left", "left", "INSERT INTO shared VALUES (1)").0,
                        200
                    );
                }
            });
        }
    });
    let (_, body) = sql(&second, "left", "left", "SELECT count(*) FROM shared");
    assert_eq!(json(&body)["rows"][0][0], "Value::Integer(100)");
}

#[test]
fn a_statement_past_the_request_deadline_is_interrupted_and_answers_504() {
    let host = setup(TWO_DATABASES)
        .runtime_config(RUNTIME_CONFIG)
        .arg("--request-timeout-secs")
        .arg("1")
        .start();
    let endless =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x-(-1) FROM c) SELECT count(*) FROM c";
    let started = Instant::now();
    let (status, _) = sql(&host, "left", "left", endless);
    // Without the interrupt the statement never ends and neither does the
    // request (the client gives up after a minute).
    assert_eq!(status, 504);
    assert!(started.elapsed() < Duration::from_secs(30));
    // The connection went back to the pool without the old deadline.
    assert_eq!(sql(&host, "left", "left", "CREATE TABLE after (x)").0, 200);
    assert_eq!(
        sql(&host, "left", "left", "INSERT INTO after VALUES (1)").0,
        200
    );
}
