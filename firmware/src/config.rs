//! Typed configuration with an embedded, commented default.
//!
//! The key names are an interface (DESIGN.md §11): tests, the CLI and administrators depend on them.
//! The default text below is both what `segl config default` prints and what `segl serve` runs when
//! no file is given, so the two can never drift apart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The embedded default configuration, every key commented.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

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
    pub dkim: DkimConfig,
    pub digital_post: DigitalPostConfig,
    pub lookup: LookupConfig,
    /// Function mailboxes by id (`[mailboxes.advokatkontoret]`).
    pub mailboxes: std::collections::BTreeMap<String, MailboxConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// One address or a list (`"127.0.0.1:2525"` or `["0.0.0.0:25", "[::]:25"]`).
    #[serde(deserialize_with = "one_or_many")]
    pub listen: Vec<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub submission_listen: Vec<String>,
    pub hostname: String,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub command_timeout_secs: u64,
    pub data_timeout_secs: u64,
    pub max_errors: u32,
    pub hop_limit: usize,
    /// "normalize" (bare LF becomes CRLF, never ends DATA) or "reject" (554 after DATA).
    pub bare_lf: BareLf,
    pub tls: TlsConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BareLf {
    Normalize,
    Reject,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    pub trusted_networks: Vec<IpNet>,
    pub local_domains: Vec<String>,
    /// Accepted inbound recipients: full addresses or `@domain` for a whole domain. Empty: any.
    pub local_recipients: Vec<String>,
    /// Ask `delivery.inbound_next_hop` at RCPT time whether a local recipient exists.
    pub recipient_callout: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    pub inbound_next_hop: String,
    pub outbound_smarthost: String,
    pub dns_servers: Vec<String>,
    pub mx_port: u16,
    pub require_tls_domains: Vec<String>,
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    pub max_queue_lifetime_secs: u64,
    pub max_concurrency: usize,
    pub connect_timeout_secs: u64,
    pub command_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignConfig {
    pub trusted_relays: Vec<IpNet>,
    pub keys_without_auth: Vec<String>,
    /// Subject tags that suppress signing for one mail (removed from the subject).
    pub nosign_tags: Vec<String>,
}

/// `[encrypt]`: mandatory encryption and the sender's own copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptConfig {
    /// Recipients (`user@domain`) and domains (`@domain`) that must always get encrypted mail.
    pub always: Vec<String>,
    /// Encrypt to the sender's own certificate too, so the sender can read the sent copy.
    pub include_sender: bool,
    /// Subject tags that make encryption mandatory for one mail (removed from the subject).
    pub tags: Vec<String>,
}

/// `[notify]`: messages Segl sends to the organisation's own users.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Send the employee a receipt when secure mail left as a function mailbox.
    pub send_receipt: bool,
}

/// Language of the texts Segl writes for people (`mark.language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    En,
    /// Danish.
    Da,
    /// German.
    De,
}

/// `[dkim]`: DKIM on the outbound path (the last stage, `policy::finish`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// Remove upstream DKIM-Signature fields from mail whose content Segl changed.
    pub remove_invalidated: bool,
}

/// `[lookup]`: recipient certificates from LDAP directories (after the local store).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// `ldap://host[:port][/base DN]` or `ldaps://…`, asked in order until one answers.
    pub ldap: Vec<String>,
    /// Search base; empty: the URL's DN, else the server's first naming context.
    pub base_dn: String,
    /// Search filter; `{address}` becomes the RFC 4515-escaped recipient address.
    pub filter: String,
    /// Attributes holding certificates (DER).
    pub attributes: Vec<String>,
    /// Bind DN; empty: anonymous.
    pub bind_dn: String,
    /// File holding the bind password (first line).
    pub bind_password_file: String,
    /// Connect and search timeout, seconds.
    pub timeout_secs: u64,
    /// Use a found certificate this long before asking the directory again, hours.
    pub cache_hours: u64,
    /// Do not ask again for an address without a result for this long, minutes.
    pub negative_cache_minutes: u64,
    /// Use only certificates that chain to a trust anchor (`segl ctl trust import`).
    pub require_trusted_chain: bool,
}

