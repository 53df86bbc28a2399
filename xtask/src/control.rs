//! The stack's control plane, locked: Consul's ACLs deny by default, so
//! only the sidecar's token registers services (a local process can no
//! longer register one with Traefik tags and capture `/api/auth`), Traefik
//! reads the catalog with a read-only token, and Traefik's dashboard and API
//! ask for a password.
//!
//! The credentials are made afresh for every run: a `-dev` Consul keeps
//! nothing when it stops, so its tokens are created again on each start,
//! under the same secrets, and Traefik's configuration stays valid across a
//! Consul restart. The operator's copies sit in owner-only files beside the
//! rendered configurations.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::components::SERVICES;
use crate::secrets::{random, write_private};

/// The user name of Traefik's dashboard.
pub const DASHBOARD_USER: &str = "admin";

/// One run's secrets of Consul and Traefik.
#[derive(Clone)]
pub struct Credentials {
    /// Consul's management token: the operator's, and the agent's own.
    pub consul_management: String,
    /// May register and deregister the stack's services, nothing else.
    pub sidecar: String,
    /// May read services and nodes: what Traefik's catalog provider needs.
    traefik: String,
    pub dashboard_password: String,
}

impl Credentials {
    pub fn generate() -> Result<Self> {
        Ok(Self {
            consul_management: uuid()?,
            sidecar: uuid()?,
            traefik: uuid()?,
            dashboard_password: random(24)?,
        })
    }

    /// Writes Consul's ACL configuration (the management token must not
    /// show in `ps`), and the operator's copies of the tokens and password.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let acl = serde_json::json!({
            "acl": {
                "enabled": true,
                "default_policy": "deny",
                "down_policy": "extend-cache",
                "tokens": {
                    "master": self.consul_management,
                    "agent": self.consul_management,
                },
            },
        });
        write_private(&self.consul_config(dir), &acl.to_string())?;
        write_private(&dir.join("consul-token"), &self.consul_management)?;
        write_private(&dir.join("dashboard-password"), &self.dashboard_password)
    }

    pub fn consul_config(&self, dir: &Path) -> std::path::PathBuf {
        dir.join("consul-acl.json")
    }

    /// Traefik's token and its dashboard's user line, for the templates.
    pub fn template_values(&self) -> Result<[(&'static str, String); 2]> {
        // The password is 24 random bytes: the hash's cost protects little,
        // and a low one keeps each dashboard request cheap for Traefik.
        let hash = bcrypt::hash_with_result(&self.dashboard_password, 6)
            .context("hash the dashboard password")?
            .format_for_version(bcrypt::Version::TwoY);
        Ok([
            ("consul_token", self.traefik.clone()),
            ("dashboard_user", format!("{DASHBOARD_USER}:{hash}")),
        ])
    }

    /// Creates the sidecar's and Traefik's policies and tokens in a fresh
    /// Consul, retried while its ACL system is still starting.
    pub fn bootstrap(&self, consul_url: &str) -> Result<()> {
        let sidecar_rules: String = SERVICES
            .iter()
            .map(|s| format!("service \"{}\" {{ policy = \"write\" }}\n", s.name))
            .collect();
        let traefik_rules =
            "service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\n";
        for (name, rules, secret) in [
            ("sidecar", sidecar_rules.as_str(), &self.sidecar),
            ("traefik", traefik_rules, &self.traefik),
        ] {
            self.put(
                consul_url,
                "/v1/acl/policy",
                serde_json::json!({ "Name": name, "Rules": rules }),
            )?;
            self.put(
                consul_url,
                "/v1/acl/token",
                serde_json::json!({
                    "SecretID": secret,
                    "Description": format!("{name} of the stack"),
                    "Policies": [{ "Name": name }],
                }),
            )?;
        }
        Ok(())
    }

    fn put(&self, consul_url: &str, path: &str, body: serde_json::Value) -> Result<()> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let started = Instant::now();
        loop {
            let mut response = agent
                .put(format!("{consul_url}{path}"))
                .header("x-consul-token", &self.consul_management)
                .send(body.to_string())
                .with_context(|| format!("PUT {path}"))?;
            if response.status().is_success() {
                return Ok(());
            }
            let detail = response.body_mut().read_to_string().unwrap_or_default();
            if started.elapsed() > Duration::from_secs(30) {
                bail!("consul refused PUT {path}: {} {detail}", response.status());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A random (version 4) UUID: the form Consul requires of a token's secret.
fn uuid() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (uuid().unwrap(), uuid().unwrap());
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
    }

    #[test]
    fn the_dashboard_user_line_verifies_the_password() {
        let credentials = Credentials::generate().unwrap();
        let [_, (_, line)] = credentials.template_values().unwrap();
        let hash = line.strip_prefix("admin:").unwrap();
        assert!(hash.starts_with("$2y$06$"), "{hash}");
        assert!(bcrypt::verify(&credentials.dashboard_password, hash).unwrap());
    }
}
