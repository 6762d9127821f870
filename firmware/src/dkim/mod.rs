//! DKIM signing of outbound mail (RFC 6376), the very last outbound stage.
//!
//! Segl changes every mail it signs or encrypts, so the internal server's DKIM signature no
//! longer verifies and is removed (`dkim.remove_invalidated`). Without a signature of our own a
//! domain with a DMARC policy of `quarantine` or `reject` depends on SPF alone, which forwarding
//! breaks; so Segl signs what leaves, after S/MIME, over exactly the bytes that are queued.
//!
//! - [`key`]: RSA-2048 (`rsa-sha256`) and Ed25519 (`ed25519-sha256`, RFC 8463) key pairs, made
//!   here with aws-lc-rs or imported from PEM, always kept as PKCS#8. The keystore seals them at
//!   rest like every other private key (`keystore::dkim`).
//! - [`record`]: the DNS TXT record to publish for a key (`<selector>._domainkey.<domain>`).
//! - [`sign`]: the signature itself, made by the `mail-auth` crate (relaxed/relaxed, the
//!   configured header list, oversigning, `t=` and an optional `x=`).

pub mod key;
pub mod record;
pub mod sign;

pub use key::{Algorithm, KeyMaterial, SigningKey};

/// What can go wrong with DKIM keys and signatures. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// The key file is not a PEM private key we can read.
    #[error("cannot read the DKIM key: {0}")]
    BadKey(String),
    /// The key is of a type or size DKIM (or Segl) does not sign with.
    #[error("unsupported DKIM key: {0}")]
    Unsupported(String),
    /// The crypto library failed to make a key or a signature.
    #[error("DKIM crypto: {0}")]
    Crypto(String),
    /// A domain or selector that cannot be a DNS name.
    #[error("invalid {what} {value:?}: {why}")]
    Name {
        what: &'static str,
        value: String,
        why: &'static str,
    },
}

/// Checks one DNS name (a domain, or a selector which may have dots, RFC 6376 §3.1) and
/// returns it in lower case. Only ASCII (A-labels): DKIM's `d=` and `s=` are DNS names as
/// published, and an internationalised domain is given as `xn--…`.
pub fn dns_name(what: &'static str, value: &str) -> Result<String, DkimError> {
    let v = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let err = |why| DkimError::Name {
        what,
        value: value.to_string(),
        why,
    };
    if v.is_empty() || v.len() > 253 {
        return Err(err("must have 1 to 253 characters"));
    }
    for label in v.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(err("each dot-separated label must have 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err(
                "only letters, digits, '-' and '_' (give an IDN domain as xn--...)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(err("a label cannot start or end with '-'"));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert_eq!(dns_name("domain", "Example.ORG.").unwrap(), "example.org");
        assert_eq!(dns_name("selector", "s2026.eu").unwrap(), "s2026.eu");
        assert!(dns_name("domain", "").is_err());
        assert!(dns_name("domain", "a..b").is_err());
        assert!(dns_name("domain", "-a.b").is_err());
        assert!(dns_name("domain", "bøf.dk").is_err());
        assert!(dns_name("selector", "a b").is_err());
        assert!(dns_name("selector", "a;b").is_err());
    }
}