/// `[digital_post]`: distribution of mail forwarded from Danish Digital Post (virk.dk) by its
/// `X-DPI-*` metadata headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalPostConfig {
    /// The Digital Post sender certificate(s): PEM file paths, or `sha256:<hex>` fingerprints.
    pub sender_certificates: Vec<String>,
    /// Own keys that count as the company key (addresses, `@domain`); empty: domain keys.
    pub company_keys: Vec<String>,
    /// Recipients of trusted Digital Post mail that matches no rule; empty: as addressed.
    pub default_deliver_to: Vec<String>,
    pub rules: Vec<DigitalPostRule>,
    /// SHA-256 of the sender certificates (DER), from `sender_certificates` at load time.
    #[serde(skip)]
    pub sender_fingerprints: Vec<[u8; 32]>,
}

/// One `[[digital_post.rules]]` entry: when header `header` matches, deliver to `deliver_to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalPostRule {
    /// An `X-DPI-*` header name (case-insensitive).
    pub header: String,
    /// The value equals this (trimmed, case-insensitive).
    #[serde(default)]
    pub equals: Option<String>,
    /// The value contains this (case-insensitive).
    #[serde(default)]
    pub contains: Option<String>,
    /// Local recipients that get the mail instead of the addressed ones.
    pub deliver_to: Vec<String>,
}

/// `[mailboxes.<id>]`: a function mailbox (shared secure mailbox with its own key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// The mailbox's address (the address in its certificate).
    pub address: String,
    /// Display name for the rewritten From; empty: the sender's display name is kept.
    #[serde(default)]
    pub name: String,
    /// Who may send as this mailbox: addresses (`user@domain`) and domains (`@domain`).
    #[serde(default)]
    pub senders: Vec<String>,
}

/// What happens to certificates of valid inbound signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HarvestMode {
    /// Stored and used at once.
    Auto,
    /// Stored as pending until an administrator approves it.
    Manual,
    /// Not stored.
    Off,
}

/// `[harvest]`: certificates from inbound signatures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarvestConfig {
    pub mode: HarvestMode,
}

/// `[mark]`: subject prefixes for the reader of inbound mail (empty: no prefix).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkConfig {
    /// Language of the texts for people: proof and warning parts, notices, receipts.
    pub language: Language,
    pub signed: String,
    pub invalid: String,
    pub untrusted: String,
    pub encrypted: String,
    pub decrypt_failed: String,
    /// Prefix for a valid signature by a domain certificate; `{domain}` is replaced by the
    /// sender's domain.
    pub domain_signed: String,
    /// Wrap verified mail with a `signatur-bevis.txt` part (what was checked, and the result).
    pub proof_part: bool,
    /// Wrap mail with a security problem with an `Advarsel.txt` part explaining it.
    pub warning_part: bool,
}

impl MarkConfig {
    /// Every configured prefix (for stripping forged or replied-to markings).
    pub fn prefixes(&self) -> Vec<&str> {
        [
            &self.signed,
            &self.invalid,
            &self.untrusted,
            &self.encrypted,
            &self.decrypt_failed,
        ]
        .into_iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect()
    }

    /// The domain-signature prefix for `domain`.
    pub fn domain_prefix(&self, domain: &str) -> String {
        self.domain_signed.replace("{domain}", domain)
    }

