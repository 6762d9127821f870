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
    /// Off: outbound mail is never signed (DEFENDO's Sign tab switched off).
    pub enabled: bool,
    /// Recipients (addresses, `@domain`) that get mail signed with the domain key; mail from a
    /// sender without an own key goes unsigned to everyone else.
    pub domain_key_to: Vec<String>,
}

impl SignConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if self.keys_without_auth.iter().any(|k| k.trim().is_empty()) {
            return Err(bad("sign.keys_without_auth", "empty entry"));
        }
        super::switches::check_address_list("sign.domain_key_to", &self.domain_key_to)
    }
}
