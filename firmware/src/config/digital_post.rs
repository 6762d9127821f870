//! `[digital_post]`: distribution of mail forwarded from Danish Digital Post by its `X-DPI-*`
//! metadata headers.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::parse::parse_fingerprint;
use super::validate::{bad, Invalid};

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

impl DigitalPostConfig {
    /// The SHA-256 fingerprints of `sender_certificates`: `sha256:` entries as they are, PEM
    /// files (relative to `base`) read and hashed. The error is a message for the person.
    pub(super) fn read_fingerprints(&self, base: &Path) -> Result<Vec<[u8; 32]>, String> {
        use sha2::Digest;
        let mut fps = vec![];
        for entry in &self.sender_certificates {
            if let Some(hex) = entry.trim().strip_prefix("sha256:") {
                fps.push(parse_fingerprint(hex).ok_or_else(|| {
                    format!("{entry:?}: a SHA-256 fingerprint has 64 hex digits")
                })?);
                continue;
            }
            let file = base.join(entry.trim());
            let pem =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let certs = crate::smime::certs::parse_pem_chain(&pem)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no certificate", file.display()));
            }
            for c in certs {
                let der =
                    der::Encode::to_der(&c).map_err(|e| format!("{}: {e}", file.display()))?;
                fps.push(sha2::Sha256::digest(&der).into());
            }
        }
        Ok(fps)
    }
}

const NOT_LOCAL: &str = "is not a local recipient (relay.local_domains / relay.local_recipients)";

impl DigitalPostConfig {
    /// The section's rules; `is_local` says whether an address is a local recipient (rules
    /// deliver only to those), which needs the relay section.
    pub(super) fn validate(&self, is_local: impl Fn(&str) -> bool) -> Result<(), Invalid> {
        for e in &self.sender_certificates {
            if let Some(hex) = e.trim().strip_prefix("sha256:") {
                if parse_fingerprint(hex).is_none() {
                    return Err(bad(
                        "digital_post.sender_certificates",
                        format!("{e:?}: a SHA-256 fingerprint has 64 hex digits"),
                    ));
                }
            }
        }
        for c in &self.company_keys {
            if !c.contains('@') {
                return Err(bad(
                    "digital_post.company_keys",
                    format!("{c:?}: use a full address or @domain"),
                ));
            }
        }
        if !self.rules.is_empty() && self.sender_certificates.is_empty() {
            return Err(bad(
                "digital_post.rules",
                "rules need digital_post.sender_certificates (only mail signed by Digital Post is routed)",
            ));
        }
        for a in &self.default_deliver_to {
            if !is_local(a) {
                return Err(bad(
                    "digital_post.default_deliver_to",
                    format!("{a:?} {NOT_LOCAL}"),
                ));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            r.validate(i + 1, &is_local)?;
        }
        Ok(())
    }
}

impl DigitalPostRule {
    /// Rule number `n` matches one X-DPI-* header by exactly one of equals/contains and
    /// delivers to local recipients only.
    fn validate(&self, n: usize, is_local: impl Fn(&str) -> bool) -> Result<(), Invalid> {
        let h = self.header.trim();
        let dpi = h.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("X-DPI-"));
        if h.len() <= 6 || !dpi || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(bad(
                "digital_post.rules",
                format!(
                    "rule {n}: header {:?} must be an X-DPI-* header name",
                    self.header
                ),
            ));
        }
        match (&self.equals, &self.contains) {
            (Some(v), None) | (None, Some(v)) if !v.trim().is_empty() => {}
            _ => {
                return Err(bad(
                    "digital_post.rules",
                    format!("rule {n} ({h}): give exactly one of equals or contains"),
                ))
            }
        }
        if self.deliver_to.is_empty() {
            return Err(bad(
                "digital_post.rules",
                format!("rule {n} ({h}): deliver_to is empty"),
            ));
        }
        for a in &self.deliver_to {
            if !is_local(a) {
                return Err(bad(
                    "digital_post.rules",
                    format!("rule {n} ({h}): {a:?} {NOT_LOCAL}"),
                ));
            }
        }
        Ok(())
    }
}
