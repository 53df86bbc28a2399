use std::time::{Duration, Instant};

use crate::helpers::setup;

const PROBES: &str = r#"
spin_manifest_version = 2
[application]
name = "isolation"
[[trigger.http]]
route = "/p1/..."
component = "core-module"
[[trigger.http]]
route = "/p2/..."
component = "component"
[component.core-module]
source = "{probe}"
[component.component]
source = "{probe_p2}"
"#;

#[test]
fn core_modules_and_components_both_run() {
    let host = setup(PROBES).start();
    assert_eq!(host.get("/p1/x").status, 200);
    assert_eq!(host.get("/p2/x").status, 200);
}

#[test]
fn a_trap_fails_only_its_own_request() {
    let host = setup(PROBES).start();
    assert_eq!(host.get("/p1/trap").status, 500);
    assert_eq!(host.get("/p2/trap").status, 500);
    assert_eq!(host.get("/p1/x").status, 200);
    assert_eq!(host.get("/p2/x").status, 200);
}

#[test]
fn a_guest_over_its_time_limit_gets_504_while_others_are_served() {
    let host = setup(PROBES).arg("--request-timeout-secs").arg("2").start();
    std::thread::scope(|s| {
        let busy = s.spawn(|| {
            let started = Instant::now();
            (host.get("/p1/busy").status, started.elapsed())
        });
        let sleeping = s.spawn(|| host.get("/p2/sleep?10000").status);
        std::thread::sleep(Duration::from_millis(300));
        // Both workers' guests are stuck; the host still answers others.
        for _ in 0..5 {
            assert_eq!(host.get("/p1/x").status, 200);
        }
        let (status, elapsed) = busy.join().unwrap();
        assert_eq!(status, 504);
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        assert_eq!(sleeping.join().unwrap(), 504);
    });
    assert_eq!(host.get("/p1/x").status, 200);
}

#[test]
fn a_body_over_the_limit_gets_413_before_the_guest_runs() {
    let host = setup(PROBES).arg("--max-body-bytes").arg("1000").start();
    let small = host.request("POST", "/p1/body-length", &[], Some(&[b'a'; 1000]));
    assert_eq!((small.status, small.body.as_str()), (200, "1000"));
    let large = host.request("POST", "/p1/body-length", &[], Some(&[b'a'; 1001]));
    assert_eq!(large.status, 413);
}

#[test]
fn files_are_mounted_read_only_where_the_manifest_says() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("static")).unwrap();
    std::fs::write(dir.path().join("static/hello.txt"), "bonjour").unwrap();
    let manifest = format!(
        "{PROBES}files = [{{ source = \"static\", destination = \"/assets\" }}]\nenvironment = {{ GREETING = \"salut\" }}\n"
    );
    let host = setup(&manifest).in_dir(dir).start();
    assert_eq!(host.get("/p2/file?/assets/hello.txt").body, "bonjour");
    assert_eq!(host.get("/p2/file?/etc/hostname").status, 404);
    assert_eq!(host.get("/p2/env?GREETING").body, "salut");
}