    /// Removes every configured prefix from `subject`, the domain-signature prefix for any
    /// domain included (so none of them can be forged or survive in a reply).
    pub fn strip(&self, subject: &str) -> String {
        let mut t = subject.to_string();
        for p in self.prefixes() {
            t = crate::policy::fields::remove_tag(&t, p).0;
        }
        crate::policy::fields::remove_template(&t, self.domain_signed.trim(), "{domain}")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Refuse new mail (452 4.3.1) when less than this many MiB are free in the data dir.
    pub min_free_mb: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: String,
    /// HTTPS certificate and key (PEM) of the web admin; empty: a self-signed pair made in the
    /// data dir. Unused on a loopback listener (plain HTTP) unless set.
    #[serde(default)]
    pub tls_cert: String,
    #[serde(default)]
    pub tls_key: String,
}

/// `[keystore]`: own keys, partner certificates, trust anchors, CRLs, rollover.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreConfig {
    /// Roll over own keys whose certificate expires within this many days.
    pub rollover_days: u32,
    /// Archive old keys this many days after their certificate expired (still decrypting).
    pub keep_old_days: u32,
    /// Empty: private keys are sealed under `<data_dir>/keystore/device.key`; otherwise under a
    /// key derived from the passphrase in this file.
    pub passphrase_file: String,
    /// Fetch CRLs from the certificates' distribution points this often (0: never).
    pub crl_refresh_hours: u32,
    /// Validity of certificates issued by the built-in CA (days).
    pub cert_days: u32,
    /// Validity of the built-in CA certificate (days).
    pub ca_days: u32,
    /// Name of the built-in CA (the host name is appended).
    pub ca_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub json: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) if s.is_empty() => vec![],
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Overlay `over` onto `base`: tables merge key by key, everything else (arrays too) replaces.
/// 64 hex digits (colons and spaces allowed) as 32 bytes.
fn parse_fingerprint(hex: &str) -> Option<[u8; 32]> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b":  ".contains(b)).collect();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Config {
    /// The embedded default configuration.
    pub fn default_config() -> Config {
        match Config::parse("", "embedded default") {
            Ok(c) => c,
            // The embedded file is checked by a unit test; a built binary cannot reach this.
            Err(e) => panic!("embedded default configuration is invalid: {e}"),
        }
    }

    /// Read and validate a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Config::parse(&text, &path.display().to_string())?;
        // A relative data_dir is relative to the config file, so `--config` works from anywhere.
        let base = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = base {
            if cfg.storage.data_dir.is_relative() {
                cfg.storage.data_dir = parent.join(&cfg.storage.data_dir);
            }
        }
        cfg.load_files(base.unwrap_or(Path::new(".")), &path.display().to_string())?;
        Ok(cfg)
    }

    /// Parse and validate configuration text; `origin` names it in error messages.
    /// Keys the text leaves out keep their embedded default.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let perr = |message: String| ConfigError::Parse {
            path: origin.to_string(),
            message,
        };
        let mut base: toml::Table =
            toml::from_str(DEFAULT_TOML).map_err(|e| perr(format!("embedded default: {e}")))?;
        let over: toml::Table = toml::from_str(text).map_err(|e| perr(e.to_string()))?;
        merge(&mut base, over);
        let cfg: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| perr(e.to_string()))?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Reads the files the configuration names (relative to `base`, the config file's folder):
    /// the Digital Post sender certificates; resolves the LDAP bind password file's path (the
    /// password itself is read by the directory client and never kept in the configuration). A file that cannot be read or parsed is an error
    /// of the configuration, reported at load (`segl config check`), not at the first mail.
    pub fn load_files(&mut self, base: &Path, origin: &str) -> Result<(), ConfigError> {
        use sha2::Digest;
        let bad = |message: String| ConfigError::Invalid {
            path: origin.to_string(),
            key: "digital_post.sender_certificates",
            message,
        };
        let pw = self.lookup.bind_password_file.trim();
        if !pw.is_empty() && Path::new(pw).is_relative() {
            self.lookup.bind_password_file = base.join(pw).to_string_lossy().into_owned();
        }
        let mut fps = vec![];
        for entry in &self.digital_post.sender_certificates {
            if let Some(hex) = entry.trim().strip_prefix("sha256:") {
                fps.push(parse_fingerprint(hex).ok_or_else(|| {
                    bad(format!(
                        "{entry:?}: a SHA-256 fingerprint has 64 hex digits"
                    ))
                })?);
                continue;
            }
            let file = base.join(entry.trim());
            let pem = std::fs::read(&file)
                .map_err(|e| bad(format!("cannot read {}: {e}", file.display())))?;
            let certs = crate::smime::certs::parse_pem_chain(&pem)
                .map_err(|e| bad(format!("{}: {e}", file.display())))?;
            if certs.is_empty() {
                return Err(bad(format!("{}: no certificate", file.display())));
            }
            for c in certs {
                let der =
                    der::Encode::to_der(&c).map_err(|e| bad(format!("{}: {e}", file.display())))?;
                fps.push(sha2::Sha256::digest(&der).into());
            }
        }
        self.digital_post.sender_fingerprints = fps;
        Ok(())
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::Invalid {
            path: origin.to_string(),
            key,
            message,
        };
        for a in &self.smtp.listen {
            parse_listen(a).map_err(|m| bad("smtp.listen", m))?;
        }
        for a in &self.smtp.submission_listen {
            parse_listen(a).map_err(|m| bad("smtp.submission_listen", m))?;
        }
        if self.smtp.listen.is_empty() && self.smtp.submission_listen.is_empty() {
            return Err(bad(
                "smtp.listen",
                "no SMTP listener configured (smtp.listen and smtp.submission_listen are empty)"
                    .into(),
            ));
        }
        parse_listen(&self.admin.listen).map_err(|m| bad("admin.listen", m))?;
        if self.admin.tls_cert.is_empty() != self.admin.tls_key.is_empty() {
            return Err(bad(
                "admin.tls_cert",
                "set admin.tls_cert and admin.tls_key together".into(),
            ));
        }
        if self.smtp.hostname.trim().is_empty() || self.smtp.hostname.contains(char::is_whitespace)
        {
            return Err(bad("smtp.hostname", "must be a host name".into()));
        }
        if self.smtp.max_message_size < 1024 {
            return Err(bad("smtp.max_message_size", "must be at least 1024".into()));
        }
        if self.smtp.max_recipients == 0 {
            return Err(bad("smtp.max_recipients", "must be at least 1".into()));
        }
        if self.smtp.max_connections == 0 {
            return Err(bad("smtp.max_connections", "must be at least 1".into()));
        }
        if self.smtp.tls.cert.is_empty() != self.smtp.tls.key.is_empty() {
            return Err(bad(
                "smtp.tls",
                "cert and key must both be set or both be empty".into(),
            ));
        }
        for d in &self.relay.local_domains {
            if !is_domain(d) {
                return Err(bad("relay.local_domains", format!("{d:?} is not a domain")));
            }
        }
        for r in &self.relay.local_recipients {
            if !r.contains('@') {
                return Err(bad(
                    "relay.local_recipients",
                    format!("{r:?}: use a full address or @domain"),
                ));
            }
        }
        if !self.delivery.inbound_next_hop.is_empty() {
            parse_host_port(&self.delivery.inbound_next_hop, 25)
                .map_err(|m| bad("delivery.inbound_next_hop", m))?;
        } else if !self.relay.local_domains.is_empty() {
            return Err(bad(
                "delivery.inbound_next_hop",
                "must be set when relay.local_domains is not empty".into(),
            ));
        }
        if self.relay.recipient_callout && self.delivery.inbound_next_hop.is_empty() {
            return Err(bad(
                "relay.recipient_callout",
                "needs delivery.inbound_next_hop".into(),
            ));
        }
        if !self.delivery.outbound_smarthost.is_empty() {
            parse_host_port(&self.delivery.outbound_smarthost, 25)
                .map_err(|m| bad("delivery.outbound_smarthost", m))?;
        }
        for s in &self.delivery.dns_servers {
            parse_dns_server(s).map_err(|m| bad("delivery.dns_servers", m))?;
        }
        if self.delivery.retry_initial_secs == 0
            || self.delivery.retry_max_secs < self.delivery.retry_initial_secs
        {
            return Err(bad(
                "delivery.retry_initial_secs",
                "must be > 0 and not above delivery.retry_max_secs".into(),
            ));
        }
        if self.delivery.max_concurrency == 0 {
            return Err(bad("delivery.max_concurrency", "must be at least 1".into()));
        }
        for k in &self.sign.keys_without_auth {
            if k.trim().is_empty() {
                return Err(bad("sign.keys_without_auth", "empty entry".into()));
            }
        }
        for a in &self.encrypt.always {
            let ok = match a.rsplit_once('@') {
                Some((_, d)) => is_domain(d),
                None => false,
            };
            if !ok {
                return Err(bad(
                    "encrypt.always",
                    format!("{a:?}: use a full address or @domain"),
                ));
            }
        }
        for (id, mb) in &self.mailboxes {
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(bad(
                    "mailboxes",
                    format!("{id:?}: a mailbox id is letters, digits, '-', '_' and '.'"),
                ));
            }
            let ok = match mb.address.trim().rsplit_once('@') {
                Some((l, d)) => !l.is_empty() && is_domain(d),
                None => false,
            };
            if !ok {
                return Err(bad(
                    "mailboxes.address",
                    format!("mailbox {id}: {:?} is not a mail address", mb.address),
                ));
            }
            for a in &mb.senders {
                let ok = match a.trim().rsplit_once('@') {
                    Some((_, d)) => is_domain(d),
                    None => false,
                };
                if !ok {
                    return Err(bad(
                        "mailboxes.senders",
                        format!("mailbox {id}: {a:?}: use a full address or @domain"),
                    ));
                }
            }
            if mb.name.contains(['\r', '\n']) {
                return Err(bad(
                    "mailboxes.name",
                    format!("mailbox {id}: the name must be one line"),
                ));
            }
        }
        for u in &self.lookup.ldap {
            let ok = url::Url::parse(u)
                .ok()
                .is_some_and(|p| matches!(p.scheme(), "ldap" | "ldaps") && p.host_str().is_some());
            if !ok {
                return Err(bad(
                    "lookup.ldap",
                    format!("{u:?}: use ldap://host[:port][/base DN] or ldaps://…"),
                ));
            }
        }
        if !self.lookup.filter.contains("{address}") {
            return Err(bad(
                "lookup.filter",
                "must contain {address} (e.g. \"(mail={address})\")".into(),
            ));
        }
        if self.lookup.timeout_secs == 0 {
            return Err(bad("lookup.timeout_secs", "must be at least 1".into()));
        }
        if self.lookup.bind_dn.is_empty() != self.lookup.bind_password_file.is_empty() {
            return Err(bad(
                "lookup.bind_dn",
                "bind_dn and bind_password_file must both be set or both be empty".into(),
            ));
        }
        self.validate_digital_post()
            .map_err(|(key, m)| bad(key, m))?;
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(bad("storage.data_dir", "must not be empty".into()));
        }
        if self.keystore.cert_days == 0 || self.keystore.ca_days <= self.keystore.cert_days {
            return Err(bad(
                "keystore.cert_days",
                "must be at least 1 and below keystore.ca_days".into(),
            ));
        }
        if self.keystore.cert_days <= self.keystore.rollover_days {
            return Err(bad(
                "keystore.rollover_days",
                "must be below keystore.cert_days (or every new key would roll over at once)"
                    .into(),
            ));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(bad(
                "log.level",
                "one of error, warn, info, debug, trace".into(),
            ));
        }
        Ok(())
    }

    /// Digital Post rules deliver only to local recipients, and match only X-DPI-* headers.
    fn validate_digital_post(&self) -> Result<(), (&'static str, String)> {
        let dp = &self.digital_post;
        for e in &dp.sender_certificates {
            if let Some(hex) = e.trim().strip_prefix("sha256:") {
                if parse_fingerprint(hex).is_none() {
                    return Err((
                        "digital_post.sender_certificates",
                        format!("{e:?}: a SHA-256 fingerprint has 64 hex digits"),
                    ));
                }
            }
        }
        for c in &dp.company_keys {
            if !c.contains('@') {
                return Err((
                    "digital_post.company_keys",
                    format!("{c:?}: use a full address or @domain"),
                ));
            }
        }
        if !dp.rules.is_empty() && dp.sender_certificates.is_empty() {
            return Err((
                "digital_post.rules",
                "rules need digital_post.sender_certificates (only mail signed by Digital Post is routed)".into(),
            ));
        }
        let local = |a: &str| -> bool {
            let a = a.trim().to_ascii_lowercase();
            let Some((l, d)) = a.rsplit_once('@') else {
                return false;
            };
            !l.is_empty()
                && self.is_local_domain(d)
                && (self.relay.local_recipients.is_empty()
                    || self.relay.local_recipients.iter().any(|r| {
                        let r = r.trim().to_ascii_lowercase();
                        r == a || r.strip_prefix('@') == Some(d)
                    }))
        };
        for a in &dp.default_deliver_to {
            if !local(a) {
                return Err((
                    "digital_post.default_deliver_to",
                    format!("{a:?} is not a local recipient (relay.local_domains / relay.local_recipients)"),
                ));
            }
        }
        for (i, r) in dp.rules.iter().enumerate() {
            let n = i + 1;
            let h = r.header.trim();
            if h.len() <= 6
                || !h[..6].eq_ignore_ascii_case("X-DPI-")
                || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err((
                    "digital_post.rules",
                    format!(
                        "rule {n}: header {:?} must be an X-DPI-* header name",
                        r.header
                    ),
                ));
            }
            match (&r.equals, &r.contains) {
                (Some(v), None) | (None, Some(v)) if !v.trim().is_empty() => {}
                _ => {
                    return Err((
                        "digital_post.rules",
                        format!("rule {n} ({h}): give exactly one of equals or contains"),
                    ))
                }
            }
            if r.deliver_to.is_empty() {
                return Err((
                    "digital_post.rules",
                    format!("rule {n} ({h}): deliver_to is empty"),
                ));
            }
            for a in &r.deliver_to {
                if !local(a) {
                    return Err((
                        "digital_post.rules",
                        format!("rule {n} ({h}): {a:?} is not a local recipient (relay.local_domains / relay.local_recipients)"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.relay
            .local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    pub fn requires_tls(&self, domain: &str) -> bool {
        self.delivery
            .require_tls_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// A listener address: `host:port` with an IP literal (`[::1]:25` for IPv6).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .map_err(|_| format!("{s:?} is not an address like 127.0.0.1:2525"))
}

/// A next hop: `host`, `host:port`, `[ipv6]:port`; `port` defaults to `default_port`.
pub fn parse_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty".into());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((sa.ip().to_string(), sa.port()));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: unclosed ["))?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("{s:?}: bad port"))?,
            None if port.is_empty() => default_port,
            None => return Err(format!("{s:?}: junk after ]")),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port.parse().map_err(|_| format!("{s:?}: bad port"))?;
            if !is_domain(host) && host.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("{s:?}: bad host"));
            }
            Ok((host.to_string(), port))
        }
        _ => {
            if !is_domain(s) && s.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("{s:?}: bad host"));
            }
            Ok((s.to_string(), default_port))
        }
    }
}

/// A DNS server: an IP, or `ip:port` for a resolver on another port (tests use a loopback one).
pub fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not an IP address or ip:port"))
}

/// A syntactically plausible domain name (letters, digits, hyphens, dots; no empty labels).
pub fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
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
