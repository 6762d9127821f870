//! Stored records and their public views. Records are JSON in the store; private keys inside
//! them are sealed (see `crypt`). Views (`KeyInfo`, `PartnerInfo`, `AnchorInfo`, `CrlInfo`)
//! are what the API returns: stable field names, never key material.

use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use crate::smime::certs;

/// What an own key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// One person's address.
    Individual,
    /// A function mailbox (shared secure mailbox with its own address and id).
    Mailbox,
    /// One certificate for a whole local domain.
    Domain,
}

/// Where an own key's certificate comes from (decides what rollover does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeySource {
    /// Imported from PKCS#12 or PEM (issued by someone else).
    Imported,
    /// Issued by Segl's built-in CA.
    BuiltinCa,
    /// Key made here, certificate from an external CA via CSR.
    ExternalCa,
}

/// Life-cycle state of an own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyState {
    /// Usable; the newest active key of an address signs.
    Active,
    /// Key and CSR made, waiting for the external CA's certificate.
    PendingCertificate,
    /// Replaced by a successor; still decrypts.
    Superseded,
    /// Expired for longer than `keep_old_days`: offered nowhere, still decrypts old mail.
    Archived,
}

/// One own key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub purpose: Purpose,
    /// Function-mailbox id (purpose mailbox).
    pub mailbox: Option<String>,
    /// Local domain (purpose domain).
    pub domain: Option<String>,
    /// Addresses the key serves (lower case).
    pub addresses: Vec<String>,
    pub source: KeySource,
    pub state: KeyState,
    /// Certificate DER (absent while waiting for an external CA).
    pub cert: Option<Vec<u8>>,
    /// Chain certificates DER.
    pub chain: Vec<Vec<u8>>,
    /// The CSR (PEM) for an external CA.
    pub csr_pem: Option<String>,
    /// PKCS#8, sealed under the KEK with the id as associated data.
    pub sealed_key: Vec<u8>,
    /// Unix seconds.
    pub created: i64,
    /// Validity of the certificate, unix seconds (0 while pending).
    pub not_before: i64,
    pub not_after: i64,
    /// The key that replaced this one at rollover.
    pub successor: Option<String>,
    /// What the administrator must do (e.g. have a renewal CSR signed).
    pub pending_action: Option<String>,
}

/// Public view of an own key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: String,
    pub purpose: Purpose,
    pub mailbox: Option<String>,
    pub domain: Option<String>,
    pub addresses: Vec<String>,
    pub source: KeySource,
    pub state: KeyState,
    /// Whether this key is the current signing key of its addresses.
    pub signing: bool,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub fingerprint_sha256: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub successor: Option<String>,
    pub pending_action: Option<String>,
    pub csr_pem: Option<String>,
}

/// How a partner certificate came to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PartnerSource {
    Imported,
    Harvested,
    Ldap,
}

/// A partner (or partner-domain) certificate as stored; also the API view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerRecord {
    /// SHA-256 fingerprint prefix of the certificate (stable, deduplicates).
    pub id: String,
    /// Addresses from the certificate (lower case); empty for a domain certificate.
    pub addresses: Vec<String>,
    /// Set for a partner domain certificate.
    pub domain: Option<String>,
    pub enabled: bool,
    /// Waits for administrator approval before it is used.
    pub pending: bool,
    pub source: PartnerSource,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// Allows keyEncipherment (usable for encryption).
    pub encryption_capable: bool,
    pub added: i64,
    /// For a harvested certificate: the sender address of the signed mail it came with (the
    /// approvals page shows it with the date, `added`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harvested_from: Option<String>,
    #[serde(with = "b64")]
    pub cert: Vec<u8>,
}

/// A trust anchor as stored; also the API view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnchorRecord {
    pub id: String,
    pub subject: String,
    pub not_after: String,
    /// "imported" or "builtin_ca".
    pub source: String,
    #[serde(with = "b64")]
    pub cert: Vec<u8>,
}

/// A CRL as stored; also the API view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrlRecord {
    pub id: String,
    pub issuer: String,
    pub this_update: String,
    pub next_update: Option<String>,
    pub revoked: usize,
    /// Where it was fetched from ("" when imported).
    pub url: String,
    pub fetched: i64,
    #[serde(with = "b64")]
    pub der: Vec<u8>,
}

pub(crate) mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// Unix seconds now ([`crate::clock::unix_now`]).
pub fn now() -> i64 {
    crate::clock::unix_now()
}

/// RFC 3339-ish UTC text for unix seconds.
pub fn iso(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// Validity of a certificate in unix seconds.
pub fn validity(cert: &Certificate) -> (i64, i64) {
    let v = cert.tbs_certificate().validity();
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    };
    (
        secs(v.not_before.to_system_time()),
        secs(v.not_after.to_system_time()),
    )
}

/// SHA-256 of the DER, hex.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Lower-cased mail addresses of a certificate, deduplicated.
pub fn cert_addresses(cert: &Certificate) -> Vec<String> {
    let mut v: Vec<String> = certs::email_addresses(cert)
        .into_iter()
        .map(|a| crate::address::normalize(&a))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Serial number as hex.
pub fn serial_hex(cert: &Certificate) -> String {
    cert.tbs_certificate()
        .serial_number()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
