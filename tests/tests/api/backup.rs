//! `cargo xtask backup` / `restore` (`xtask::backup`, the functions the
//! commands call) on a real stack that keeps writing meanwhile.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::stack::{send, start, start_in};

/// Every movement acknowledged before the backup started is in the stack
/// restored from it, the databases pass `integrity_check`, the ledger sums
/// to the levels, and the restored secrets still verify the old tokens.
#[test]
fn a_backup_taken_during_movements_restores_into_a_fresh_stack() {
    let root = xtask::project_root().expect("the workspace root");
    let running = start(&[]);
    let admin = running.admin_token();
    let piece = running.piece(&admin, "VIS-SAUVEGARDE");
    let movement = |kind: &str, quantity: i64| running.movement(&admin, piece, kind, quantity);
    assert_eq!(movement("IN", 100_000).0, 201);

    // Two clients withdraw one at a time while the backup is taken.
    let acknowledged = Mutex::new(Vec::<(Instant, i64)>::new());
    let failures = Mutex::new(Vec::new());
    let done = AtomicBool::new(false);
    let out = tempfile::tempdir().expect("a temp dir");
    let (backup_started, archive) = std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    match movement("OUT", 1) {
                        (201, body) => acknowledged
                            .lock()
                            .unwrap()
                            .push((Instant::now(), body["id"].as_i64().expect("an id"))),
                        other => failures.lock().unwrap().push(other),
                    }
                }
            });
        }
        while acknowledged.lock().unwrap().len() < 40 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        let archive = xtask::backup::create(&root, running.data.path(), out.path())
            .unwrap_or_else(|e| panic!("the backup: {e:#}"));
        let after = acknowledged.lock().unwrap().len();
        while acknowledged.lock().unwrap().len() < after + 40 {
            std::thread::sleep(Duration::from_millis(20));
        }
        done.store(true, Ordering::Relaxed);
        (started, archive)
    });
    assert_eq!(failures.into_inner().unwrap(), []);
    let acknowledged = acknowledged.into_inner().unwrap();
    let before: Vec<i64> = acknowledged
        .iter()
        .filter(|(at, _)| *at < backup_started)
        .map(|(_, id)| *id)
        .collect();
    assert!(before.len() >= 40, "{}", before.len());
    drop(running);

    // A running stack (its lock held) is refused.
    let fresh = tempfile::tempdir().expect("a temp dir");
    {
        let mut up = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        std::fs::create_dir_all(fresh.path().join("stack")).unwrap();
        std::fs::write(fresh.path().join("stack/up.pid"), up.id().to_string()).unwrap();
        let refused = xtask::backup::restore(&root, fresh.path(), &archive)
            .err()
            .expect("a running stack refuses a restore");
        assert!(format!("{refused:#}").contains("is running"), "{refused:#}");
        up.kill().unwrap();
        up.wait().unwrap();
    }
    let restored = xtask::backup::restore(&root, fresh.path(), &archive)
        .unwrap_or_else(|e| panic!("the restore: {e:#}"));
    assert!(restored.replaced.is_none(), "nothing to replace");
    for (_, file) in xtask::backup::database_files(&root).unwrap() {
        let connection = rusqlite::Connection::open(fresh.path().join(&file)).unwrap();
        let verdict: String = connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(verdict, "ok", "{file}");
    }

    let running = start_in(fresh, &[], &[]);
    let web = running.stack.web_url();
    let (status, level) = send(
        "GET",
        &format!("{web}/api/stock/{piece}/"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "a token of the old stack verifies: {level}");
    let mut ledger = Vec::new();
    for page in 1.. {
        let (status, body) = send(
            "GET",
            &format!("{web}/api/stock/movements/?piece_id={piece}&page_size=200&page={page}"),
            Some(&admin),
            None,
        );
        assert_eq!(status, 200, "{body}");
        ledger.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (m["id"].as_i64().unwrap(), m["delta"].as_i64().unwrap())),
        );
        if body["next"].is_null() {
            break;
        }
    }
    let ids: std::collections::BTreeSet<i64> = ledger.iter().map(|(id, _)| *id).collect();
    let lost: Vec<_> = before.iter().filter(|id| !ids.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged before the backup, lost: {lost:?}"
    );
    let sum: i64 = ledger.iter().map(|(_, delta)| delta).sum();
    assert_eq!(
        Some(sum),
        level["quantity"].as_i64(),
        "the ledger replays to the level"
    );
    assert_eq!(ids.len(), ledger.len(), "no movement twice");
    // The backup may hold a few later movements too, never more than
    // were acknowledged in all.
    assert!(ledger.len() <= acknowledged.len() + 1, "{}", ledger.len());
}

/// A damaged archive, and one written by a newer version of the code, are
/// refused before anything is replaced.
#[test]
fn a_damaged_or_newer_archive_is_refused_and_nothing_is_replaced() {
    let root = xtask::project_root().expect("the workspace root");
    let running = start(&[]);
    let out = tempfile::tempdir().expect("a temp dir");
    let archive = xtask::backup::create(&root, running.data.path(), out.path())
        .unwrap_or_else(|e| panic!("the backup: {e:#}"));
    drop(running);

    let target = tempfile::tempdir().expect("a temp dir");
    std::fs::write(target.path().join("stock.db"), b"the data in place").unwrap();
    let refuses = |archive: &Path, why: &str| {
        let error = xtask::backup::restore(&root, target.path(), archive)
            .err()
            .unwrap_or_else(|| panic!("{} is restored", archive.display()));
        let error = format!("{error:#}");
        assert!(error.contains(why), "expected `{why}` in: {error}");
        assert_eq!(
            std::fs::read(target.path().join("stock.db")).unwrap(),
            b"the data in place"
        );
    };

    // One byte changed in the compressed stream.
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let damaged = out.path().join("damaged.tar.gz");
    std::fs::write(&damaged, &bytes).unwrap();
    refuses(&damaged, "not a readable backup");

    // A database replaced, its manifest left as it was.
    let unpacked = out.path().join("unpacked");
    untar(&archive, &unpacked);
    let stock = unpacked.join("databases/stock.db");
    let connection = rusqlite::Connection::open(&stock).unwrap();
    connection
        .execute("INSERT INTO schema_version (version) VALUES (999)", [])
        .unwrap();
    drop(connection);
    let edited = out.path().join("edited.tar.gz");
    tar(&unpacked, &edited);
    refuses(&edited, "databases/stock.db` is damaged");

    // The same database with a manifest that matches it: from newer code.
    let manifest_path = unpacked.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let bytes = std::fs::read(&stock).unwrap();
    for database in manifest["databases"].as_array_mut().unwrap() {
        if database["label"] == "stock" {
            database["schema_version"] = 999.into();
            database["bytes"] = bytes.len().into();
            database["sha256"] = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into();
        }
    }
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let newer = out.path().join("newer.tar.gz");
    tar(&unpacked, &newer);
    refuses(&newer, "stock is at schema 999, newer than this code's");
}

fn untar(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success());
}

fn tar(dir: &Path, archive: &Path) {
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .args(["manifest.json", "databases", "secrets"])
        .status()
        .unwrap();
    assert!(status.success());
}
