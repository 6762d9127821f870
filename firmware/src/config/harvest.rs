//! `[harvest]`: certificates from inbound signatures.

use serde::{Deserialize, Serialize};

/// What happens to certificates of valid inbound signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HarvestMode {
    /// Stored and used at once.
    Auto,
    /// Stored as pending until an administrator approves it.
    Manual,
    /// Not stored.
    Off,
}

/// `[harvest]`: certificates from inbound signatures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarvestConfig {
    pub mode: HarvestMode,
}
