//! `segl ctl key …`: own keys (import, generate, CSR, list, export, CA certificate, rollover).

use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::files::{b64, read, secret};
use super::output::{out, print_json, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum KeyVerb {
    /// Import an own key from PKCS#12 (or PEM key + certificate).
    Import {
        file: PathBuf,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Function mailbox id (e.g. advokatkontoret).
        #[arg(long, conflicts_with = "domain")]
        mailbox: Option<String>,
        /// Domain certificate for this local domain.
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// New key + certificate from the built-in CA.
    Generate {
        #[arg(long)]
        email: String,
        #[arg(long)]
        days: Option<u32>,
        /// Function mailbox id (e.g. advokatkontoret) the key belongs to.
        #[arg(long)]
        mailbox: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// New key + CSR for an external CA (prints the CSR).
    Csr {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Attach the certificate an external CA issued for a CSR.
    ImportCert {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print the certificate (PEM) of an address or key id.
    ExportCert { address: String },
    /// Print the built-in CA certificate (PEM) for partners to trust.
    CaCert,
    /// Run the rollover check now.
    Rollover {
        #[arg(long)]
        json: bool,
    },
}

fn show_key(k: &Value) {
    let addrs: Vec<&str> = k["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let who = match (k["mailbox"].as_str(), k["domain"].as_str()) {
        (Some(m), _) => format!("mailbox {m}"),
        (_, Some(d)) => format!("domain {d}"),
        _ => s(k, "purpose").to_string(),
    };
    println!(
        "{}  {:<20} {:<19} {}{}  until {}  {}",
        s(k, "id"),
        who,
        s(k, "state"),
        s(k, "source"),
        if k["signing"].as_bool() == Some(true) {
            " signing"
        } else {
            ""
        },
        s(k, "not_after"),
        addrs.join(", ")
    );
    if let Some(p) = k["pending_action"].as_str() {
        println!("    pending: {p}");
    }
}

/// `key import`: a PKCS#12 or PEM file; its password is wiped from memory after the call.
fn import(
    c: &Client,
    file: &Path,
    password_file: Option<&Path>,
    mailbox: Option<String>,
    domain: Option<String>,
    json: bool,
) -> Result<(), CtlError> {
    let password = zeroize::Zeroizing::new(match password_file {
        Some(p) => secret(p)?,
        None => String::new(),
    });
    let data = zeroize::Zeroizing::new(read(file)?);
    let format = if data.starts_with(b"-----") {
        "pem"
    } else {
        "p12"
    };
    let v = c.call(
        "POST",
        "/keys/import",
        Some(json!({
            "data": base64::engine::general_purpose::STANDARD.encode(&*data),
            "format": format, "password": password.as_str(), "mailbox": mailbox, "domain": domain,
        })),
    )?;
    out(&v, json, show_key);
    Ok(())
}

pub(super) fn key(c: &Client, verb: KeyVerb) -> Result<(), CtlError> {
    match verb {
        KeyVerb::Import {
            file,
            password_file,
            mailbox,
            domain,
            json,
        } => import(c, &file, password_file.as_deref(), mailbox, domain, json)?,
        KeyVerb::Generate {
            email,
            days,
            mailbox,
            json,
        } => {
            let v = c.call(
                "POST",
                "/keys/generate",
                Some(json!({ "email": email, "days": days, "mailbox": mailbox })),
            )?;
            out(&v, json, show_key);
        }
        KeyVerb::Csr { email, json } => {
            let v = c.call("POST", "/keys/csr", Some(json!({ "email": email })))?;
            if json {
                print_json(&v);
            } else {
                eprintln!("key {} waits for its certificate; CSR:", s(&v, "id"));
                print!("{}", s(&v, "csr_pem"));
            }
        }
        KeyVerb::ImportCert { file, json } => {
            let v = c.call(
                "POST",
                "/keys/import-cert",
                Some(json!({ "data": b64(&file)? })),
            )?;
            out(&v, json, show_key);
        }
        KeyVerb::List { json } => out(&c.call("GET", "/keys", None)?, json, show_key),
        KeyVerb::ExportCert { address } => {
            let q: String = url::form_urlencoded::byte_serialize(address.as_bytes()).collect();
            let v = c.call("GET", &format!("/keys/export?address={q}"), None)?;
            print!("{}", s(&v, "pem"));
        }
        KeyVerb::CaCert => print!("{}", s(&c.call("GET", "/keys/ca", None)?, "pem")),
        KeyVerb::Rollover { json } => {
            let v = c.call("POST", "/keys/rollover", None)?;
            out(&v, json, |a| println!("{}", a.as_str().unwrap_or("")));
        }
    }
    Ok(())
}
