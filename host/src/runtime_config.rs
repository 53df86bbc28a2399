//! `runtime-config.toml`: where each SQLite label lives, and where variables
//! come from. Same keys and path rules as Spin's (relative paths resolve
//! against the working directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use manifest::ConfigError;

#[derive(Debug, Default)]
pub struct RuntimeConfig {
    /// Label to database location; `None` is an in-memory database.
    pub sqlite: BTreeMap<String, Option<PathBuf>>,
    /// Prefix of the environment variables that provide application
    /// variables (`SPIN_VARIABLE` unless a provider says otherwise).
    pub variables_env_prefix: Option<String>,
    /// A dotenv file that provider reads too (besides `.env`).
    pub variables_dotenv: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    sqlite_database: BTreeMap<String, RawSqlite>,
    #[serde(default)]
    variables_provider: Vec<RawVariablesProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSqlite {
    #[serde(rename = "type")]
    kind: String,
    path: Option<PathBuf>,
    url: Option<String>,
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariablesProvider {
    #[serde(rename = "type")]
    kind: String,
    prefix: Option<String>,
    dotenv_path: Option<PathBuf>,
}

impl RuntimeConfig {
    pub fn load(path: &Path, cwd: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::read(path, e))?;
        Self::parse(path, &text, cwd)
    }

    pub fn parse(path: &Path, text: &str, cwd: &Path) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::toml(path, text, &e))?;
        let mut config = RuntimeConfig::default();
        for (label, db) in raw.sqlite_database {
            match db.kind.as_str() {
                "spin" if db.url.is_none() && db.token.is_none() => {
                    config.sqlite.insert(label, db.path.map(|p| cwd.join(p)));
                }
                "spin" => {
                    return Err(ConfigError::invalid(
                        path,
                        format!(
                            "[sqlite_database.{label}]: `url`/`token` belong to type \"libsql\""
                        ),
                    ));
                }
                "libsql" => {
                    return Err(ConfigError::invalid(
                        path,
                        format!(
                            "[sqlite_database.{label}]: type \"libsql\" is served by Spin, not by this host (use type \"spin\" locally)"
                        ),
                    ));
                }
                other => {
                    return Err(ConfigError::invalid(
                        path,
                        format!("[sqlite_database.{label}]: unknown type \"{other}\""),
                    ));
                }
            }
        }
        for provider in raw.variables_provider {
            if provider.kind != "env" {
                return Err(ConfigError::invalid(
                    path,
                    format!(
                        "[[variables_provider]] type \"{}\" is not supported by this host (only \"env\")",
                        provider.kind
                    ),
                ));
            }
            config.variables_env_prefix = provider.prefix;
            config.variables_dotenv = provider.dotenv_path.map(|p| cwd.join(p));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuntimeConfig, String> {
        RuntimeConfig::parse(Path::new("rc.toml"), text, Path::new("/work"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn relative_paths_resolve_against_the_working_directory() {
        let rc =
            parse("[sqlite_database.stock]\ntype = \"spin\"\npath = \".data/stock.db\"\n").unwrap();
        assert_eq!(
            rc.sqlite["stock"].as_deref(),
            Some(Path::new("/work/.data/stock.db"))
        );
    }

    #[test]
    fn no_path_means_in_memory() {
        let rc = parse("[sqlite_database.tmp]\ntype = \"spin\"\n").unwrap();
        assert_eq!(rc.sqlite["tmp"], None);
    }

    #[test]
    fn unknown_keys_and_types_are_named() {
        let err = parse("[sqlite_database.x]\ntype = \"spin\"\npth = \"a\"\n").unwrap_err();
        assert!(err.contains("rc.toml:3") && err.contains("pth"), "{err}");
        let err = parse("[sqlite_database.x]\ntype = \"postgres\"\n").unwrap_err();
        assert!(err.contains("postgres"), "{err}");
    }
}
