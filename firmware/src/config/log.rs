//! `[log]`: level and format of the log on standard error.

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub json: bool,
}

impl LogConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if !["error", "warn", "info", "debug", "trace"].contains(&self.level.as_str()) {
            return Err(bad("log.level", "one of error, warn, info, debug, trace"));
        }
        Ok(())
    }
}
