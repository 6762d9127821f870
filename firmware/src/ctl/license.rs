//! `segl ctl license install FILE` and `segl ctl license show [--json]`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::files::b64;
use super::output::{print_json, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum LicenseVerb {
    /// Install a licence file from the vendor (a refused file leaves the current licence).
    Install {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Customer, validity, keys in use / licensed, unlicensed keys, warnings.
    Show {
        #[arg(long)]
        json: bool,
    },
}

/// Prints a licence state (`GET /license`) for a person.
fn show(v: &Value) {
    if v["development_build"].as_bool() == Some(true) {
        println!("development build: accepts licences signed with the development key");
    }
    println!("box id:      {}", s(v, "box_id"));
    println!("state:       {}", s(v, "state"));
    let l = &v["license"];
    if l.is_object() {
        println!("licence:     {} for {}", s(l, "id"), s(l, "customer"));
        println!(
            "valid:       {} to {} (issued {}, grace {} days, until {})",
            s(l, "starts"),
            s(l, "expires"),
            s(l, "issued"),
            l["grace_days"],
            s(v, "grace_until")
        );
        if let Some(b) = l["box"].as_str() {
            println!("bound to:    {b}");
        }
    }
    println!(
        "keys:        {} in use, {} licensed",
        v["keys_in_use"], v["keys_licensed"]
    );
    for seat in v["seats"].as_array().into_iter().flatten() {
        println!(
            "    {:<12} {:<10} {}",
            if seat["licensed"].as_bool() == Some(true) {
                "licensed"
            } else {
                "UNLICENSED"
            },
            s(seat, "kind"),
            s(seat, "identity")
        );
    }
    let parked = v["parked"].as_array().map_or(0, Vec::len);
    if parked > 0 {
        println!("parked:      {parked} message(s) kept encrypted until a licence covers the key");
    }
    for w in v["warnings"].as_array().into_iter().flatten() {
        println!("warning:     {}", w.as_str().unwrap_or(""));
    }
}

pub(super) fn license(c: &Client, verb: LicenseVerb) -> Result<(), CtlError> {
    match verb {
        LicenseVerb::Install { file, json } => {
            let data = b64(&file)?;
            let v = c.call("POST", "/license", Some(json!({ "data": data })))?;
            if json {
                print_json(&v);
            } else {
                println!("licence installed: {}", s(&v, "summary"));
                if let Some(r) = v["released"]["requeued"]
                    .as_array()
                    .filter(|r| !r.is_empty())
                {
                    println!(
                        "{} parked message(s) queued to be decrypted and delivered",
                        r.len()
                    );
                }
            }
        }
        LicenseVerb::Show { json } => {
            let v = c.call("GET", "/license", None)?;
            if json {
                print_json(&v);
            } else {
                show(&v);
            }
        }
    }
    Ok(())
}
