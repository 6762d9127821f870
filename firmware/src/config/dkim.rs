//! `[dkim]`: DKIM on the outbound path.

use serde::{Deserialize, Serialize};

/// `[dkim]`: DKIM on the outbound path (the last stage, `policy::finish`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// Remove upstream DKIM-Signature fields from mail whose content Segl changed.
    pub remove_invalidated: bool,
}
