//! `[sign]`: who gets outbound mail signed without SMTP AUTH, and the no-sign tags.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignConfig {
    pub trusted_relays: Vec<IpNet>,
    pub keys_without_auth: Vec<String>,
    /// Subject tags that suppress signing for one mail (removed from the subject).
    pub nosign_tags: Vec<String>,
}

impl SignConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if self.keys_without_auth.iter().any(|k| k.trim().is_empty()) {
            return Err(bad("sign.keys_without_auth", "empty entry"));
        }
        Ok(())
    }
}
