//! `cargo xtask backup` and `cargo xtask restore`: every service's database
//! and the secrets in one archive, checked before anything is replaced.
//!
//! A backup copies each database with SQLite's online backup API from a
//! read transaction, so it runs while the stack writes (WAL: readers never
//! block writers) and never copies a live file. The five read transactions
//! are opened back to back before any copying, so the five snapshots are
//! microseconds apart; the manifest records the spread. They are still five
//! transactions: `docs/OPERATIONS.md` says what that means after a restore.
//!
//! The archive is a gzipped tar: `manifest.json` first (format, instant,
//! each file's size and SHA-256, each database's schema version), then
//! `databases/<file>` and `secrets/<file>`. Written 0600: it holds the
//! secrets.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lock::Lock;
use crate::secrets::{REQUIRED_SECRETS, create_private_dir};

/// Bumped when the archive's layout changes; restore reads only its own.
const FORMAT: u32 = 1;
const APP: &str = "gestion-de-stock";
const MANIFEST: &str = "manifest.json";
const DATABASES: &str = "databases";
const SECRETS: &str = "secrets";

/// Whoever sends events through an outbox is snapshotted before whoever
/// receives them: an event delivered between two snapshots is then still
/// pending in the sender's copy, and sent again after a restore to a
/// receiver that ignores what it already has, never lost.
const SNAPSHOT_ORDER: &[&str] = &["auth", "pieces", "purchasing", "stock", "notifications"];

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    app: String,
    /// UTC, SQLite's clock when the first snapshot was taken.
    created_at: String,
    /// Between the first and the last database's snapshot.
    snapshot_spread_micros: u64,
    databases: Vec<Database>,
    secrets: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Database {
    /// The `[sqlite_database.<label>]` of `runtime-config.toml`, which is
    /// also the component that owns it.
    label: String,
    /// The newest migration applied (`schema_version`).
    schema_version: i64,
    #[serde(flatten)]
    file: Entry,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Inside the archive.
    path: String,
    bytes: u64,
    sha256: String,
}

/// Writes `<out_dir>/gestion-de-stock-<UTC instant>.tar.gz` from the
/// databases and secrets of `data_dir`, and returns its path.
pub fn create(root: &Path, data_dir: &Path, out_dir: &Path) -> Result<PathBuf> {
    create_private_dir(out_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(out_dir)
        .with_context(|| format!("cannot write in {}", out_dir.display()))?;
    create_private_dir(&staging.path().join(DATABASES))?;
    let mut labels = database_files(root)?;
    labels.sort_by_key(|(label, _)| {
        SNAPSHOT_ORDER
            .iter()
            .position(|l| l == label)
            .unwrap_or(SNAPSHOT_ORDER.len())
    });

    let sources = labels
        .iter()
        .map(|(label, file)| open_source(label, &data_dir.join(file)))
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    for source in &sources {
        // The snapshot is fixed by the first read of each transaction.
        source
            .execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;")
            .context("cannot start a read transaction")?;
    }
    let spread = started.elapsed();
    eprintln!("    {} snapshots taken within {spread:.1?}", sources.len());
    let created_at: String =
        sources[0].query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |row| {
            row.get(0)
        })?;

    let mut databases = Vec::new();
    for ((label, file), source) in labels.iter().zip(&sources) {
        let path = format!("{DATABASES}/{file}");
        let copy = staging.path().join(&path);
        copy_snapshot(source, &copy).with_context(|| format!("cannot back up {label}"))?;
        let schema_version =
            check_database(&copy).with_context(|| format!("the copy of {label}"))?;
        eprintln!(
            "    {label}: schema {schema_version}, {} bytes",
            file_size(&copy)?
        );
        databases.push(Database {
            label: label.clone(),
            schema_version,
            file: entry(staging.path(), &path)?,
        });
    }
    drop(sources);

    let secrets = secret_files(&data_dir.join(SECRETS))?
        .into_iter()
        .map(|name| entry(data_dir, &format!("{SECRETS}/{name}")))
        .collect::<Result<Vec<_>>>()?;
    let manifest = Manifest {
        format: FORMAT,
        app: APP.to_owned(),
        created_at: created_at.clone(),
        snapshot_spread_micros: u64::try_from(spread.as_micros()).unwrap_or(u64::MAX),
        databases,
        secrets,
    };
    let name = format!("{APP}-{}.tar.gz", created_at.replace([':', '-'], ""));
    let archive = out_dir.join(&name);
    write_archive(&archive, &manifest, staging.path(), data_dir)?;
    Ok(archive)
}

