//! `[portal]`: the web encryption portal for recipients without S/MIME (issue 18).

use serde::{Deserialize, Serialize};

use super::parse::{is_domain, parse_listen};
use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Mail that must be encrypted for a recipient without a certificate goes to the portal
    /// instead of producing a notice to the sender.
    pub enabled: bool,
    /// Recipients (`user@domain`) and domains (`@domain`) that keep the notice instead.
    pub exclude: Vec<String>,
    /// The portal's own listener (HTTPS unless loopback).
    pub listen: String,
    /// HTTPS certificate and key (PEM); empty: a self-signed pair in `<data_dir>/portal-tls/`.
    pub tls_cert: String,
    pub tls_key: String,
    /// Base of the links in notifications (`https://portal.example.org`); empty: made from
    /// `listen`.
    pub public_url: String,
    /// Set-up needs a code that only the sender gets (receipt or `[code:…]` subject tag).
    pub require_code: bool,
    /// Messages are deleted this many days after they arrived.
    pub retention_days: u32,
}

impl PortalConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        parse_listen(&self.listen).map_err(|m| bad("portal.listen", m))?;
        if self.tls_cert.is_empty() != self.tls_key.is_empty() {
            return Err(bad(
                "portal.tls_cert",
                "set portal.tls_cert and portal.tls_key together",
            ));
        }
        for a in &self.exclude {
            if !a.rsplit_once('@').is_some_and(|(_, d)| is_domain(d)) {
                return Err(bad(
                    "portal.exclude",
                    format!("{a:?}: use a full address or @domain"),
                ));
            }
        }
        let u = self.public_url.trim();
        if !(u.is_empty() || u.starts_with("https://") || u.starts_with("http://")) {
            return Err(bad("portal.public_url", "must start with https://"));
        }
        if self.retention_days == 0 {
            return Err(bad("portal.retention_days", "must be at least 1"));
        }
        Ok(())
    }

    /// Whether the listener speaks HTTPS (always, unless a loopback address without a
    /// configured certificate).
    pub fn uses_https(&self) -> bool {
        !self.tls_cert.is_empty()
            || parse_listen(&self.listen).map_or(true, |a| !a.ip().is_loopback())
    }

    /// The base of links to the portal, without a trailing slash.
    pub fn base_url(&self) -> String {
        let u = self.public_url.trim().trim_end_matches('/');
        if !u.is_empty() {
            return u.to_string();
        }
        let scheme = if self.uses_https() { "https" } else { "http" };
        format!("{scheme}://{}", self.listen)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_checks() {
        let c = Config::default_config();
        assert!(!c.portal.enabled);
        assert!(c.portal.require_code);
        assert_eq!(c.portal.retention_days, 30);
        assert_eq!(c.portal.base_url(), "http://127.0.0.1:8443");
        let c = Config::parse(
            "[portal]\nenabled = true\nlisten = \"0.0.0.0:443\"\npublic_url = \"https://secure.example.org/\"\n",
            "t",
        )
        .unwrap();
        assert!(c.portal.uses_https());
        assert_eq!(c.portal.base_url(), "https://secure.example.org");
        for (bad, key) in [
            ("exclude = [\"nope\"]", "portal.exclude"),
            ("public_url = \"ftp://x\"", "portal.public_url"),
            ("retention_days = 0", "portal.retention_days"),
            ("tls_cert = \"/c.pem\"", "portal.tls_cert"),
            ("listen = \"x\"", "portal.listen"),
        ] {
            let e = Config::parse(&format!("[portal]\n{bad}\n"), "t").unwrap_err();
            assert!(e.to_string().contains(key), "{bad}: {e}");
        }
    }
}
