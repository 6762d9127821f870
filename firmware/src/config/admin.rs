//! `[admin]`: the admin API's listener.

use serde::{Deserialize, Serialize};

use super::parse::parse_listen;
use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: String,
}

impl AdminConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        parse_listen(&self.listen).map_err(|m| bad("admin.listen", m))?;
        Ok(())
    }
}
