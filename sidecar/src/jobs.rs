//! Periodic POSTs to internal routes (outbox flush, retention purge): the
//! scheduling a Spin component has no way to do for itself.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::metrics::Gauges;

/// `--job SECONDS=URL`.
pub struct Job {
    every: Duration,
    url: String,
    next: Instant,
    agent: ureq::Agent,
    failing: bool,
}

impl FromStr for Job {
    type Err = anyhow::Error;

    fn from_str(spec: &str) -> anyhow::Result<Self> {
        let (every, url) = spec
            .split_once('=')
            .filter(|(_, url)| url.starts_with("http://"))
            .with_context(|| format!("--job {spec}: expected SECONDS=http://..."))?;
        let every: u64 = every
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .with_context(|| format!("--job {spec}: SECONDS is a positive number"))?;
        Ok(Self {
            every: Duration::from_secs(every),
            url: url.to_owned(),
            next: Instant::now(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into(),
            failing: false,
        })
    }
}

impl Job {
    /// Runs the job when it is due; logs a failure once, and the recovery.
    pub fn run_if_due(&mut self, secret: &str, gauges: &Gauges) {
        if Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + self.every;
        let outcome = self
            .agent
            .post(&self.url)
            .header("x-internal-secret", secret)
            .send_empty()
            .and_then(|mut response| {
                // Read to the end: a response dropped unread closes the
                // connection while the component may still be writing its
                // body, which then logs a failed send on every run.
                let body = response.body_mut().read_to_vec()?;
                Ok((response.status().as_u16(), body))
            })
            .map_err(|e| e.to_string())
            .and_then(|(status, body)| match status {
                200..=299 => {
                    gauges.job_answered(self.route(), &body);
                    Ok(())
                }
                status => Err(format!("status {status}")),
            });
        if outcome.is_err() {
            gauges.job_failed(self.route());
        }
        match outcome {
            Ok(()) if self.failing => {
                logline::info(&format!("job {} works again", self.url), &[]);
                self.failing = false;
            }
            Ok(()) => {}
            Err(why) if !self.failing => {
                logline::warn(
                    &format!(
                        "job {} failed ({why}); retrying every {:?}",
                        self.url, self.every
                    ),
                    &[],
                );
                self.failing = true;
            }
            Err(_) => {}
        }
    }
}

impl Job {
    /// The URL's path: what the job is, whichever port serves it.
    fn route(&self) -> &str {
        self.url
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|slash| &rest[slash..]))
            .unwrap_or(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_specs_parse_or_say_why() {
        let job: Job = "2=http://127.0.0.1:8002/api/stock/internal/outbox/flush/"
            .parse()
            .unwrap();
        assert_eq!(job.every, Duration::from_secs(2));
        assert!("0=http://x/".parse::<Job>().is_err());
        assert!("2=ftp://x/".parse::<Job>().is_err());
        assert!("http://x/".parse::<Job>().is_err());
    }
}
