//! `segl ctl trust …`: trust anchors and CRLs.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::files::b64;
use super::output::{out, print_json, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum TrustVerb {
    /// Import CA certificates as trust anchors.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Delete {
        id: String,
    },
    /// Certificate revocation lists.
    Crl {
        #[command(subcommand)]
        verb: CrlVerb,
    },
}

#[derive(Debug, Subcommand)]
pub enum CrlVerb {
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Fetch all CRL distribution points now.
    Refresh {
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn trust(c: &Client, verb: TrustVerb) -> Result<(), CtlError> {
    let show = |a: &Value| {
        println!(
            "{}  {:<10} until {}  {}",
            s(a, "id"),
            s(a, "source"),
            s(a, "not_after"),
            s(a, "subject")
        )
    };
    let show_crl = |a: &Value| {
        println!(
            "{}  {} revoked  updated {}  {}",
            s(a, "id"),
            a["revoked"],
            s(a, "this_update"),
            s(a, "issuer")
        )
    };
    match verb {
        TrustVerb::Import { file, json } => out(
            &c.call(
                "POST",
                "/trust/import",
                Some(json!({ "data": b64(&file)? })),
            )?,
            json,
            show,
        ),
        TrustVerb::List { json } => out(&c.call("GET", "/trust", None)?, json, show),
        TrustVerb::Delete { id } => {
            c.call("DELETE", &format!("/trust/{id}"), None)?;
            println!("deleted {id}");
        }
        TrustVerb::Crl { verb } => match verb {
            CrlVerb::Import { file, json } => out(
                &c.call(
                    "POST",
                    "/trust/crls/import",
                    Some(json!({ "data": b64(&file)? })),
                )?,
                json,
                show_crl,
            ),
            CrlVerb::List { json } => out(&c.call("GET", "/trust/crls", None)?, json, show_crl),
            CrlVerb::Refresh { json } => {
                let v = c.call("POST", "/trust/crls/refresh", None)?;
                if json {
                    print_json(&v);
                } else {
                    println!("stored {}, errors: {}", v["stored"], v["errors"]);
                }
            }
        },
    }
    Ok(())
}
