//! `[smtp]`: the SMTP listeners and their limits.

use serde::{Deserialize, Serialize};

use super::parse::{one_or_many, parse_listen};
use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// One address or a list (`"127.0.0.1:2525"` or `["0.0.0.0:25", "[::]:25"]`).
    #[serde(deserialize_with = "one_or_many")]
    pub listen: Vec<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub submission_listen: Vec<String>,
    pub hostname: String,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Per-address limit for clients in `relay.trusted_networks` (the organisation's own mail
    /// servers, which open many sessions at once); 0: none, only `max_connections` applies.
    pub max_connections_per_trusted_ip: usize,
    pub command_timeout_secs: u64,
    pub data_timeout_secs: u64,
    pub max_errors: u32,
    pub hop_limit: usize,
    /// "normalize" (bare LF becomes CRLF, never ends DATA) or "reject" (554 after DATA).
    pub bare_lf: BareLf,
    pub tls: TlsConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BareLf {
    Normalize,
    Reject,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: String,
    pub key: String,
}

impl SmtpConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        for a in &self.listen {
            parse_listen(a).map_err(|m| bad("smtp.listen", m))?;
        }
        for a in &self.submission_listen {
            parse_listen(a).map_err(|m| bad("smtp.submission_listen", m))?;
        }
        if self.listen.is_empty() && self.submission_listen.is_empty() {
            return Err(bad(
                "smtp.listen",
                "no SMTP listener configured (smtp.listen and smtp.submission_listen are empty)",
            ));
        }
        if self.hostname.trim().is_empty() || self.hostname.contains(char::is_whitespace) {
            return Err(bad("smtp.hostname", "must be a host name"));
        }
        if self.max_message_size < 1024 {
            return Err(bad("smtp.max_message_size", "must be at least 1024"));
        }
        if self.max_recipients == 0 {
            return Err(bad("smtp.max_recipients", "must be at least 1"));
        }
        if self.max_connections == 0 {
            return Err(bad("smtp.max_connections", "must be at least 1"));
        }
        if self.tls.cert.is_empty() != self.tls.key.is_empty() {
            return Err(bad(
                "smtp.tls",
                "cert and key must both be set or both be empty",
            ));
        }
        Ok(())
    }
}
