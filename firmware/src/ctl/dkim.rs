//! `segl ctl dkim …`: DKIM signing keys per domain. `generate` and `import` make a key the
//! domain's signing key (rollover: the previous one is retired and must stay in DNS for a
//! while); `show DOMAIN` prints the DNS TXT record to publish (`--txt`: the record's text
//! alone, for scripts); `delete` removes a retired key once its record may go.

use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Subcommand;
use serde_json::{json, Value};

use super::client::Client;
use super::output::{print_json, s, when};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum DkimVerb {
    /// Make a new key for DOMAIN; it signs from now on (the previous key is retired).
    Generate {
        domain: String,
        /// Selector (default: segl<date>); must differ from the domain's other keys.
        #[arg(long)]
        selector: Option<String>,
        /// rsa (RSA-2048, rsa-sha256) or ed25519 (ed25519-sha256).
        #[arg(long, default_value = "rsa")]
        algorithm: String,
        #[arg(long)]
        json: bool,
    },
    /// Import a PEM private key (PKCS#8 or PKCS#1) for DOMAIN as its signing key.
    Import {
        domain: String,
        file: PathBuf,
        #[arg(long)]
        selector: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// All DKIM keys: signing keys and retired ones whose record must stay published.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The DNS TXT record(s) to publish for DOMAIN.
    Show {
        domain: String,
        /// Print only the TXT record's text (of the signing key, or of --selector).
        #[arg(long)]
        txt: bool,
        #[arg(long)]
        selector: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key (a retired one; the signing key only with --force).
    Delete {
        domain: String,
        selector: String,
        /// Also delete the signing key: the domain's mail then leaves unsigned.
        #[arg(long)]
        force: bool,
    },
}

fn state_line(k: &Value) -> String {
    match s(k, "state") {
        "retired" => {
            let mut t = format!(
                "retired {}",
                k["retired"].as_i64().map(when).unwrap_or_default()
            );
            if let Some(u) = k["publish_until"].as_i64() {
                t.push_str(&format!(", keep its record published until {}", when(u)));
            }
            t
        }
        other => format!(
            "{other}, signing since {}",
            k["created"].as_i64().map(when).unwrap_or_default()
        ),
    }
}

fn print_key(k: &Value) {
    println!(
        "{}  selector {}  {} ({} bits, {})  {}",
        s(k, "domain"),
        s(k, "selector"),
        s(k, "signature_algorithm"),
        k["bits"],
        s(k, "source"),
        state_line(k)
    );
    println!("  publish TXT at {}:", s(k, "dns_name"));
    println!("    {}", s(k, "txt"));
    println!("  zone file:");
    println!("    {}", s(k, "zone_line"));
}

/// Runs one `segl ctl dkim` verb.
pub(super) fn run(c: &Client, verb: DkimVerb) -> Result<(), CtlError> {
    match verb {
        DkimVerb::Generate {
            domain,
            selector,
            algorithm,
            json,
        } => {
            let v = c.call(
                "POST",
                "/dkim/generate",
                Some(json!({ "domain": domain, "selector": selector, "algorithm": algorithm })),
            )?;
            show_added(&v, json);
        }
        DkimVerb::Import {
            domain,
            file,
            selector,
            json,
        } => import(c, &domain, &file, selector, json)?,
        DkimVerb::List { json } => list(c, json)?,
        DkimVerb::Show {
            domain,
            txt,
            selector,
            json,
        } => show(c, &domain, txt, selector, json)?,
        DkimVerb::Delete {
            domain,
            selector,
            force,
        } => {
            let q = if force { "?force=true" } else { "" };
            c.call("DELETE", &format!("/dkim/{domain}/{selector}{q}"), None)?;
            println!("deleted DKIM key {selector} of {domain}; its DNS record can go");
        }
    }
    Ok(())
}

/// `dkim import`: a PEM private key (kept out of memory dumps) sent base64.
fn import(
    c: &Client,
    domain: &str,
    file: &Path,
    selector: Option<String>,
    json: bool,
) -> Result<(), CtlError> {
    let pem = zeroize::Zeroizing::new(
        std::fs::read(file)
            .map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", file.display())))?,
    );
    let data = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*pem));
    let v = c.call(
        "POST",
        "/dkim/import",
        Some(json!({ "domain": domain, "selector": selector, "data": &*data })),
    )?;
    show_added(&v, json);
    Ok(())
}

/// `dkim list`: one line per key.
fn list(c: &Client, json: bool) -> Result<(), CtlError> {
    let v = c.call("GET", "/dkim", None)?;
    if json {
        print_json(&v);
    } else {
        let keys = v.as_array().cloned().unwrap_or_default();
        if keys.is_empty() {
            println!("no DKIM keys (segl ctl dkim generate DOMAIN)");
        }
        for k in &keys {
            println!(
                "{:<24} {:<20} {:<15} {}",
                s(k, "domain"),
                s(k, "selector"),
                s(k, "signature_algorithm"),
                state_line(k)
            );
        }
    }
    Ok(())
}

/// `dkim show`: a domain's keys, or one record line for scripts (`--txt`).
fn show(
    c: &Client,
    domain: &str,
    txt: bool,
    selector: Option<String>,
    json: bool,
) -> Result<(), CtlError> {
    let v = c.call("GET", &format!("/dkim/{domain}"), None)?;
    let keys = v.as_array().cloned().unwrap_or_default();
    let keys: Vec<Value> = match &selector {
        Some(sel) => keys
            .into_iter()
            .filter(|k| s(k, "selector").eq_ignore_ascii_case(sel))
            .collect(),
        None => keys,
    };
    if keys.is_empty() {
        return Err(CtlError::Api(format!(
            "no DKIM key {} for {domain}",
            selector.unwrap_or_default()
        )));
    }
    if txt {
        // The signing key's record (or the one selected): one line, for scripts.
        let k = keys
            .iter()
            .find(|k| s(k, "state") == "active")
            .or_else(|| keys.first())
            .cloned()
            .unwrap_or(Value::Null);
        println!("{}", s(&k, "txt"));
    } else if json {
        print_json(&Value::Array(keys));
    } else {
        for k in &keys {
            print_key(k);
        }
    }
    Ok(())
}

fn show_added(v: &Value, json: bool) {
    if json {
        print_json(v);
        return;
    }
    for k in v.as_array().into_iter().flatten() {
        println!(
            "DKIM key {} of {} made; it signs from now on. Publish this record (the previous \
             key's record stays published until you delete that key):",
            s(k, "selector"),
            s(k, "domain")
        );
        print_key(k);
    }
}
