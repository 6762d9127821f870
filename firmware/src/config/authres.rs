//! `[authres]`: the optional check of inbound mail's DKIM, SPF and DMARC, recorded in an
//! `Authentication-Results` field for the internal mail server and the reader (RFC 8601;
//! `docs/dkim.md`). It never rejects mail by itself: the result is information.

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

/// `[authres]`: verify inbound DKIM/SPF/DMARC and add `Authentication-Results`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthResConfig {
    /// Verify mail from outside to local recipients (off by default: it needs working DNS).
    pub verify: bool,
    /// The authserv-id naming this box in the field; empty: `smtp.hostname`.
    pub authserv_id: String,
    /// Upper bound of the DNS lookups for one message, in seconds; on timeout the field says
    /// `temperror` for what was not answered and the mail goes on.
    pub timeout_secs: u64,
}

impl AuthResConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(bad("authres.timeout_secs", "between 1 and 120 seconds"));
        }
        let id = self.authserv_id.trim();
        if !id.is_empty() && !super::parse::is_domain(id) {
            return Err(bad(
                "authres.authserv_id",
                format!("{id:?} is not a host name (empty: smtp.hostname)"),
            ));
        }
        Ok(())
    }
}
