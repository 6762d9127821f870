//! `segl-bundle`: the vendor's firmware update bundle tool (never part of the firmware image).
//!
//! - `keygen --out DIR`: a new update key pair, `DIR/update.key` (PKCS#8 PEM, mode 0600, keep
//!   it offline; a different key from the licence key) and `DIR/update.pub` (what a release
//!   build embeds with `SEGL_UPDATE_PUBKEY=DIR/update.pub`).
//! - `make (--key UPDATE_KEY | --dev) --version V --board B --payload SLOT_IMAGE --out FILE`:
//!   a signed bundle. `--dev` signs with the development update key, which only development
//!   builds accept (tests, demos).
//! - `show FILE [--pub KEY.pub | --dev]`: the manifest, and whether signature and payload check.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::{ed25519_public_of_pem, keygen, read, read_text, write_new};
use segl::license::vendor::VendorKey;
use segl::update::bundle;
use segl::update::keys;

#[derive(Parser)]
#[command(
    name = "segl-bundle",
    version,
    about = "Segl firmware update bundle tool"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make an update key pair in DIR (update.key, update.pub).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a slot image into an update bundle.
    Make {
        /// The update private key (update.key from keygen).
        #[arg(long, conflicts_with = "dev", required_unless_present = "dev")]
        key: Option<PathBuf>,
        /// Sign with the development update key (accepted by development builds only).
        #[arg(long)]
        dev: bool,
        /// Firmware version, dotted numbers.
        #[arg(long)]
        version: String,
        /// The board the slot image boots on (x86_64-local for image/build.sh).
        #[arg(long)]
        board: String,
        /// The slot image (image/out/slot.vfat).
        #[arg(long)]
        payload: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a bundle's manifest and check it.
    Show {
        file: PathBuf,
        /// Check against this public key (default: the development update key).
        #[arg(long = "pub")]
        public: Option<PathBuf>,
    },
}

#[path = "../common.rs"]
mod common;

#[derive(Debug, thiserror::Error)]
enum ToolError {
    #[error("{0}")]
    Common(#[from] common::CommonError),
    #[error("{0}")]
    Key(#[from] segl::license::LicenseError),
    #[error("{0}")]
    Bundle(#[from] bundle::BundleError),
}

fn run(cli: Cli) -> Result<(), ToolError> {
    match cli.cmd {
        Cmd::Keygen { out } => {
            keygen(&out, "update")?;
            println!("{}/update.key (keep offline) and update.pub", out.display());
        }
        Cmd::Make {
            key,
            dev,
            version,
            board,
            payload,
            out,
        } => {
            let k = match (key, dev) {
                (Some(p), _) => {
                    let pem = read_text(&p)?;
                    VendorKey::from_pem(&pem)?
                }
                (None, _) => VendorKey::from_seed_text(keys::DEV_SEED_TEXT)?,
            };
            bundle::parse_version(&version)?;
            let data = read(&payload)?;
            let created = format!(
                "{} by segl-bundle {}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                env!("CARGO_PKG_VERSION")
            );
            let m = bundle::manifest_for(&version, &board, &data, &created);
            let text = bundle::manifest_text(&m)?;
            let sig = k.sign(&bundle::signed_bytes(text.as_bytes()));
            let b = bundle::assemble(text.as_bytes(), &sig, &data);
            let _ = std::fs::remove_file(&out);
            write_new(&out, &b, 0o644)?;
            println!(
                "{}: version {version} for {board}, {} bytes (payload {} bytes, SHA-256 {})",
                out.display(),
                b.len(),
                m.payload_size,
                m.payload_sha256
            );
        }
        Cmd::Show { file, public } => {
            let data = read(&file)?;
            let key: [u8; 32] = match public {
                Some(p) => {
                    let pem = read_text(&p)?;
                    raw_public(&pem)?
                }
                None => *keys::dev_key(),
            };
            let s = bundle::open(&data, &key)?;
            print!("{}", bundle::manifest_text(&s.manifest)?);
            println!("signature: good");
            bundle::check(&s, &s.manifest.board, None, true)?;
            println!("payload: SHA-256 matches");
        }
    }
    Ok(())
}

/// The raw key of a PEM `PUBLIC KEY` (Ed25519 SubjectPublicKeyInfo).
fn raw_public(pem: &str) -> Result<[u8; 32], ToolError> {
    ed25519_public_of_pem(pem)
        .ok_or_else(|| bundle::BundleError::Malformed("not an Ed25519 public key".into()).into())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("segl-bundle: {e}");
            ExitCode::FAILURE
        }
    }
}
