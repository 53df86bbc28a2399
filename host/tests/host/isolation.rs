use std::time::{Duration, Instant};

use crate::helpers::{PROBES, setup};

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

/// What a raw client reads until the host closes the connection (or 10 s).
fn read_until_closed(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_client_slow_to_send_its_head_or_body_is_cut_off() {
    use std::io::Write;
    let host = setup(PROBES)
        .arg("--header-read-timeout-secs")
        .arg("1")
        .arg("--request-timeout-secs")
        .arg("1")
        .start();
    let mut slow_head = std::net::TcpStream::connect(&host.address).unwrap();
    slow_head
        .write_all(b"GET /p1/x HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut slow_head);
    assert!(started.elapsed() < Duration::from_secs(8), "{answer}");
    assert!(!answer.contains("200 OK"), "{answer}");

    let mut slow_body = std::net::TcpStream::connect(&host.address).unwrap();
    slow_body
        .write_all(b"POST /p1/body-length HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    let answer = read_until_closed(&mut slow_body);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(host.get("/p1/x").status, 200, "others are served meanwhile");
}

#[test]
fn connections_over_the_cap_wait_until_one_closes() {
    use std::io::Write;
    let host = setup(PROBES).arg("--max-connections").arg("2").start();
    let idle: Vec<_> = (0..2)
        .map(|_| {
            let mut stream = std::net::TcpStream::connect(&host.address).unwrap();
            stream
                .write_all(b"GET /p1/x HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = std::net::TcpStream::connect(&host.address).unwrap();
    third
        .write_all(b"GET /p1/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut first_byte = [0u8; 1];
    assert!(
        std::io::Read::read(&mut third, &mut first_byte).is_err(),
        "not served while two connections are open"
    );
    drop(idle);
    let answer = read_until_closed(&mut third);
    assert!(answer.contains("200 OK"), "{answer}");
}
