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
    /// Domains that need TLS with a verified certificate (level `verify`).
    pub require_tls_domains: Vec<String>,
    /// TLS level per recipient domain (`"domain"` exactly, `".domain"` its subdomains);
    /// overrides `require_tls_domains`.
    pub tls_levels: std::collections::BTreeMap<String, TlsLevel>,
    /// Extra trust anchors (PEM) for level `verify`, besides the system's CA bundle.
    pub tls_ca_file: String,
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    pub max_queue_lifetime_secs: u64,
    pub max_concurrency: usize,
    pub connect_timeout_secs: u64,
    pub command_timeout_secs: u64,
}

/// How much TLS mail to a domain needs (Postfix's levels of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsLevel {
    /// STARTTLS when offered, any certificate; plaintext otherwise (opportunistic, the default).
    May,
    /// TLS required, any certificate: never plaintext.
    Encrypt,
    /// TLS required with a certificate that chains to a trusted CA and names the host.
    Verify,
    /// TLS required with a certificate authenticated by the host's DNSSEC-validated TLSA
    /// records (RFC 7672; `smtp::outbound::dane`).
    Dane,
}

impl TlsLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsLevel::May => "may",
            TlsLevel::Encrypt => "encrypt",
            TlsLevel::Verify => "verify",
            TlsLevel::Dane => "dane",
        }
    }
}

impl DeliveryConfig {
    /// The TLS level for mail to `domain`: `tls_levels` (exact, then the nearest `.parent`
    /// entry), then `require_tls_domains` (verify), else opportunistic.
    pub fn tls_level(&self, domain: &str) -> TlsLevel {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let lookup = |key: &str| {
            self.tls_levels
                .iter()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
        };
        if let Some(l) = lookup(&domain) {
            return l;
        }
        let mut rest = domain.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(l) = lookup(&format!(".{parent}")) {
                return l;
            }
            rest = parent;
        }
        if self
            .require_tls_domains
            .iter()
            .any(|d| d.trim().eq_ignore_ascii_case(&domain))
        {
            return TlsLevel::Verify;
        }
        TlsLevel::May
    }

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
        for d in self.tls_levels.keys() {
            if !super::parse::is_domain(d.trim().trim_start_matches('.')) {
                return Err(bad(
                    "delivery.tls_levels",
                    format!("{d:?} is not a domain (\"example.com\", or \".example.com\" for its subdomains)"),
                ));
            }
        }
        let ca = self.tls_ca_file.trim();
        if !ca.is_empty() && !std::path::Path::new(ca).is_file() {
            return Err(bad(
                "delivery.tls_ca_file",
                format!("{ca}: no such file (PEM CA certificates for TLS level verify)"),
            ));
        }
        if self.max_concurrency == 0 {
            return Err(bad("delivery.max_concurrency", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_levels_by_domain() {
        let mut d: DeliveryConfig = crate::config::Config::parse(crate::config::DEFAULT_TOML, "d")
            .unwrap()
            .delivery;
        d.require_tls_domains = vec!["Bank.example".into(), "any.example".into()];
        d.tls_levels.insert("any.example".into(), TlsLevel::Encrypt);
        d.tls_levels
            .insert(".partner.example".into(), TlsLevel::Verify);
        d.tls_levels
            .insert("open.partner.example".into(), TlsLevel::May);
        assert_eq!(d.tls_level("bank.example"), TlsLevel::Verify);
        assert_eq!(
            d.tls_level("any.example"),
            TlsLevel::Encrypt,
            "the table wins"
        );
        assert_eq!(d.tls_level("mx.partner.example"), TlsLevel::Verify);
        assert_eq!(d.tls_level("a.b.partner.example"), TlsLevel::Verify);
        assert_eq!(
            d.tls_level("partner.example"),
            TlsLevel::May,
            ".x is subdomains only"
        );
        assert_eq!(d.tls_level("open.partner.example"), TlsLevel::May);
        assert_eq!(d.tls_level("other.example"), TlsLevel::May);
    }
}
