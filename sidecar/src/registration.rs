//! What Consul is told about one host instance. Routing is data: Traefik
//! builds its routers from these tags, nothing is configured per service.

use std::str::FromStr;

use anyhow::{Context, bail};
use manifest::{Manifest, Route};
use serde_json::json;

/// Path segment under a service's prefix that Traefik never exposes:
/// service-to-service routes live there.
const INTERNAL_SEGMENT: &str = "internal";

/// The host's own health route (Spin's), answered without a component.
pub const HOST_HEALTH: &str = "/.well-known/spin/health";

/// `--instance COMPONENT=ADDRESS:PORT`.
pub struct Instance {
    pub component: String,
    pub host: String,
    pub port: u16,
}

impl FromStr for Instance {
    type Err = anyhow::Error;

    fn from_str(spec: &str) -> anyhow::Result<Self> {
        let parse = || {
            let (component, address) = spec.split_once('=')?;
            let (host, port) = address.rsplit_once(':')?;
            Some(Self {
                component: component.into(),
                host: host.into(),
                port: port.parse().ok()?,
            })
        };
        parse().with_context(|| format!("--instance {spec}: expected COMPONENT=ADDRESS:PORT"))
    }
}

pub struct Registration {
    pub id: String,
    pub address: String,
    pub body: serde_json::Value,
}

impl Registration {
    pub fn new(
        manifest: &Manifest,
        instance: &Instance,
        health: &str,
        expose_prefix: &str,
    ) -> anyhow::Result<Self> {
        let component = &instance.component;
        if !manifest.components.contains_key(component) {
            bail!(
                "--instance {component}: {} has no such component",
                manifest.path.display()
            );
        }
        let routes: Vec<&str> = manifest
            .http_triggers
            .iter()
            .filter(|t| t.runs(component))
            .filter_map(|t| match &t.route {
                Route::Path(route) => Some(route.as_str()),
                Route::Private { .. } => None,
            })
            .filter(|route| route.starts_with(expose_prefix))
            .collect();
        let id = format!(
            "{component}-{}-{}",
            instance.host.replace(['.', ':'], "-"),
            instance.port
        );
        let address = format!("{}:{}", instance.host, instance.port);
        let body = json!({
            "ID": id,
            "Name": component,
            "Address": instance.host,
            "Port": instance.port,
            "Tags": traefik_tags(component, &routes),
            "Meta": { "component": component },
            // The component's own health (its database) and the host's,
            // which fails while the host drains before stopping: either
            // failing takes the instance out of Traefik's pool.
            "Checks": checks(&address, health),
        });
        Ok(Self { id, address, body })
    }
}

/// HTTP checks of `address` on `health` and on the host's health route.
fn checks(address: &str, health: &str) -> Vec<serde_json::Value> {
    let mut paths = vec![health];
    if health != HOST_HEALTH {
        paths.push(HOST_HEALTH);
    }
    paths
        .into_iter()
        .map(|path| {
            json!({
                "Name": path,
                "HTTP": format!("http://{address}{path}"),
                "Interval": "1s",
                "Timeout": "2s",
                "DeregisterCriticalServiceAfter": "1m",
            })
        })
        .collect()
}

/// Tags that make Traefik route `routes` to this component's instances; a
/// component without exposed routes is registered but not routed.
fn traefik_tags(component: &str, routes: &[&str]) -> Vec<String> {
    if routes.is_empty() {
        return vec!["traefik.enable=false".into()];
    }
    let rule = routes
        .iter()
        .map(|r| rule(r))
        .collect::<Vec<_>>()
        .join(" || ");
    vec![
        "traefik.enable=true".into(),
        format!("traefik.http.routers.{component}.rule={rule}"),
        format!("traefik.http.routers.{component}.entrypoints=web"),
        format!("traefik.http.routers.{component}.middlewares=api@file"),
        format!("traefik.http.services.{component}.loadbalancer.passhostheader=true"),
    ]
}

/// The Traefik rule for one Spin route: `/x/...` is the prefix `/x`
/// (minus its internal routes), anything else the exact path, with and
/// without its trailing slash.
fn rule(route: &str) -> String {
    match route.strip_suffix("/...") {
        Some(prefix) => {
            format!("(PathPrefix(`{prefix}`) && !PathPrefix(`{prefix}/{INTERNAL_SEGMENT}`))")
        }
        None => {
            let exact = route.strip_suffix('/').unwrap_or(route);
            format!("(Path(`{exact}`) || Path(`{exact}/`))")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_routes_become_prefixes_without_internal_routes() {
        assert_eq!(
            rule("/api/stock/..."),
            "(PathPrefix(`/api/stock`) && !PathPrefix(`/api/stock/internal`))"
        );
        assert_eq!(rule("/api/x/"), "(Path(`/api/x`) || Path(`/api/x/`))");
    }

    #[test]
    fn components_outside_the_exposed_prefix_are_not_routed() {
        assert_eq!(traefik_tags("ui", &[]), ["traefik.enable=false"]);
        let tags = traefik_tags("stock", &["/api/stock/..."]);
        assert!(tags.contains(&"traefik.enable=true".to_string()));
        assert!(
            tags.iter()
                .any(|t| t.starts_with("traefik.http.routers.stock.rule="))
        );
    }

    #[test]
    fn instance_specs_parse_or_say_why() {
        let i: Instance = "stock=127.0.0.1:8012".parse().unwrap();
        assert_eq!(
            (i.component.as_str(), i.host.as_str(), i.port),
            ("stock", "127.0.0.1", 8012)
        );
        assert!("stock@127.0.0.1".parse::<Instance>().is_err());
    }
}
