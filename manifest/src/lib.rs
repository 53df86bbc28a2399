//! `spin.toml` (manifest version 2), as Spin 3.x reads it: the host runs it,
//! the sidecar derives Traefik routes from it, xtask the service registry.
//!
//! Parsing is strict, like Spin's own (`deny_unknown_fields` everywhere): a
//! typo must stop the host at start, not silently drop a route or a grant.
//! Fields Spin accepts but this host cannot honour (remote sources,
//! key-value stores, AI models, component dependencies) are rejected with a
//! message naming them rather than ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

mod error;

pub use error::ConfigError;

/// A parsed and validated application manifest.
#[derive(Debug)]
pub struct Manifest {
    pub path: PathBuf,
    pub application: Application,
    pub variables: BTreeMap<String, VariableDecl>,
    pub http_triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, Component>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: u32,
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: Triggers,
    #[serde(default)]
    component: BTreeMap<String, Component>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    #[serde(default, rename = "version")]
    _version: IgnoredAny,
    #[serde(default, rename = "description")]
    _description: IgnoredAny,
    #[serde(default, rename = "authors")]
    _authors: IgnoredAny,
    #[serde(default, rename = "targets")]
    _targets: IgnoredAny,
    #[serde(default)]
    pub trigger: ApplicationTriggers,
    #[serde(default, rename = "tool")]
    _tool: IgnoredAny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationTriggers {
    #[serde(default)]
    pub http: HttpGlobal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGlobal {
    #[serde(default = "root_base")]
    pub base: String,
}

impl Default for HttpGlobal {
    fn default() -> Self {
        Self { base: root_base() }
    }
}

fn root_base() -> String {
    "/".to_owned()
}

/// `[variables]` entry: a default value or a requirement, never both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "secret")]
    _secret: IgnoredAny,
    #[serde(default, rename = "description")]
    _description: IgnoredAny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Triggers {
    #[serde(default)]
    http: Vec<HttpTrigger>,
}

/// One `[[trigger.http]]` entry: a component to run, or a response the
/// host answers itself without instantiating anything.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTrigger {
    #[serde(default, rename = "id")]
    _id: IgnoredAny,
    pub component: Option<String>,
    pub static_response: Option<StaticResponse>,
    pub route: Route,
    #[serde(default)]
    pub executor: Option<Executor>,
}

impl HttpTrigger {
    /// Whether this trigger runs `component`.
    pub fn runs(&self, component: &str) -> bool {
        self.component.as_deref() == Some(component)
    }
}

/// `static_response = { status_code, headers, body }`, as Spin 3.6 serves it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticResponse {
    #[serde(default = "ok_status")]
    pub status_code: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

fn ok_status() -> u16 {
    200
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Route {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Executor {
    #[serde(rename = "type")]
    pub kind: String,
}

/// One `[component.<id>]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub source: Source,
    #[serde(default, rename = "description")]
    _description: IgnoredAny,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub files: Vec<FilesMount>,
    #[serde(default, rename = "exclude_files")]
    _exclude_files: IgnoredAny,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default, alias = "key-value-stores")]
    pub key_value_stores: Vec<String>,
    #[serde(default, alias = "sqlite-databases")]
    pub sqlite_databases: Vec<String>,
    #[serde(default)]
    pub ai_models: Vec<String>,
    /// Only checked for shape: `spin build` runs it, not the host.
    #[serde(default, rename = "build")]
    _build: Option<Build>,
    #[serde(default, rename = "tool")]
    _tool: IgnoredAny,
    #[serde(default, rename = "dependencies_inherit_configuration")]
    _dependencies_inherit_configuration: IgnoredAny,
    #[serde(default)]
    pub dependencies: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Source {
    Local(PathBuf),
    Remote(IgnoredAny),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FilesMount {
    Pattern(String),
    Placement {
        source: PathBuf,
        destination: String,
    },
}

/// `[component.<id>.build]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Build {
    #[serde(rename = "command")]
    _command: Command,
    #[serde(default, rename = "workdir")]
    _workdir: Option<PathBuf>,
    #[serde(default, rename = "watch")]
    _watch: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Command {
    One(#[allow(dead_code, reason = "shape check only")] String),
    Many(#[allow(dead_code, reason = "shape check only")] Vec<String>),
}

impl Manifest {
    /// Reads, parses and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::read(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ConfigError::toml(path, text, &e))?;
        let at = |what: String| ConfigError::invalid(path, what);
        if raw.spin_manifest_version != 2 {
            return Err(at(format!(
                "`spin_manifest_version` is {}, this host reads version 2",
                raw.spin_manifest_version
            )));
        }
        for name in raw.variables.keys() {
            if !is_lower_snake(name) {
                return Err(at(format!("variable `{name}`: names are lower_snake_case")));
            }
        }
        for (name, decl) in &raw.variables {
            if decl.required && decl.default.is_some() {
                return Err(at(format!(
                    "variable `{name}`: `required` and `default` are mutually exclusive"
                )));
            }
        }
        for (id, component) in &raw.component {
            validate_component(id, component).map_err(|e| at(format!("component `{id}`: {e}")))?;
        }
        for trigger in &raw.trigger.http {
            let target = match (&trigger.component, &trigger.static_response) {
                (Some(component), None) if raw.component.contains_key(component) => component,
                (Some(component), None) => {
                    return Err(at(format!(
                        "[[trigger.http]] `component = \"{component}\"` names no [component.{component}]"
                    )));
                }
                (None, Some(answer)) if (100..=599).contains(&answer.status_code) => {
                    "static_response"
                }
                (None, Some(answer)) => {
                    return Err(at(format!(
                        "[[trigger.http]] `static_response` status {} is not an HTTP status",
                        answer.status_code
                    )));
                }
                _ => {
                    return Err(at(
                        "[[trigger.http]] needs either `component` or `static_response`, not both"
                            .into(),
                    ));
                }
            };
            match &trigger.route {
                Route::Private { private: false } => {
                    return Err(at(format!(
                        "[[trigger.http]] for `{target}`: `route` must be a path or `{{ private = true }}`"
                    )));
                }
                Route::Private { .. } if trigger.static_response.is_some() => {
                    return Err(at(
                        "[[trigger.http]] with a `static_response` needs a route path".into(),
                    ));
                }
                Route::Path(route) if route.contains("//") => {
                    return Err(at(format!("route `{route}` contains an empty segment")));
                }
                _ => {}
            }
            if let Some(executor) = &trigger.executor
                && !matches!(executor.kind.as_str(), "http" | "spin")
            {
                return Err(at(format!(
                    "[[trigger.http]] for `{target}`: executor `{}` is not supported by this host (only `http`)",
                    executor.kind
                )));
            }
        }
        Ok(Manifest {
            path: path.to_owned(),
            application: raw.application,
            variables: raw.variables,
            http_triggers: raw.trigger.http,
            components: raw.component,
        })
    }

    /// The application variables component `id` reads: those its
    /// `variables` and `allowed_outbound_hosts` templates name. A process
    /// running only this component needs no other (secrets included).
    pub fn variables_used_by(&self, id: &str) -> std::collections::BTreeSet<String> {
        let Some(component) = self.components.get(id) else {
            return Default::default();
        };
        component
            .variables
            .values()
            .chain(&component.allowed_outbound_hosts)
            .flat_map(|template| template_names(template))
            .collect()
    }

    /// The directory relative paths in the manifest are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// The names in a template's `{{ name }}` holes.
fn template_names(template: &str) -> Vec<String> {
    template
        .split("{{")
        .skip(1)
        .filter_map(|hole| hole.split_once("}}"))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

fn validate_component(id: &str, c: &Component) -> Result<(), String> {
    if !is_kebab(id) {
        return Err("component ids are kebab-case (lowercase letters, digits, `-`)".into());
    }
    if let Source::Remote(_) = c.source {
        return Err(
            "`source` must be a local file path: remote sources are not supported by this host"
                .into(),
        );
    }
    let unsupported = [
        ("key_value_stores", c.key_value_stores.is_empty()),
        ("ai_models", c.ai_models.is_empty()),
        ("dependencies", c.dependencies.is_empty()),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, empty)| !empty) {
        return Err(format!("`{field}` is not supported by this host"));
    }
    for name in c.variables.keys() {
        if !is_lower_snake(name) {
            return Err(format!("variable `{name}`: names are lower_snake_case"));
        }
    }
    for label in &c.sqlite_databases {
        if label.is_empty() {
            return Err("`sqlite_databases` contains an empty label".into());
        }
    }
    for mount in &c.files {
        if let FilesMount::Pattern(p) = mount
            && p.contains(['*', '?', '['])
        {
            return Err(format!(
                "`files` pattern `{p}`: glob patterns are not supported by this host, use {{ source = \"dir\", destination = \"/\" }}"
            ));
        }
    }
    Ok(())
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub fn is_lower_snake(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(Path::new("/app/spin.toml"), text).map_err(|e| e.to_string())
    }

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "app"
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
"#;

    #[test]
    fn reads_a_minimal_manifest() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.http_triggers.len(), 1);
        assert_eq!(m.application.trigger.http.base, "/");
        assert!(m.components.contains_key("web"));
    }

    #[test]
    fn unknown_field_is_named_with_file_and_line() {
        let err = parse(&MINIMAL.replace("source = ", "sorce = ")).unwrap_err();
        assert!(err.contains("/app/spin.toml:9"), "{err}");
        assert!(err.contains("sorce"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn trigger_naming_a_missing_component_is_rejected() {
        let err =
            parse(&MINIMAL.replace("component = \"web\"", "component = \"api\"")).unwrap_err();
        assert!(err.contains("api"), "{err}");
    }

    #[test]
    fn a_static_response_trigger_needs_no_component() {
        let m = parse(&format!(
            "{MINIMAL}[[trigger.http]]\nroute = \"/api/internal/...\"\nstatic_response = {{ status_code = 404, headers = {{ content-type = \"text/plain\" }}, body = \"no\" }}\n"
        ))
        .unwrap();
        let answer = m.http_triggers[1].static_response.as_ref().unwrap();
        assert_eq!(answer.status_code, 404);
        assert_eq!(answer.headers["content-type"], "text/plain");
        assert_eq!(answer.body.as_deref(), Some("no"));
        assert!(m.http_triggers[0].runs("web") && !m.http_triggers[1].runs("web"));
    }

    #[test]
    fn a_trigger_has_a_component_or_a_static_response_not_both() {
        let both = parse(&MINIMAL.replace(
            "component = \"web\"",
            "component = \"web\"\nstatic_response = { status_code = 204 }",
        ))
        .unwrap_err();
        assert!(both.contains("not both"), "{both}");
        let neither = parse(&MINIMAL.replace("component = \"web\"", "")).unwrap_err();
        assert!(neither.contains("static_response"), "{neither}");
    }

    #[test]
    fn a_component_uses_the_variables_its_templates_name() {
        let m = parse(&MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = \"web.wasm\"\nallowed_outbound_hosts = [\"http://{{ peer }}\"]\n[component.web.variables]\nkey = \"{{secret}}:{{ other }}\"\nplain = \"x\"",
        ))
        .unwrap();
        let used: Vec<String> = m.variables_used_by("web").into_iter().collect();
        assert_eq!(used, ["other", "peer", "secret"]);
        assert!(m.variables_used_by("nobody").is_empty());
    }

    #[test]
    fn only_version_two_is_read() {
        let err = parse(&MINIMAL.replace("= 2", "= 1")).unwrap_err();
        assert!(err.contains("spin_manifest_version"), "{err}");
    }

    #[test]
    fn unsupported_capabilities_are_refused_not_ignored() {
        let err = parse(&format!("{MINIMAL}key_value_stores = [\"default\"]\n")).unwrap_err();
        assert!(err.contains("key_value_stores"), "{err}");
    }

    #[test]
    fn required_variable_with_default_is_rejected() {
        let err = parse(&format!(
            "{MINIMAL}[variables]\nkey = {{ required = true, default = \"x\" }}\n"
        ))
        .unwrap_err();
        assert!(err.contains("mutually exclusive"), "{err}");
    }
}
