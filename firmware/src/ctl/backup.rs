//! `segl ctl backup create|restore`: the keystore, encrypted under a passphrase.

use std::path::PathBuf;

use base64::Engine;
use clap::Subcommand;
use serde_json::json;

use super::client::Client;
use super::files::{b64, secret};
use super::output::s;
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum BackupVerb {
    /// Write the whole keystore, encrypted under a passphrase, to FILE.
    Create {
        file: PathBuf,
        #[arg(long)]
        passphrase_file: PathBuf,
    },
    /// Replace the keystore with the backup in FILE.
    Restore {
        file: PathBuf,
        #[arg(long)]
        passphrase_file: PathBuf,
    },
}

pub(super) fn backup(c: &Client, verb: BackupVerb) -> Result<(), CtlError> {
    match verb {
        BackupVerb::Create {
            file,
            passphrase_file,
        } => {
            let v = c.call(
                "POST",
                "/backup",
                Some(json!({ "passphrase": secret(&passphrase_file)? })),
            )?;
            let data = base64::engine::general_purpose::STANDARD
                .decode(s(&v, "data"))
                .map_err(|e| CtlError::Api(format!("bad backup data: {e}")))?;
            // The backup holds (encrypted) private keys: owner-only, and whole or not at all.
            crate::durable::write_private(&file, &data)
                .map_err(|e| CtlError::Usage(format!("cannot write {}: {e}", file.display())))?;
            println!(
                "backup written to {} ({} bytes)",
                file.display(),
                data.len()
            );
        }
        BackupVerb::Restore {
            file,
            passphrase_file,
        } => {
            let v = c.call(
                "POST",
                "/backup/restore",
                Some(json!({ "data": b64(&file)?, "passphrase": secret(&passphrase_file)? })),
            )?;
            println!("restored {} own keys", v["restored_keys"]);
        }
    }
    Ok(())
}
