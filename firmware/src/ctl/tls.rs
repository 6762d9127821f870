//! `segl ctl tls list`, `segl ctl tls install SERVICE --cert FILE [--key FILE]` and
//! `segl ctl tls reset SERVICE`: the certificates of the SMTP, admin and portal listeners.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::files::read;
use super::output::{out, print_json, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum TlsVerb {
    /// The certificate each listener uses.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Install a certificate (PEM, with its chain) and its key for `smtp`, `admin` or `portal`;
    /// applies at the next start.
    Install {
        service: String,
        #[arg(long)]
        cert: PathBuf,
        /// The private key (PEM); leave out when the certificate file holds it.
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Go back to the listener's self-signed certificate; applies at the next start.
    Reset { service: String },
}

fn text(p: &Path) -> Result<String, CtlError> {
    String::from_utf8(read(p)?)
        .map_err(|_| CtlError::Usage(format!("{} is not a PEM text file", p.display())))
}

fn line(v: &Value) {
    let c = &v["cert"];
    let what = if c.is_object() {
        format!(
            "{} until {} sha256 {}",
            s(c, "subject"),
            s(c, "not_after"),
            s(c, "sha256")
        )
    } else {
        s(v, "error").to_string()
    };
    let kind = if v["configured"].as_bool() == Some(true) {
        "installed"
    } else {
        "self-signed"
    };
    let pending = if v["restart_pending"].as_bool() == Some(true) {
        " (changed: applies at the next start)"
    } else {
        ""
    };
    println!("{:<7} {kind:<12} {what}{pending}", s(v, "service"));
}

pub(super) fn tls(c: &Client, verb: TlsVerb) -> Result<(), CtlError> {
    match verb {
        TlsVerb::List { json } => out(&c.call("GET", "/tls", None)?, json, line),
        TlsVerb::Install {
            service,
            cert,
            key,
            json,
        } => {
            let key_pem = match &key {
                Some(k) => zeroize::Zeroizing::new(text(k)?),
                None => zeroize::Zeroizing::new(String::new()),
            };
            let body = json!({ "cert_pem": text(&cert)?, "key_pem": key_pem.as_str() });
            let v = c.call("PUT", &format!("/tls/{service}"), Some(body))?;
            if json {
                print_json(&v);
            } else {
                println!(
                    "installed for {service}: {} (sha256 {}), revision {}; applies at the next start",
                    s(&v["cert"], "subject"),
                    s(&v["cert"], "sha256"),
                    v["applied"]["revision"]
                );
            }
        }
        TlsVerb::Reset { service } => {
            let v = c.call("DELETE", &format!("/tls/{service}"), None)?;
            println!(
                "{service}: back to self-signed, revision {}; applies at the next start",
                v["revision"]
            );
        }
    }
    Ok(())
}
