//! `[verify]` and `[decrypt]`: the inbound stages' on/off switches (DEFENDO's Verify and
//! Decrypt tabs). `[sign] enabled` and `[encrypt] enabled` live in their own sections.
//! A switched-off stage passes mail through untouched and says so in the log; a box that only
//! verifies and encrypts needs no licence and no own keys.

use serde::{Deserialize, Serialize};

use super::parse::is_domain;
use super::validate::{bad, Invalid};

/// A stage that can be switched off (`enabled = false`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSwitch {
    pub enabled: bool,
}

impl Default for StageSwitch {
    fn default() -> Self {
        StageSwitch { enabled: true }
    }
}

/// Every entry of `list` is a full address or `@domain`.
pub(super) fn check_address_list(key: &'static str, list: &[String]) -> Result<(), Invalid> {
    for a in list {
        let ok = match a.trim().rsplit_once('@') {
            Some((_, d)) => is_domain(d),
            None => false,
        };
        if !ok {
            return Err(bad(key, format!("{a:?}: use a full address or @domain")));
        }
    }
    Ok(())
}
