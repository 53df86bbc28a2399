//! Compiled components kept between runs (`--cache-dir`, `--disable-cache`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::helpers::{PROBES, setup};

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the cache exists")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    entries.sort();
    entries
}

fn serve_from(cache: &Path) {
    let host = setup(PROBES)
        .arg("--cache-dir")
        .arg(cache.display().to_string())
        .start();
    assert_eq!(host.get("/p1/x").status, 200);
    assert_eq!(host.get("/p2/x").status, 200);
}

#[test]
fn a_second_start_loads_what_the_first_compiled() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    serve_from(&cache);
    let first = entries(&cache);
    assert_eq!(first.len(), 2, "one entry per component: {first:?}");
    assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o700);
    for entry in &first {
        assert_eq!(std::fs::metadata(entry).unwrap().mode() & 0o777, 0o600);
    }
    let inodes: Vec<u64> = first
        .iter()
        .map(|e| std::fs::metadata(e).unwrap().ino())
        .collect();

    // Loaded, not compiled again: compiling replaces the entry's file.
    serve_from(&cache);
    let again: Vec<u64> = entries(&cache)
        .iter()
        .map(|e| std::fs::metadata(e).unwrap().ino())
        .collect();
    assert_eq!(again, inodes);
}

#[test]
fn an_entry_that_does_not_load_is_compiled_again() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    serve_from(&cache);
    for entry in entries(&cache) {
        std::fs::write(&entry, b"not machine code").unwrap();
    }
    serve_from(&cache);
    for entry in entries(&cache) {
        assert!(std::fs::metadata(&entry).unwrap().len() > 1000, "{entry:?}");
    }
}

#[test]
fn a_cache_others_may_write_to_is_refused_unless_disabled() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = setup(PROBES)
        .arg("--cache-dir")
        .arg(cache.display().to_string())
        .start_fails();
    assert!(err.contains("--disable-cache"), "{err}");
    let host = setup(PROBES)
        .arg("--cache-dir")
        .arg(cache.display().to_string())
        .arg("--disable-cache")
        .start();
    assert_eq!(host.get("/p2/x").status, 200);
    assert!(entries(&cache).is_empty());
}
