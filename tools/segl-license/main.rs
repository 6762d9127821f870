//! `segl-license`: the vendor's licence tool (never part of the firmware image).
//!
//! - `keygen --out DIR`: a new vendor key pair, `DIR/vendor.key` (PKCS#8 PEM, mode 0600, keep
//!   it offline) and `DIR/vendor.pub` (the public key a release build embeds with
//!   `SEGL_LICENSE_PUBKEY=DIR/vendor.pub`).
//! - `issue (--key VENDOR_KEY | --dev) --customer NAME --keys N --expires YYYY-MM-DD …`:
//!   a signed licence file. `--dev` signs with the development key, which only development
//!   builds accept (tests, demos).
//! - `show FILE [--pub KEY.pub | --dev]`: the terms, and whether the signature verifies.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::{ed25519_public_of_pem, keygen, read_text as read, write_new};
use segl::license::format::{self, format_day, parse_day, Terms};
use segl::license::vendor::VendorKey;
use segl::license::{keys, LicenseError};

#[derive(Parser)]
#[command(name = "segl-license", version, about = "Segl vendor licence tool")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make a vendor key pair in DIR (vendor.key, vendor.pub).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a signed licence file.
    Issue {
        /// The vendor private key (vendor.key from keygen).
        #[arg(long, conflicts_with = "dev", required_unless_present = "dev")]
        key: Option<PathBuf>,
        /// Sign with the development key (accepted by development builds only).
        #[arg(long)]
        dev: bool,
        #[arg(long)]
        customer: String,
        /// Individual S/MIME keys (addresses and function mailboxes) covered.
        #[arg(long)]
        keys: u32,
        /// Last valid day, YYYY-MM-DD (UTC), or +N days from today.
        #[arg(long)]
        expires: String,
        /// First valid day (default: today).
        #[arg(long)]
        starts: Option<String>,
        /// Issue date (default: today).
        #[arg(long)]
        issued: Option<String>,
        #[arg(long, default_value_t = 14)]
        grace_days: u32,
        /// Bind the licence to this box id (shown on the box's licence page).
        #[arg(long = "box")]
        box_id: Option<String>,
        /// Licence id (default: L-<date>-<random>).
        #[arg(long)]
        id: Option<String>,
        /// Feature flag (repeatable).
        #[arg(long = "feature")]
        features: Vec<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a licence file and check its signature.
    Show {
        file: PathBuf,
        /// Check against this public key (vendor.pub).
        #[arg(long = "pub", conflicts_with = "dev")]
        public: Option<PathBuf>,
        /// Check against the development key.
        #[arg(long)]
        dev: bool,
        #[arg(long)]
        json: bool,
    },
}

#[path = "../common.rs"]
mod common;

#[derive(Debug, thiserror::Error)]
enum ToolError {
    #[error("{0}")]
    License(#[from] LicenseError),
    #[error("{0}")]
    Common(#[from] common::CommonError),
    #[error("{0}")]
    Usage(String),
}

fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_day(format::day_of(now))
}

/// A date argument: `YYYY-MM-DD`, or `+N` / `-N` days from today (write `--expires=-3`).
fn day_arg(name: &str, v: Option<String>) -> Result<String, ToolError> {
    let v = v.unwrap_or_else(today);
    let relative = v
        .strip_prefix('+')
        .or(v.strip_prefix('-').map(|_| v.as_str()))
        .and_then(|n| n.parse::<i64>().ok());
    let day = match relative {
        Some(n) => parse_day(&today()).map(|t| t + n),
        None => parse_day(&v),
    };
    day.map(format_day).ok_or_else(|| {
        ToolError::Usage(format!(
            "--{name} {v:?} is neither a YYYY-MM-DD date nor +N/-N days"
        ))
    })
}

fn public_key_of_pem(text: &str) -> Result<Vec<u8>, ToolError> {
    ed25519_public_of_pem(text)
        .map(|k| k.to_vec())
        .ok_or_else(|| ToolError::Usage("not an Ed25519 public key (PEM PUBLIC KEY)".into()))
}

fn run(cli: Cli) -> Result<(), ToolError> {
    match cli.cmd {
        Cmd::Keygen { out } => {
            let k = keygen(&out, "vendor")?;
            println!(
                "vendor key {} written to {}/vendor.key (keep it offline) and vendor.pub \
                 (build releases with SEGL_LICENSE_PUBKEY={}/vendor.pub)",
                format::key_id(&k.public_key()),
                out.display(),
                out.display()
            );
        }
        Cmd::Issue {
            key,
            dev,
            customer,
            keys,
            expires,
            starts,
            issued,
            grace_days,
            box_id,
            id,
            features,
            out,
        } => {
            let k = match (key, dev) {
                (_, true) => VendorKey::development()?,
                (Some(p), false) => VendorKey::from_pem(&read(&p)?)?,
                (None, false) => return Err(ToolError::Usage("give --key FILE or --dev".into())),
            };
            let issued = day_arg("issued", issued)?;
            let id = id.unwrap_or_else(|| {
                let r: u32 = rand::random::<u32>() & 0xffffff;
                format!("L-{}-{r:06X}", issued.replace('-', ""))
            });
            let terms = Terms {
                format: 1,
                id,
                customer,
                starts: day_arg("starts", starts)?,
                expires: day_arg("expires", Some(expires))?,
                issued,
                keys,
                grace_days,
                features,
                box_id,
            };
            let text = k.issue(&terms)?;
            write_new(&out, text.as_bytes(), 0o644)?;
            println!(
                "licence {} for {} ({} keys, until {}) written to {}{}",
                terms.id,
                terms.customer,
                terms.keys,
                terms.expires,
                out.display(),
                if dev { " (development key)" } else { "" }
            );
        }
        Cmd::Show {
            file,
            public,
            dev,
            json,
        } => {
            let text = read(&file)?;
            let f = format::parse(text.as_bytes())?;
            let verdict = match (public, dev) {
                (Some(p), _) => {
                    let pk = public_key_of_pem(&read(&p)?)?;
                    Some(keys::verify_with(&f, &pk))
                }
                (None, true) => {
                    let pk = VendorKey::development()?.public_key();
                    Some(keys::verify_with(&f, &pk))
                }
                (None, false) => None,
            };
            let dev_id = format::key_id(&VendorKey::development()?.public_key());
            if json {
                let v = serde_json::json!({
                    "license": f.terms,
                    "key_id": f.key_id,
                    "development_key": f.key_id == dev_id,
                    "signature": match &verdict {
                        None => "not checked".to_string(),
                        Some(Ok(())) => "valid".to_string(),
                        Some(Err(e)) => e.to_string(),
                    },
                });
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                let t = &f.terms;
                println!("licence:   {}", t.id);
                println!("customer:  {}", t.customer);
                println!("issued:    {}", t.issued);
                println!(
                    "valid:     {} to {} (+{} days grace)",
                    t.starts, t.expires, t.grace_days
                );
                println!("keys:      {}", t.keys);
                println!("box:       {}", t.box_id.as_deref().unwrap_or("any"));
                if !t.features.is_empty() {
                    println!("features:  {}", t.features.join(", "));
                }
                println!(
                    "signed by: {}{}",
                    f.key_id,
                    if f.key_id == dev_id {
                        " (development key)"
                    } else {
                        ""
                    }
                );
                match &verdict {
                    None => println!("signature: not checked (give --pub KEY or --dev)"),
                    Some(Ok(())) => println!("signature: valid"),
                    Some(Err(e)) => println!("signature: INVALID: {e}"),
                }
            }
            if let Some(Err(e)) = verdict {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
