//! `segl ctl admin add|list|passwd|delete`: administrators of the web admin, through the API
//! (so a script, a test or the appliance console can make the first one), and the pinned
//! HTTPS agent `segl ctl` uses when the admin listener speaks HTTPS.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::output::print_json;
use super::CtlError;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AdminVerb {
    /// Add an administrator; the password is read from --password-file or standard input.
    Add {
        name: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// admin (everything) or readonly (look, change nothing).
        #[arg(long, default_value = "admin")]
        role: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set an administrator's password (ends their sessions).
    Passwd {
        name: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    Delete {
        name: String,
    },
}

fn read_password(file: Option<PathBuf>) -> Result<String, CtlError> {
    let mut pw = String::new();
    match file {
        Some(p) => {
            pw = std::fs::read_to_string(&p)
                .map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", p.display())))?
        }
        None => {
            std::io::stdin()
                .read_to_string(&mut pw)
                .map_err(|e| CtlError::Usage(e.to_string()))?;
        }
    }
    Ok(pw.trim_end_matches(['\r', '\n']).to_string())
}

pub(super) fn admin(c: &Client, verb: AdminVerb) -> Result<(), CtlError> {
    match verb {
        AdminVerb::Add {
            name,
            password_file,
            role,
        } => {
            if role != "admin" && role != "readonly" {
                return Err(CtlError::Usage("--role is admin or readonly".into()));
            }
            let pw = zeroize::Zeroizing::new(read_password(password_file)?);
            c.call(
                "POST",
                "/admins",
                Some(json!({ "name": name, "password": *pw, "role": role })),
            )?;
            println!("administrator {name} ({role}) added");
        }
        AdminVerb::List { json } => {
            let v = c.call("GET", "/admins", None)?;
            if json {
                print_json(&v);
            } else {
                for a in v.as_array().into_iter().flatten() {
                    println!(
                        "{:<24} {:<9} {}",
                        a["name"].as_str().unwrap_or(""),
                        a["role"].as_str().unwrap_or(""),
                        a["lang"].as_str().unwrap_or("")
                    );
                }
            }
        }
        AdminVerb::Passwd {
            name,
            password_file,
        } => {
            let pw = zeroize::Zeroizing::new(read_password(password_file)?);
            c.call(
                "POST",
                &format!("/admins/{name}/password"),
                Some(json!({ "password": *pw })),
            )?;
            println!("password of {name} changed");
        }
        AdminVerb::Delete { name } => {
            let v: Value = c.call("DELETE", &format!("/admins/{name}"), None)?;
            println!("deleted {}", v["deleted"].as_str().unwrap_or(&name));
        }
    }
    Ok(())
}

/// The agent for an HTTPS admin listener, pinned to `<data_dir>/admin-tls/pin.sha256`.
pub(super) fn pinned_agent(
    cfg: &Config,
    config: ureq::config::Config,
) -> Result<ureq::Agent, CtlError> {
    let path = crate::admin::https::pin_path(&cfg.storage.data_dir);
    let text = std::fs::read_to_string(&path).map_err(|e| CtlError::Token(path.clone(), e))?;
    let pin = super::https::parse_pin(&text).ok_or_else(|| {
        CtlError::Usage(format!("{} is not a SHA-256 fingerprint", path.display()))
    })?;
    Ok(super::https::pinned_agent(config, pin))
}
