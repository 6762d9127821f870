//! `[delivery]`: next hops, DNS, retries and the queue's limits.

use serde::{Deserialize, Serialize};

use super::parse::{parse_dns_server, parse_host_port};
use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    pub inbound_next_hop: String,
    pub outbound_smarthost: String,
    pub dns_servers: Vec<String>,
    pub mx_port: u16,
    pub require_tls_domains: Vec<String>,
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    pub max_queue_lifetime_secs: u64,
    pub max_concurrency: usize,
    pub connect_timeout_secs: u64,
    pub command_timeout_secs: u64,
}

impl DeliveryConfig {
    /// The section's own rules; `relay.local_domains` needing a next hop is checked in
    /// [`super::validate`], which sees both sections.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if !self.inbound_next_hop.is_empty() {
            parse_host_port(&self.inbound_next_hop, 25)
                .map_err(|m| bad("delivery.inbound_next_hop", m))?;
        }
        if !self.outbound_smarthost.is_empty() {
            parse_host_port(&self.outbound_smarthost, 25)
                .map_err(|m| bad("delivery.outbound_smarthost", m))?;
        }
        for s in &self.dns_servers {
            parse_dns_server(s).map_err(|m| bad("delivery.dns_servers", m))?;
        }
        if self.retry_initial_secs == 0 || self.retry_max_secs < self.retry_initial_secs {
            return Err(bad(
                "delivery.retry_initial_secs",
                "must be > 0 and not above delivery.retry_max_secs",
            ));
        }
        if self.max_concurrency == 0 {
            return Err(bad("delivery.max_concurrency", "must be at least 1"));
        }
        Ok(())
    }
}
