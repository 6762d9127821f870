//! `segl ctl key|partner|trust|backup`: read files locally, send their content (base64 in
//! JSON) to the admin API, print the answer (`--json`: the API's JSON as it is).

use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Subcommand;
use serde_json::{json, Value};

use crate::ctl::{print_json, Client, CtlError};

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

fn read(p: &Path) -> Result<Vec<u8>, CtlError> {
    std::fs::read(p).map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", p.display())))
}

fn b64(p: &Path) -> Result<String, CtlError> {
    Ok(base64::engine::general_purpose::STANDARD.encode(read(p)?))
}

fn secret(p: &Path) -> Result<String, CtlError> {
    let s = String::from_utf8(read(p)?)
        .map_err(|_| CtlError::Usage(format!("{} is not text", p.display())))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("-")
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

fn out(v: &Value, json: bool, each: impl Fn(&Value)) {
    if json {
        print_json(v);
    } else if let Some(a) = v.as_array() {
        if a.is_empty() {
            println!("(none)");
        }
        a.iter().for_each(each);
    } else {
        each(v);
    }
}

pub fn key(c: &Client, verb: KeyVerb) -> Result<(), CtlError> {
    match verb {
        KeyVerb::Import {
            file,
            password_file,
            mailbox,
            domain,
            json,
        } => {
            let password = match password_file {
                Some(p) => secret(&p)?,
                None => String::new(),
            };
            let data = read(&file)?;
            let format = if data.starts_with(b"-----") {
                "pem"
            } else {
                "p12"
            };
            let v = c.call(
                "POST",
                "/keys/import",
                Some(json!({
                    "data": base64::engine::general_purpose::STANDARD.encode(&data),
                    "format": format, "password": password, "mailbox": mailbox, "domain": domain,
                })),
            )?;
            out(&v, json, show_key);
        }
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
            let q: String = address
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
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

pub fn partner(c: &Client, verb: PartnerVerb) -> Result<(), CtlError> {
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

pub fn trust(c: &Client, verb: TrustVerb) -> Result<(), CtlError> {
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

pub fn backup(c: &Client, verb: BackupVerb) -> Result<(), CtlError> {
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
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, &data)
                .and_then(|()| std::fs::rename(&tmp, &file))
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
