//! `[admin]`: the web admin's and admin API's listener, and its HTTPS certificate.

use serde::{Deserialize, Serialize};

use super::parse::parse_listen;
use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: String,
    /// HTTPS certificate and key (PEM) of the web admin; empty: a self-signed pair made in the
    /// data dir. Unused on a loopback listener (plain HTTP) unless set.
    #[serde(default)]
    pub tls_cert: String,
    #[serde(default)]
    pub tls_key: String,
    /// A file holding a bearer token for `/metrics` (Prometheus), so a scraper needs neither
    /// an admin login nor the ctl token; empty: `/metrics` only with those.
    #[serde(default)]
    pub metrics_token_file: String,
}

impl AdminConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        parse_listen(&self.listen).map_err(|m| bad("admin.listen", m))?;
        if self.tls_cert.is_empty() != self.tls_key.is_empty() {
            return Err(bad(
                "admin.tls_cert",
                "set admin.tls_cert and admin.tls_key together",
            ));
        }
        Ok(())
    }
}