/// What [`restore`] did.
pub struct Restored {
    pub created_at: String,
    /// Where the databases and secrets it replaced were moved, if any.
    pub replaced: Option<PathBuf>,
}

/// Replaces the databases and secrets of `data_dir` with the archive's,
/// after checking all of it; refuses while a stack or `dev` runs on
/// `data_dir`. What it replaces is moved aside, never deleted.
pub fn restore(root: &Path, data_dir: &Path, archive: &Path) -> Result<Restored> {
    create_private_dir(data_dir)?;
    let _lock = Lock::take(data_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data_dir)?;
    let manifest = unpack(archive, staging.path())
        .with_context(|| format!("{} is not a readable backup", archive.display()))?;
    verify(root, &manifest, staging.path())
        .with_context(|| format!("{} cannot be restored", archive.display()))?;

    let replaced = data_dir.join(format!(
        "replaced-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    ));
    let mut moved_aside = false;
    let mut set_aside = |from: &Path| -> Result<()> {
        if from.exists() {
            create_private_dir(&replaced)?;
            let name = from.file_name().context("a path without a name")?;
            std::fs::rename(from, replaced.join(name))
                .with_context(|| format!("cannot move {} aside", from.display()))?;
            moved_aside = true;
        }
        Ok(())
    };
    for database in &manifest.databases {
        let live = data_dir.join(file_name(&database.file.path)?);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            set_aside(&PathBuf::from(format!("{}{suffix}", live.display())))?;
        }
    }
    set_aside(&data_dir.join(SECRETS))?;
    for database in &manifest.databases {
        let live = data_dir.join(file_name(&database.file.path)?);
        std::fs::rename(staging.path().join(&database.file.path), &live)
            .with_context(|| format!("cannot put {} in place", live.display()))?;
    }
    std::fs::rename(staging.path().join(SECRETS), data_dir.join(SECRETS))
        .context("cannot put the secrets in place")?;
    Ok(Restored {
        created_at: manifest.created_at,
        replaced: moved_aside.then_some(replaced),
    })
}

/// `(label, file name)` of every database in `runtime-config.toml`, in its
/// order; the file lives in the data directory under that name.
pub fn database_files(root: &Path) -> Result<Vec<(String, String)>> {
    let path = root.join("runtime-config.toml");
    let config: toml::Table = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .parse()
        .with_context(|| format!("cannot parse {}", path.display()))?;
    let Some(toml::Value::Table(databases)) = config.get("sqlite_database") else {
        bail!("{} names no [sqlite_database]", path.display());
    };
    databases
        .iter()
        .map(|(label, database)| {
            let file = database
                .get("path")
                .and_then(toml::Value::as_str)
                .and_then(|p| Path::new(p).file_name())
                .and_then(|f| f.to_str())
                .with_context(|| format!("[sqlite_database.{label}] has no file path"))?;
            Ok((label.clone(), file.to_owned()))
        })
        .collect()
}

/// The newest migration `<component>/src/schema.rs` defines: a database
/// newer than that belongs to a later version of the code.
pub fn code_schema_version(root: &Path, component: &str) -> Result<i64> {
    let path = root.join(component).join("src/schema.rs");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("version: ")?.strip_suffix(','))
        .filter_map(|n| n.parse().ok())
        .max()
        .with_context(|| format!("{} defines no migration", path.display()))
}

