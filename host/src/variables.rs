//! Spin variables: application `[variables]` get their values from the
//! environment (`SPIN_VARIABLE_<NAME>`), then from the `.env` file of the
//! working directory (Spin's environment provider reads both), or their
//! default; each component sees
//! only its own `variables` map, whose values are templates over them.
//! Everything resolves at start, so a missing required value stops the host
//! instead of failing a request later.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::bindings::fermyon::spin::variables::{self, Error};
use crate::state::State;
use manifest::{Manifest, VariableDecl, is_lower_snake};

const DEFAULT_ENV_PREFIX: &str = "SPIN_VARIABLE";

/// The `NAME=value` pairs of a dotenv file, parsed as Spin parses it
/// (`dotenvy`); a missing file has none.
pub fn dotenv(path: &Path) -> Result<HashMap<String, String>, String> {
    match dotenvy::from_path_iter(path) {
        Ok(pairs) => pairs
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.not_found() => Ok(HashMap::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Resolves the application variables from `lookup` (the environment).
pub fn resolve_application(
    declared: &BTreeMap<String, VariableDecl>,
    prefix: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, String> {
    let prefix = prefix.unwrap_or(DEFAULT_ENV_PREFIX);
    let mut values = HashMap::new();
    for (name, decl) in declared {
        let env_name = format!("{prefix}_{}", name.to_ascii_uppercase());
        match lookup(&env_name).or_else(|| decl.default.clone()) {
            Some(value) => {
                values.insert(name.clone(), value);
            }
            None if decl.required => {
                return Err(format!(
                    "variable `{name}` is required but has no value: set {env_name}"
                ));
            }
            None => {}
        }
    }
    Ok(values)
}

/// Expands a component's variable templates over the application's values.
pub fn resolve_component(
    manifest: &Manifest,
    component: &str,
    templates: &BTreeMap<String, String>,
    application: &HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    templates
        .iter()
        .map(|(name, template)| {
            expand_application(manifest, template, application)
                .map(|value| (name.clone(), value))
                .map_err(|why| format!("component `{component}` variable `{name}` {why}"))
        })
        .collect()
}

/// Expands `{{ name }}` holes with application variables: component
/// variables and `allowed_outbound_hosts` entries are such templates.
pub fn expand_application(
    manifest: &Manifest,
    template: &str,
    application: &HashMap<String, String>,
) -> Result<String, String> {
    expand(template, |var| {
        if !manifest.variables.contains_key(var) {
            return Err(format!(
                "refers to `{{{{ {var} }}}}`, which [variables] does not declare"
            ));
        }
        application
            .get(var)
            .cloned()
            .ok_or_else(|| format!("refers to `{var}`, which has no value and no default"))
    })
}

fn expand(
    template: &str,
    value_of: impl Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("has an unclosed `{{`")?;
        let name = after[..end].trim();
        if !is_lower_snake(name) {
            return Err(format!(
                "has an invalid variable name `{name}` in `{{{{ }}}}`"
            ));
        }
        out.push_str(&value_of(name)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl variables::Host for State {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        if !is_lower_snake(&name) {
            return Ok(Err(Error::InvalidName(format!(
                "invalid variable name {name:?}: names are lower_snake_case"
            ))));
        }
        Ok(self
            .component
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| Error::Undefined(format!("no variable for {name:?}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(default: Option<&str>, required: bool) -> VariableDecl {
        let default = default
            .map(|d| format!("default = {d:?}"))
            .unwrap_or_default();
        toml::from_str(&format!("required = {required}\n{default}")).unwrap()
    }

    #[test]
    fn environment_overrides_default() {
        let declared = BTreeMap::from([("api_base".to_owned(), decl(Some("d"), false))]);
        let values = resolve_application(&declared, None, |k| {
            (k == "SPIN_VARIABLE_API_BASE").then(|| "env".to_owned())
        })
        .unwrap();
        assert_eq!(values["api_base"], "env");
        let values = resolve_application(&declared, None, |_| None).unwrap();
        assert_eq!(values["api_base"], "d");
    }

    #[test]
    fn a_dotenv_file_reads_as_spin_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        assert!(dotenv(&path).unwrap().is_empty(), "no file, no values");
        std::fs::write(
            &path,
            "# comment\nSPIN_VARIABLE_A=\"{\\\"k\\\":1}\"\nSPIN_VARIABLE_B='x y'\n",
        )
        .unwrap();
        let values = dotenv(&path).unwrap();
        assert_eq!(values["SPIN_VARIABLE_A"], r#"{"k":1}"#);
        assert_eq!(values["SPIN_VARIABLE_B"], "x y");
    }

    #[test]
    fn missing_required_value_names_the_env_variable() {
        let declared = BTreeMap::from([("secret_key".to_owned(), decl(None, true))]);
        let err = resolve_application(&declared, None, |_| None).unwrap_err();
        assert!(err.contains("SPIN_VARIABLE_SECRET_KEY"), "{err}");
    }

    #[test]
    fn templates_expand_with_spaces_and_literals() {
        let out = expand("https://{{ host }}:{{port}}/x", |n| Ok(n.to_uppercase())).unwrap();
        assert_eq!(out, "https://HOST:PORT/x");
        assert!(expand("{{ open", |_| Ok(String::new())).is_err());
        assert!(expand("{{ Bad-Name }}", |_| Ok(String::new())).is_err());
    }
}
