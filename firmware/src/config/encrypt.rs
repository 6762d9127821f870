//! `[encrypt]`: mandatory encryption and the sender's own copy.

use serde::{Deserialize, Serialize};

use super::parse::is_domain;
use super::validate::{bad, Invalid};

/// `[encrypt]`: mandatory encryption and the sender's own copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptConfig {
    /// Recipients (`user@domain`) and domains (`@domain`) that must always get encrypted mail.
    pub always: Vec<String>,
    /// Encrypt to the sender's own certificate too, so the sender can read the sent copy.
    pub include_sender: bool,
    /// Subject tags that make encryption mandatory for one mail (removed from the subject).
    pub tags: Vec<String>,
    /// Off: outbound mail is never encrypted; mandatory encryption then refuses the copy.
    pub enabled: bool,
}

impl EncryptConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        for a in &self.always {
            let ok = match a.rsplit_once('@') {
                Some((_, d)) => is_domain(d),
                None => false,
            };
            if !ok {
                return Err(bad(
                    "encrypt.always",
                    format!("{a:?}: use a full address or @domain"),
                ));
            }
        }
        Ok(())
    }
}
