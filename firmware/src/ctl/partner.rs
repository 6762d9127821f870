//! `segl ctl partner …`: partner certificates.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::files::b64;
use super::output::{out, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum PartnerVerb {
    Import {
        file: PathBuf,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Pending {
        #[arg(long)]
        json: bool,
    },
    Approve {
        id: String,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
}

fn show_partner(p: &Value) {
    let who = match p["domain"].as_str() {
        Some(d) => format!("domain {d}"),
        None => p["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    };
    println!(
        "{}  {:<8} {:<9} {}{}  until {}  {}",
        s(p, "id"),
        if p["enabled"].as_bool() == Some(true) {
            "enabled"
        } else {
            "disabled"
        },
        s(p, "source"),
        if p["pending"].as_bool() == Some(true) {
            "pending "
        } else {
            ""
        },
        if p["encryption_capable"].as_bool() == Some(true) {
            "enc"
        } else {
            "sign-only"
        },
        s(p, "not_after"),
        who
    );
}

pub(super) fn partner(c: &Client, verb: PartnerVerb) -> Result<(), CtlError> {
    match verb {
        PartnerVerb::Import { file, domain, json } => {
            let v = c.call(
                "POST",
                "/partners/import",
                Some(json!({ "data": b64(&file)?, "domain": domain })),
            )?;
            out(&v, json, show_partner);
        }
        PartnerVerb::List { json } => out(&c.call("GET", "/partners", None)?, json, show_partner),
        PartnerVerb::Pending { json } => out(
            &c.call("GET", "/partners/pending", None)?,
            json,
            show_partner,
        ),
        PartnerVerb::Approve { id } => {
            show_partner(&c.call("POST", &format!("/partners/{id}/approve"), None)?)
        }
        PartnerVerb::Enable { id } => {
            show_partner(&c.call("POST", &format!("/partners/{id}/enable"), None)?)
        }
        PartnerVerb::Disable { id } => {
            show_partner(&c.call("POST", &format!("/partners/{id}/disable"), None)?)
        }
        PartnerVerb::Delete { id } => {
            c.call("DELETE", &format!("/partners/{id}"), None)?;
            println!("deleted {id}");
        }
    }
    Ok(())
}
