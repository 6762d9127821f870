//! `[storage]`: the data directory and the free-space floor.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Refuse new mail (452 4.3.1) when less than this many MiB are free in the data dir.
    pub min_free_mb: u64,
}

impl StorageConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(bad("storage.data_dir", "must not be empty"));
        }
        Ok(())
    }
}
