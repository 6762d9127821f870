//! `[lookup]`: recipient certificates from LDAP directories (after the local store).

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// `ldap://host[:port][/base DN]` or `ldaps://…`, asked in order until one answers.
    pub ldap: Vec<String>,
    /// Search base; empty: the URL's DN, else the server's first naming context.
    pub base_dn: String,
    /// Search filter; `{address}` becomes the RFC 4515-escaped recipient address.
    pub filter: String,
    /// Attributes holding certificates (DER).
    pub attributes: Vec<String>,
    /// Bind DN; empty: anonymous.
    pub bind_dn: String,
    /// File holding the bind password (first line).
    pub bind_password_file: String,
    /// Connect and search timeout, seconds.
    pub timeout_secs: u64,
    /// Use a found certificate this long before asking the directory again, hours.
    pub cache_hours: u64,
    /// Do not ask again for an address without a result for this long, minutes.
    pub negative_cache_minutes: u64,
    /// Use only certificates that chain to a trust anchor (`segl ctl trust import`).
    pub require_trusted_chain: bool,
}

impl LookupConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        for u in &self.ldap {
            let ok = url::Url::parse(u)
                .ok()
                .is_some_and(|p| matches!(p.scheme(), "ldap" | "ldaps") && p.host_str().is_some());
            if !ok {
                return Err(bad(
                    "lookup.ldap",
                    format!("{u:?}: use ldap://host[:port][/base DN] or ldaps://…"),
                ));
            }
        }
        if !self.filter.contains("{address}") {
            return Err(bad(
                "lookup.filter",
                "must contain {address} (e.g. \"(mail={address})\")",
            ));
        }
        if self.timeout_secs == 0 {
            return Err(bad("lookup.timeout_secs", "must be at least 1"));
        }
        if self.bind_dn.is_empty() != self.bind_password_file.is_empty() {
            return Err(bad(
                "lookup.bind_dn",
                "bind_dn and bind_password_file must both be set or both be empty",
            ));
        }
        Ok(())
    }
}
