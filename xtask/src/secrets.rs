//! The stack's secrets, made on first use and kept as 0600 files in one
//! directory (`.data/secrets/` for `up` and `dev`, a temporary one for
//! tests), handed to every host as `SPIN_VARIABLE_*` (see `spin.toml`).
//!
//! - `jwt-private-key`: `<kid>:<base64 of the Ed25519 key pair>`, auth signs
//!   access tokens with it; the JWKS every service verifies with is derived
//!   from it.
//! - `jwt-private-key.previous` (optional): the key before a rotation; its
//!   public half stays in the JWKS so tokens it signed live out their 5 min.
//! - `internal-secret`: the credential of service-to-service calls.
//! - `admin-password`: the bootstrap admin's, from `ADMIN_PASSWORD` when set
//!   at creation, else generated.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jwt_simple::prelude::Ed25519KeyPair;

const PRIVATE_KEY: &str = "jwt-private-key";
const PREVIOUS_PRIVATE_KEY: &str = "jwt-private-key.previous";
const INTERNAL_SECRET: &str = "internal-secret";
const ADMIN_PASSWORD: &str = "admin-password";
/// The files a secrets directory cannot do without (the previous key is
/// optional).
pub const REQUIRED_SECRETS: [&str; 3] = [PRIVATE_KEY, INTERNAL_SECRET, ADMIN_PASSWORD];
/// The bootstrap admin's name unless `ADMIN_USERNAME` says otherwise.
const DEFAULT_ADMIN: &str = "admin";

/// Everything the hosts need to sign, verify and bootstrap.
pub struct Secrets {
    /// `<kid>:<base64 key pair>`, the value of `jwt_private_key`.
    jwt_private_key: String,
    /// The JWKS document, the value of `jwt_public_keys`.
    jwt_public_keys: String,
    internal_secret: String,
    pub admin_username: String,
    pub admin_password: String,
    /// True when this call generated the admin password: print it, once.
    pub admin_password_generated: bool,
}

impl Secrets {
    /// Reads the secrets under `dir`, creating the missing ones.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        create_private_dir(dir)?;
        let jwt_private_key = read_or_create(&dir.join(PRIVATE_KEY), new_private_key)?.0;
        let mut public_keys = vec![public_jwk(&jwt_private_key)?];
        let previous = dir.join(PREVIOUS_PRIVATE_KEY);
        if previous.exists() {
            let text = std::fs::read_to_string(&previous)
                .with_context(|| format!("cannot read {}", previous.display()))?;
            public_keys.push(public_jwk(text.trim())?);
        }
        let jwt_public_keys = serde_json::json!({ "keys": public_keys }).to_string();
        let internal_secret = read_or_create(&dir.join(INTERNAL_SECRET), || random(32))?.0;
        let from_env = std::env::var("ADMIN_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty());
        let (admin_password, created) = read_or_create(&dir.join(ADMIN_PASSWORD), || {
            from_env.clone().map_or_else(|| random(18), Ok)
        })?;
        if admin_password.chars().count() < 10 {
            bail!("the admin password must have at least 10 characters (ADMIN_PASSWORD)");
        }
        Ok(Self {
            jwt_private_key,
            jwt_public_keys,
            internal_secret,
            admin_username: std::env::var("ADMIN_USERNAME")
                .ok()
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| DEFAULT_ADMIN.to_owned()),
            admin_password,
            admin_password_generated: created && from_env.is_none(),
        })
    }

    /// `SPIN_VARIABLE_*` pairs for a host's environment.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("JWT_PRIVATE_KEY", &self.jwt_private_key),
            ("JWT_PUBLIC_KEYS", &self.jwt_public_keys),
            ("INTERNAL_SECRET", &self.internal_secret),
            ("ADMIN_USERNAME", &self.admin_username),
            ("ADMIN_PASSWORD", &self.admin_password),
        ]
        .into_iter()
        .map(|(name, value)| (format!("SPIN_VARIABLE_{name}"), value.clone()))
        .collect()
    }

    /// Writes the `SPIN_VARIABLE_*` pairs to `path` (0600) in the dotenv
    /// format Spin's environment provider reads from `.env` in the
    /// directory `spin up` runs in, so that `spin up` needs nothing typed.
    pub fn write_dotenv(&self, path: &Path) -> Result<()> {
        let mut text = String::from(
            "# Spin variables of this checkout (cargo xtask secrets), read by `spin up`\n\
             # and by our host from the directory they start in. Secret: never commit.\n",
        );
        for (name, value) in self.env() {
            text.push_str(&format!("{name}={}\n", dotenv_quoted(&value)));
        }
        write_private(path, &text)
    }

    /// The value of `jwt_private_key`, for tests that sign their own tokens.
    pub fn jwt_private_key(&self) -> &str {
        &self.jwt_private_key
    }

    /// The value of `internal_secret`, for tests of internal routes.
    pub fn internal_secret(&self) -> &str {
        &self.internal_secret
    }
}

