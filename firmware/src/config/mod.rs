//! Typed configuration with an embedded, commented default.
//!
//! The key names are an interface (DESIGN.md §11): tests, the CLI and administrators depend on them.
//! The default text (`default.toml`) is both what `segl config default` prints and what
//! `segl serve` runs when no file is given, so the two can never drift apart.
//!
//! One file per section (`[smtp]` is [`smtp`], …) holds its schema and its own validation;
//! [`load`] lays a file over the defaults, [`validate`] runs the sections' checks and the rules
//! that span sections, [`parse`] has the parsers the rest of the firmware shares.

mod admin;
mod authres;
mod delivery;
mod digital_post;
mod dkim;
mod encrypt;
mod harvest;
mod keystore;
mod license;
mod live;
mod load;
mod log;
mod lookup;
mod mailboxes;
mod mark;
mod notify;
mod parse;
mod portal;
mod relay;
mod sign;
mod smtp;
mod storage;
mod switches;
mod validate;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use admin::AdminConfig;
pub use authres::AuthResConfig;
pub use delivery::{DeliveryConfig, TlsLevel};
pub use digital_post::{DigitalPostConfig, DigitalPostRule};
pub use dkim::{DkimConfig, DkimSignMode};
pub use encrypt::EncryptConfig;
pub use harvest::{HarvestConfig, HarvestMode};
pub use keystore::KeystoreConfig;
pub use license::LicenseConfig;
pub use live::{Live, LiveConfig};
pub use log::LogConfig;
pub use lookup::LookupConfig;
pub use mailboxes::MailboxConfig;
pub use mark::{Language, MarkConfig};
pub use notify::NotifyConfig;
pub use parse::{is_domain, parse_dns_server, parse_host_port, parse_listen};
pub use portal::PortalConfig;
pub use relay::RelayConfig;
pub use sign::SignConfig;
pub use smtp::{BareLf, SmtpConfig, TlsConfig};
pub use storage::{SpoolLayout, StorageConfig};
pub use switches::StageSwitch;

/// The embedded default configuration, every key commented.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: invalid value for {key}: {message}")]
    Invalid {
        path: String,
        key: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub smtp: SmtpConfig,
    pub relay: RelayConfig,
    pub delivery: DeliveryConfig,
    pub sign: SignConfig,
    pub storage: StorageConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub keystore: KeystoreConfig,
    pub encrypt: EncryptConfig,
    pub harvest: HarvestConfig,
    pub mark: MarkConfig,
    pub notify: NotifyConfig,
    pub license: LicenseConfig,
    pub dkim: DkimConfig,
    pub authres: AuthResConfig,
    pub digital_post: DigitalPostConfig,
    pub lookup: LookupConfig,
    /// `[verify] enabled`: inbound signature verification on or off.
    pub verify: StageSwitch,
    /// `[decrypt] enabled`: inbound decryption on or off.
    pub decrypt: StageSwitch,
    pub portal: PortalConfig,
    /// Function mailboxes by id (`[mailboxes.advokatkontoret]`).
    pub mailboxes: std::collections::BTreeMap<String, MailboxConfig>,
}

impl Config {
    /// `domain` is one of `relay.local_domains` (ASCII case-insensitive).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.relay
            .local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn embedded_default_parses_and_validates() {
        let c = Config::parse(DEFAULT_TOML, "default").unwrap();
        assert_eq!(c.smtp.listen, vec!["127.0.0.1:2525"]);
        assert_eq!(c.smtp.submission_listen, vec!["127.0.0.1:2587"]);
        assert_eq!(c.storage.data_dir, PathBuf::from("./segl-data"));
        assert_eq!(c.admin.listen, "127.0.0.1:8080");
        assert_eq!(c.delivery.inbound_next_hop, "127.0.0.1:2526");
        assert!(c.delivery.outbound_smarthost.is_empty());
        assert_eq!(c.smtp.hop_limit, 30);
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let c = Config::parse("[smtp]\nhostname = \"gw.example.org\"\n", "t").unwrap();
        assert_eq!(c.smtp.hostname, "gw.example.org");
        assert_eq!(c.smtp.max_message_size, 52428800);
        assert_eq!(c.relay.local_domains, vec!["example.org"]);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Config::parse("[smtp]\nlisten_typo = []\n", "t").unwrap_err();
        assert!(e.to_string().contains("listen_typo"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::parse("[smtp]\nlisten = [\"nope\"]\n", "f.toml").unwrap_err();
        assert!(e.to_string().contains("smtp.listen"), "{e}");
        let e = Config::parse("[relay]\ntrusted_networks = [\"10.0.0.0/33\"]\n", "f").unwrap_err();
        assert!(e.to_string().contains("trusted_networks"), "{e}");
    }

    #[test]
    fn mailboxes_parse_and_validate() {
        let c = Config::default_config();
        assert!(c.mailboxes.is_empty());
        assert!(!c.notify.send_receipt);
        let c = Config::parse(
            "[mailboxes.advokatkontoret]\naddress = \"adv@example.org\"\nsenders = [\"a@example.org\", \"@example.org\"]\n",
            "t",
        )
        .unwrap();
        let mb = &c.mailboxes["advokatkontoret"];
        assert_eq!(mb.address, "adv@example.org");
        assert!(mb.name.is_empty());
        let e = Config::parse("[mailboxes.x]\naddress = \"nope\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("mailboxes.address"), "{e}");
        let e = Config::parse("[mailboxes.\"a b\"]\naddress = \"a@b.c\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("mailboxes"), "{e}");
    }

    #[test]
    fn digital_post_rule_header_with_non_ascii_is_an_error_not_a_panic() {
        let text = "[digital_post]\nsender_certificates = [\"sha256:00000000000000000000000000000000000000000000000000000000000000aa\"]\n[[digital_post.rules]]\nheader = \"X-DP\u{e9}Emne\"\nequals = \"x\"\ndeliver_to = [\"a@example.org\"]\n";
        let e = Config::parse(text, "t").unwrap_err();
        assert!(e.to_string().contains("digital_post.rules"), "{e}");
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(
            parse_host_port("mx.example.org", 25).unwrap(),
            ("mx.example.org".into(), 25)
        );
        assert_eq!(
            parse_host_port("127.0.0.1:2526", 25).unwrap(),
            ("127.0.0.1".into(), 2526)
        );
        assert_eq!(parse_host_port("[::1]:26", 25).unwrap(), ("::1".into(), 26));
        assert!(parse_host_port("bad host:1", 25).is_err());
    }
}
