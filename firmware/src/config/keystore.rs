//! `[keystore]`: own keys, partner certificates, trust anchors, CRLs, rollover.

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

/// `[keystore]`: own keys, partner certificates, trust anchors, CRLs, rollover.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreConfig {
    /// Roll over own keys whose certificate expires within this many days.
    pub rollover_days: u32,
    /// Archive old keys this many days after their certificate expired (still decrypting).
    pub keep_old_days: u32,
    /// Empty: private keys are sealed under `<data_dir>/keystore/device.key`; otherwise under a
    /// key derived from the passphrase in this file.
    pub passphrase_file: String,
    /// Fetch CRLs from the certificates' distribution points this often (0: never).
    pub crl_refresh_hours: u32,
    /// Validity of certificates issued by the built-in CA (days).
    pub cert_days: u32,
    /// Validity of the built-in CA certificate (days).
    pub ca_days: u32,
    /// Name of the built-in CA (the host name is appended).
    pub ca_name: String,
    /// Issue a key and certificate from the built-in CA on a sender's first outbound mail.
    pub auto_issue: bool,
    /// Senders (addresses, `@domain`) who get a key automatically besides registered users.
    pub auto_issue_for: Vec<String>,
    /// At most this many automatic keys per hour (a flood of new senders cannot exhaust the
    /// licence or the CPU).
    pub auto_issue_per_hour: u32,
}

impl KeystoreConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if self.cert_days == 0 || self.ca_days <= self.cert_days {
            return Err(bad(
                "keystore.cert_days",
                "must be at least 1 and below keystore.ca_days",
            ));
        }
        super::switches::check_address_list("keystore.auto_issue_for", &self.auto_issue_for)?;
        if self.cert_days <= self.rollover_days {
            return Err(bad(
                "keystore.rollover_days",
                "must be below keystore.cert_days (or every new key would roll over at once)",
            ));
        }
        Ok(())
    }
}