fn open_source(label: &str, path: &Path) -> Result<Connection> {
    ensure!(
        path.exists(),
        "no database for {label} at {}: start the stack once to create it",
        path.display()
    );
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    connection.busy_timeout(Duration::from_secs(10))?;
    // Reads the schema now, so that the snapshots later are only that.
    connection.execute_batch("SELECT count(*) FROM sqlite_schema;")?;
    Ok(connection)
}

/// Copies the snapshot `source`'s open read transaction sees: the backup
/// API reads through a transaction already open instead of starting one.
fn copy_snapshot(source: &Connection, to: &Path) -> Result<()> {
    let mut copy = Connection::open(to)?;
    rusqlite::backup::Backup::new(source, &mut copy)?.step(-1)?;
    // A copy of a WAL database is a WAL database: fold its WAL in, so that
    // the archive holds one self-contained file.
    copy.execute_batch("PRAGMA journal_mode = DELETE;")?;
    Ok(())
}

/// `PRAGMA integrity_check` says "ok"; returns the schema version.
fn check_database(path: &Path) -> Result<i64> {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: Vec<String> = connection
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ensure!(
        verdict == ["ok"],
        "integrity_check failed: {}",
        verdict.join("; ")
    );
    let version: Option<i64> = connection
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .context("no schema_version table: not a database of this app")?;
    version.context("no migration recorded")
}

fn secret_files(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && !name.ends_with(".partial") {
            names.push(name);
        }
    }
    names.sort();
    for required in REQUIRED_SECRETS {
        ensure!(
            names.iter().any(|n| n == required),
            "{} lacks {required}",
            dir.display()
        );
    }
    Ok(names)
}

fn entry(base: &Path, path: &str) -> Result<Entry> {
    let bytes = std::fs::read(base.join(path))
        .with_context(|| format!("cannot read {}", base.join(path).display()))?;
    Ok(Entry {
        path: path.to_owned(),
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(&bytes)),
    })
}

fn write_archive(
    archive: &Path,
    manifest: &Manifest,
    staging: &Path,
    data_dir: &Path,
) -> Result<()> {
    let partial = archive.with_extension("partial");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    let text = serde_json::to_vec_pretty(manifest)?;
    append(&mut tar, MANIFEST, &mut &text[..], text.len() as u64)?;
    let files = manifest
        .databases
        .iter()
        .map(|d| (&d.file, staging))
        .chain(manifest.secrets.iter().map(|s| (s, data_dir)));
    for (entry, base) in files {
        let mut file = File::open(base.join(&entry.path))?;
        append(&mut tar, &entry.path, &mut file, entry.bytes)?;
    }
    let file = tar.into_inner()?.finish()?;
    file.sync_all()?;
    std::fs::rename(&partial, archive)
        .with_context(|| format!("cannot write {}", archive.display()))
}

fn append(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    data: &mut impl Read,
    size: u64,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    tar.append_data(&mut header, path, data)
        .with_context(|| format!("cannot archive {path}"))
}

/// Unpacks the archive's files into `staging` (only the manifest and plain
/// files under `databases/` and `secrets/`), and returns the manifest.
fn unpack(archive: &Path, staging: &Path) -> Result<Manifest> {
    let file = File::open(archive).context("cannot open it")?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut manifest = None;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut text = Vec::new();
        if path == MANIFEST {
            entry.read_to_end(&mut text)?;
            manifest =
                Some(serde_json::from_slice::<Manifest>(&text).context("its manifest is invalid")?);
            continue;
        }
        if entry.header().entry_type().is_dir()
            && [DATABASES, SECRETS].contains(&path.trim_end_matches('/'))
        {
            continue;
        }
        let (dir, name) = path
            .split_once('/')
            .filter(|(dir, name)| [DATABASES, SECRETS].contains(dir) && safe_name(name))
            .with_context(|| format!("unexpected entry `{path}`"))?;
        ensure!(
            entry.header().entry_type().is_file(),
            "`{path}` is not a file"
        );
        create_private_dir(&staging.join(dir))?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(staging.join(dir).join(name))
            .with_context(|| format!("`{path}` twice"))?;
        std::io::copy(&mut entry, &mut out)?;
    }
    // The gzip trailer's CRC is read only at the end of the stream.
    std::io::copy(&mut tar.into_inner(), &mut std::io::sink())?;
    manifest.context("it has no manifest.json")
}

