//! Compiled components kept on disk, as `spin up` keeps them in wasmtime's
//! cache: a host that starts again on the same `.wasm` loads the machine
//! code instead of compiling it again (a few seconds of CPU per component;
//! the test suite starts dozens of hosts).
//!
//! An entry is named by the SHA-256 of the component's bytes and the
//! engine's compatibility hash (wasmtime version and configuration), so a
//! changed component or host never loads a stale entry; wasmtime checks the
//! header again when it loads one. Loading machine code from a file runs
//! it, so the directory must be this user's alone: created 0700, refused if
//! anyone else may write to it, entries written 0600 and renamed into place.
//! An entry that does not load is compiled again and replaced.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in `dir`, created if missing; an error if it may not be
    /// trusted.
    pub fn open(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the cache {}", dir.display()))?;
        let meta = std::fs::metadata(&dir)
            .with_context(|| format!("cannot read the cache {}", dir.display()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            anyhow::bail!(
                "the cache {} must belong to this user and be writable by nobody else \
                 (or run with --disable-cache)",
                dir.display()
            );
        }
        Ok(Self { dir })
    }

    /// `$XDG_CACHE_HOME/spin-host`, else `~/.cache/spin-host`.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
            .map(|dir| dir.join("spin-host"))
    }

    /// The component of `bytes`, from the cache or from `compile`, which
    /// then fills the cache (best effort: a full disk only costs speed).
    pub fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
        compile: impl FnOnce() -> anyhow::Result<Component>,
    ) -> anyhow::Result<Component> {
        let entry = self.entry(engine, bytes);
        if entry.exists() {
            // SAFETY: the entry was written by this user's host (the
            // directory admits no one else) and wasmtime checks that it was
            // compiled for this engine.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &entry) } {
                return Ok(component);
            }
        }
        let component = compile()?;
        if let Err(e) = self.store(&entry, &component) {
            logline::warn(
                &format!("cache: cannot keep {}: {e:#}", entry.display()),
                &[],
            );
        }
        Ok(component)
    }

    fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut compatibility = std::hash::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut compatibility);
        let digest = Sha256::digest(bytes);
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir
            .join(format!("{name}-{:016x}.cwasm", compatibility.finish()))
    }

    fn store(&self, entry: &Path, component: &Component) -> anyhow::Result<()> {
        use std::io::Write;
        let code = component.serialize()?;
        let partial = entry.with_extension(format!("partial-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)?;
        let written = file
            .write_all(&code)
            .and_then(|()| std::fs::rename(&partial, entry));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        Ok(written?)
    }
}