/// Creates `dir` and its missing parents readable by this user alone (0700),
/// or makes an existing `dir` so: `.data/` holds the databases and the
/// secrets, and `spin up` creates database files with the umask's mode.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// The file's trimmed content, or `make()` written to it (0600, never over
/// an existing file); true when it was created.
fn read_or_create(path: &Path, make: impl FnOnce() -> Result<String>) -> Result<(String, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok((text.trim().to_owned(), false)),
        Ok(_) => bail!(
            "{} is empty: delete it to have it made again",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    let value = make()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{value}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok((value, true))
}

/// A double-quoted dotenv value: `\\`, `"` and `$` (which would expand
/// another variable) escaped, so JSON and any password read back as written.
fn dotenv_quoted(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Writes `text` to `path`, readable by this user alone (0600), replacing
/// what was there. Written beside, then renamed: a reader never sees half
/// a file.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

/// `n` random bytes, base64url: URL-, header- and shell-safe.
pub fn random(bytes: usize) -> Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// A fresh key pair under a random kid.
fn new_private_key() -> Result<String> {
    let kid = format!("ed25519-{}", random(6)?);
    Ok(format!(
        "{kid}:{}",
        STANDARD.encode(Ed25519KeyPair::generate().to_bytes())
    ))
}

/// The JWK of the public half of a `<kid>:<base64 key pair>` value.
fn public_jwk(private_key: &str) -> Result<serde_json::Value> {
    let parse = || {
        let (kid, encoded) = private_key.split_once(':')?;
        let pair = Ed25519KeyPair::from_bytes(&STANDARD.decode(encoded).ok()?).ok()?;
        Some((kid.to_owned(), pair.public_key().to_bytes()))
    };
    let (kid, public) =
        parse().context("a JWT private key is not `<kid>:<base64 of the key pair>`")?;
    Ok(serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
        "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(public),
    }))
}

#[cfg(test)]
mod tests {

    use super::*;

    fn env(secrets: &Secrets) -> std::collections::BTreeMap<String, String> {
        secrets.env().into_iter().collect()
    }

    #[test]
    fn secrets_are_made_once_private_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Secrets::load_or_create(dir.path()).unwrap();
        for file in [PRIVATE_KEY, INTERNAL_SECRET, ADMIN_PASSWORD] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let second = Secrets::load_or_create(dir.path()).unwrap();
        assert_eq!(env(&first), env(&second));
        assert!(!second.admin_password_generated);
        assert!(first.admin_password.chars().count() >= 10);
    }

    #[test]
    fn the_jwks_matches_the_private_key_and_keeps_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let old = Secrets::load_or_create(dir.path()).unwrap();
        std::fs::rename(
            dir.path().join(PRIVATE_KEY),
            dir.path().join(PREVIOUS_PRIVATE_KEY),
        )
        .unwrap();
        let new = Secrets::load_or_create(dir.path()).unwrap();
        let jwks: serde_json::Value =
            serde_json::from_str(&env(&new)["SPIN_VARIABLE_JWT_PUBLIC_KEYS"]).unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap())
            .collect();
        let kid_of = |secrets: &Secrets| {
            secrets
                .jwt_private_key()
                .split_once(':')
                .unwrap()
                .0
                .to_owned()
        };
        assert_eq!(kids, [kid_of(&new), kid_of(&old)]);
        assert_eq!(jwks["keys"][0], public_jwk(new.jwt_private_key()).unwrap());
    }

    /// Read back by `dotenvy`, the parser Spin's `.env` provider uses.
    #[test]
    fn the_dotenv_file_reads_back_as_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets {
            admin_password: r#"pa"ss$HOME\word'"#.to_owned(),
            ..Secrets::load_or_create(&dir.path().join("secrets")).unwrap()
        };
        let path = dir.path().join(".env");
        secrets.write_dotenv(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let read: std::collections::BTreeMap<String, String> = dotenvy::from_path_iter(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, env(&secrets));
    }

    #[test]
    fn an_empty_file_is_an_error_not_a_blank_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(INTERNAL_SECRET), "\n").unwrap();
        assert!(Secrets::load_or_create(dir.path()).is_err());
    }
}
