//! `segl ctl`: administer a running gateway through its admin API, with the token from the data dir.
//! `--json` prints what the API returns (one JSON array of objects for lists).
//!
//! One file per verb family ([`status`], [`queue`], [`user`], [`key`], [`partner`], [`trust`],
//! [`backup`], [`dkim`], [`license`], [`config`], [`tls`]); they share the [`client`], local [`files`] reading and
//! [`output`] printing.
//! The verbs are an interface (DESIGN.md §11).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::config::Config;

mod admin;
mod backup;
mod client;
mod config;
mod dkim;
mod files;
mod firmware;
pub mod https;
mod key;
mod license;
mod network;
mod output;
mod partner;
mod queue;
mod status;
mod tls;
mod trust;
mod user;
mod user_import;

pub use admin::AdminVerb;
pub use backup::BackupVerb;
pub use config::ConfigVerb;
pub use dkim::DkimVerb;
pub use firmware::FirmwareVerb;
pub use key::KeyVerb;
pub use license::LicenseVerb;
pub use network::{NetworkVerb, TimeVerb};
pub use partner::PartnerVerb;
pub use queue::QueueVerb;
pub use tls::TlsVerb;
pub use trust::{CrlVerb, TrustVerb};
pub use user::UserVerb;

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Configuration file of the gateway (default: the embedded default).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Versions, listeners, queue size, licence state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The mail queue.
    Queue {
        #[command(subcommand)]
        verb: QueueVerb,
    },
    /// SMTP AUTH users.
    User {
        #[command(subcommand)]
        verb: UserVerb,
    },
    /// Own keys (individual, function mailbox, domain).
    Key {
        #[command(subcommand)]
        verb: KeyVerb,
    },
    /// Partner certificates.
    Partner {
        #[command(subcommand)]
        verb: PartnerVerb,
    },
    /// Trust anchors and CRLs.
    Trust {
        #[command(subcommand)]
        verb: TrustVerb,
    },
    /// Backup and restore of the keystore.
    Backup {
        #[command(subcommand)]
        verb: BackupVerb,
    },
    /// DKIM signing keys per domain and the DNS records to publish.
    Dkim {
        #[command(subcommand)]
        verb: DkimVerb,
    },
    /// Administrators of the web admin and API.
    Admin {
        #[command(subcommand)]
        verb: AdminVerb,
    },
    /// The licence: install a file, show the state.
    License {
        #[command(subcommand)]
        verb: LicenseVerb,
    },
    /// The live configuration: show, set keys, revisions, diff, restore.
    Config {
        #[command(subcommand)]
        verb: ConfigVerb,
    },
    /// Signed A/B firmware updates: install a bundle, show the slots.
    Firmware {
        #[command(subcommand)]
        verb: FirmwareVerb,
    },
    /// Certificates of the SMTP (STARTTLS), admin and portal listeners.
    Tls {
        #[command(subcommand)]
        verb: TlsVerb,
    },
    /// The box's network: DHCP or a static address, gateway, DNS, host name.
    Network {
        #[command(subcommand)]
        verb: NetworkVerb,
    },
    /// The box's time: NTP servers, time zone, whether the clock is trusted.
    Time {
        #[command(subcommand)]
        verb: TimeVerb,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot read the API token {0}: {1} (is `segl serve` running with this config?)")]
    Token(PathBuf, std::io::Error),
    #[error("cannot reach the admin API at {0}: {1}")]
    Http(String, String),
    #[error("{0}")]
    Api(String),
    #[error("{0}")]
    Usage(String),
}

/// Run one `segl ctl` verb against the gateway that `args.config` describes.
pub fn run(args: CtlArgs) -> Result<(), CtlError> {
    let cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default_config(),
    };
    let c = client::Client::new(&cfg)?;
    match args.verb {
        Verb::Status { json } => status::status(&c, json),
        Verb::Queue { verb } => queue::queue(&c, verb),
        Verb::User { verb } => user::user(&c, verb),
        Verb::Key { verb } => key::key(&c, verb),
        Verb::Partner { verb } => partner::partner(&c, verb),
        Verb::Trust { verb } => trust::trust(&c, verb),
        Verb::Backup { verb } => backup::backup(&c, verb),
        Verb::Dkim { verb } => dkim::run(&c, verb),
        Verb::Admin { verb } => admin::admin(&c, verb),
        Verb::License { verb } => license::license(&c, verb),
        Verb::Config { verb } => config::run(&c, verb),
        Verb::Firmware { verb } => firmware::firmware(&c, verb),
        Verb::Tls { verb } => tls::tls(&c, verb),
        Verb::Network { verb } => network::network(&c, verb),
        Verb::Time { verb } => network::time(&c, verb),
    }
}
