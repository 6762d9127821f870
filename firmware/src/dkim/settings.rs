//! The `[dkim]` settings' own types and checks (the section's struct lives with the other
//! sections in `config`).

use serde::{Deserialize, Serialize};

use crate::config::DkimConfig;

/// Which outbound mail Segl signs (`dkim.sign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignMode {
    /// Mail whose content Segl made or changed (signed, encrypted, subject edited). Mail passed
    /// on unchanged keeps the internal server's signature and is not signed again.
    Changed,
    /// Every outbound mail from a domain with a key, changed or not.
    All,
    /// No DKIM signing.
    None,
}

/// A header field name (RFC 5322 §3.6.8: printable ASCII except colon).
fn field_name_ok(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

impl DkimConfig {
    /// Checks the section; the error names the key.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(bad) = self.headers.iter().find(|h| !field_name_ok(h.trim())) {
            return Err((
                "dkim.headers",
                format!("{bad:?} is not a header field name"),
            ));
        }
        if !self
            .headers
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case("from"))
        {
            return Err((
                "dkim.headers",
                "must contain From (RFC 6376 §5.4: the From field is always signed)".into(),
            ));
        }
        if let Some(o) = self.oversign.iter().find(|o| {
            !self
                .headers
                .iter()
                .any(|h| h.trim().eq_ignore_ascii_case(o.trim()))
        }) {
            return Err((
                "dkim.oversign",
                format!("{o:?} is not in dkim.headers (only signed fields can be oversigned)"),
            ));
        }
        if self.expire_days > 3650 {
            return Err(("dkim.expire_days", "at most 3650 (0: no x= tag)".into()));
        }
        Ok(())
    }

    /// Whether mail Segl changed is signed.
    pub fn signs_changed(&self) -> bool {
        self.sign != SignMode::None
    }

    /// Whether mail Segl passes on unchanged is signed too.
    pub fn signs_unchanged(&self) -> bool {
        self.sign == SignMode::All
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_checks() {
        let c = Config::default_config();
        assert_eq!(c.dkim.sign, super::SignMode::Changed);
        assert!(c.dkim.headers.iter().any(|h| h == "From"));
        assert_eq!(c.dkim.oversign, ["From", "Subject", "To", "Date"]);
        assert_eq!(c.dkim.expire_days, 0);
        let e = Config::parse("[dkim]\nheaders = [\"To\"]\noversign = []\n", "t").unwrap_err();
        assert!(e.to_string().contains("dkim.headers"), "{e}");
        let e = Config::parse("[dkim]\noversign = [\"X-Foo\"]\n", "t").unwrap_err();
        assert!(e.to_string().contains("dkim.oversign"), "{e}");
        let e = Config::parse("[dkim]\nsign = \"some\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("sign"), "{e}");
        let c = Config::parse("[dkim]\nsign = \"all\"\nexpire_days = 7\n", "t").unwrap();
        assert!(c.dkim.signs_unchanged());
    }
}
