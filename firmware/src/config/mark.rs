//! `[mark]`: subject prefixes and the language of the texts for people. How the prefixes are
//! applied and removed is policy (`policy::marks`); this is only what is configured.

use serde::{Deserialize, Serialize};

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
}
