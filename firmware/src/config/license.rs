//! `[license]`: what happens to mail while a key is not licensed (docs/license.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseConfig {
    /// Days a copy of inbound mail left encrypted for want of a licence is kept, to be
    /// decrypted and delivered again once a licence covers the key; 0: until then.
    pub keep_parked_days: u32,
}
