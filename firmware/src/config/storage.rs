//! `[storage]`: the data directory, the free-space floor and the spool layout.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Refuse new mail (452 4.3.1) when less than this many MiB are free in the data dir.
    pub min_free_mb: u64,
    /// How new messages are stored in the spool (`crate::spool::Layout`).
    #[serde(default)]
    pub spool_layout: SpoolLayout,
}

/// `storage.spool_layout`: `auto` writes one file per message (`<id>.mail`) unless the firmware
/// slot is on trial; `two-files` always writes the layout of the firmware before
/// (`<id>.msg` + `<id>.env`), e.g. to let the queue drain into a form an older firmware reads
/// before a forced downgrade. Both are always read. Applied at start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpoolLayout {
    #[default]
    Auto,
    TwoFiles,
}

impl StorageConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(bad("storage.data_dir", "must not be empty"));
        }
        Ok(())
    }
}