fn safe_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && !name.starts_with('.')
}

/// Everything the manifest promises, against the files and this code.
fn verify(root: &Path, manifest: &Manifest, staging: &Path) -> Result<()> {
    ensure!(
        manifest.app == APP && manifest.format == FORMAT,
        "it is a backup of `{}` in format {}; this is {APP}, format {FORMAT}",
        manifest.app,
        manifest.format
    );
    let expected: BTreeMap<String, String> = database_files(root)?.into_iter().collect();
    let found: BTreeMap<String, String> = manifest
        .databases
        .iter()
        .map(|d| Ok((d.label.clone(), file_name(&d.file.path)?.to_owned())))
        .collect::<Result<_>>()?;
    ensure!(
        found == expected,
        "it holds the databases {:?}; runtime-config.toml has {:?}",
        found,
        expected
    );
    let files = manifest
        .databases
        .iter()
        .map(|d| &d.file)
        .chain(&manifest.secrets);
    for entry in files {
        let actual = entry_or_missing(staging, &entry.path)?;
        ensure!(
            actual.bytes == entry.bytes && actual.sha256 == entry.sha256,
            "`{}` is damaged: {} bytes with SHA-256 {}, the manifest says {} bytes with {}",
            entry.path,
            actual.bytes,
            actual.sha256,
            entry.bytes,
            entry.sha256
        );
    }
    let unlisted = std::fs::read_dir(staging.join(DATABASES))?
        .chain(std::fs::read_dir(staging.join(SECRETS))?)
        .count();
    ensure!(
        unlisted == manifest.databases.len() + manifest.secrets.len(),
        "it holds files its manifest does not list"
    );
    secret_files(&staging.join(SECRETS))?;
    for database in &manifest.databases {
        let path = staging.join(&database.file.path);
        let version = check_database(&path).with_context(|| format!("`{}`", database.file.path))?;
        ensure!(
            version == database.schema_version,
            "`{}` has schema {version}, the manifest says {}",
            database.file.path,
            database.schema_version
        );
        let known = code_schema_version(root, &database.label)?;
        ensure!(
            version <= known,
            "{} is at schema {version}, newer than this code's {known}: restore it with the version of the code that wrote it",
            database.label
        );
    }
    Ok(())
}

fn entry_or_missing(staging: &Path, path: &str) -> Result<Entry> {
    ensure!(staging.join(path).is_file(), "`{path}` is missing");
    entry(staging, path)
}

fn file_name(path: &str) -> Result<&str> {
    path.strip_prefix(&format!("{DATABASES}/"))
        .filter(|name| safe_name(name))
        .with_context(|| format!("`{path}` is not under {DATABASES}/"))
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)?.len())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_database_has_its_place_in_the_snapshot_order() {
        let root = crate::project_root().unwrap();
        let mut labels: Vec<String> = database_files(&root)
            .unwrap()
            .into_iter()
            .map(|(label, _)| label)
            .collect();
        labels.sort();
        let mut ordered: Vec<String> = SNAPSHOT_ORDER.iter().map(|l| l.to_string()).collect();
        ordered.sort();
        assert_eq!(labels, ordered);
    }

    #[test]
    fn the_code_knows_each_schema_version() {
        let root = crate::project_root().unwrap();
        for (label, _) in database_files(&root).unwrap() {
            assert!(code_schema_version(&root, &label).unwrap() >= 1, "{label}");
        }
        assert!(code_schema_version(&root, "stock").unwrap() >= 9);
    }
}
