//! Mail addresses (and mail domains) as the gateway compares and stores them: surrounding
//! white space removed and ASCII letters in lower case. Certificates, the keystore, the policy
//! lists, the portal and the configuration all match addresses; one constructor makes sure they
//! all mean the same string by "the same address". Local parts are case-insensitive in
//! practice (RFC 5321 §2.4 allows otherwise, no mail system of our users does), and non-ASCII
//! (SMTPUTF8) letters are kept as they are.

use std::fmt;

/// A normalised mail address (or domain).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(String);

impl Address {
    /// The one normalising constructor.
    pub fn new(raw: &str) -> Address {
        Address(raw.trim().to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@` (the whole string for a domain or a bare name).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(_, d)| d)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.0
    }
}

/// `raw` normalised, as a string (for the places that store or compare strings).
pub fn normalize(raw: &str) -> String {
    Address::new(raw).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_address() {
        assert_eq!(normalize("  Alice@Example.ORG\r\n"), "alice@example.org");
        assert_eq!(Address::new("Bob@Partner.Test").domain(), "partner.test");
        assert_eq!(Address::new("example.org").domain(), "example.org");
        // Non-ASCII letters stay (SMTPUTF8 addresses).
        assert_eq!(normalize("Jørgen@Eksempel.DK"), "jørgen@eksempel.dk");
        assert_eq!(Address::new("A@B"), Address::new("a@b "));
    }
}
