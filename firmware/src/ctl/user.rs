//! `segl ctl user add|list|import`.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::output::print_json;
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum UserVerb {
    /// Add a user; the password is read from --password-file or standard input.
    Add {
        name: String,
        #[arg(long = "email", required = true)]
        emails: Vec<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add and update users from an LDAP directory or a CSV file (idempotent).
    Import(super::user_import::ImportArgs),
}

pub(super) fn user(c: &Client, verb: UserVerb) -> Result<(), CtlError> {
    match verb {
        UserVerb::Add {
            name,
            emails,
            password_file,
        } => {
            let mut pw = String::new();
            match password_file {
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
            let pw = pw.trim_end_matches(['\r', '\n']).to_string();
            c.call(
                "POST",
                "/users",
                Some(serde_json::json!({ "name": name, "addresses": emails, "password": pw })),
            )?;
            println!("user {name} added");
        }
        UserVerb::Import(a) => super::user_import::import(c, a)?,
        UserVerb::List { json } => {
            let v = c.call("GET", "/users", None)?;
            if json {
                print_json(&v);
            } else {
                for u in v.as_array().into_iter().flatten() {
                    let addrs: Vec<&str> = u["addresses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    println!(
                        "{:<20} {}",
                        u["name"].as_str().unwrap_or(""),
                        addrs.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}
