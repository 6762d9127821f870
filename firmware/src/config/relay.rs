//! `[relay]`: who may relay, which domains and recipients are local.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::parse::is_domain;
use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    pub trusted_networks: Vec<IpNet>,
    pub local_domains: Vec<String>,
    /// Accepted inbound recipients: full addresses or `@domain` for a whole domain. Empty: any.
    pub local_recipients: Vec<String>,
    /// Ask `delivery.inbound_next_hop` at RCPT time whether a local recipient exists.
    pub recipient_callout: bool,
}

impl RelayConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        for d in &self.local_domains {
            if !is_domain(d) {
                return Err(bad("relay.local_domains", format!("{d:?} is not a domain")));
            }
        }
        for r in &self.local_recipients {
            if !r.contains('@') {
                return Err(bad(
                    "relay.local_recipients",
                    format!("{r:?}: use a full address or @domain"),
                ));
            }
        }
        Ok(())
    }
}
