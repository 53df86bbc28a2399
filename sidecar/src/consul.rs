//! The three calls of Consul's agent API the sidecar needs (present since
//! Consul 1.0, so the pinned 1.8 has them).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};

pub struct Consul {
    base: String,
    agent: ureq::Agent,
    /// Sent as `X-Consul-Token` when Consul's ACLs are on.
    token: Option<String>,
}

impl Consul {
    pub fn new(address: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(3)))
            .build()
            .into();
        Self {
            base: format!("http://{address}/v1/agent"),
            agent,
            token,
        }
    }

    pub fn service_ids(&self) -> anyhow::Result<HashSet<String>> {
        let mut response = self
            .authorized(self.agent.get(format!("{}/services", self.base)))
            .call()?;
        let body = response.body_mut().read_to_string()?;
        if !response.status().is_success() {
            bail!("GET /v1/agent/services: {} {body}", response.status());
        }
        let services: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&body)
            .context("consul answered something that is not a service map")?;
        Ok(services.into_iter().map(|(id, _)| id).collect())
    }

    pub fn register(&self, body: &serde_json::Value) -> anyhow::Result<()> {
        self.put("service/register", body.to_string())
    }

    pub fn deregister(&self, id: &str) -> anyhow::Result<()> {
        self.put(&format!("service/deregister/{id}"), String::new())
    }

    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("x-consul-token", token),
            None => request,
        }
    }

    fn put(&self, path: &str, body: String) -> anyhow::Result<()> {
        let mut response = self
            .authorized(self.agent.put(format!("{}/{path}", self.base)))
            .header("content-type", "application/json")
            .send(body)?;
        if !response.status().is_success() {
            let detail = response.body_mut().read_to_string().unwrap_or_default();
            bail!("PUT /v1/agent/{path}: {} {detail}", response.status());
        }
        Ok(())
    }
}
