//! `[dkim]`: DKIM on the outbound path (the last stage, `policy::finish`; `docs/dkim.md`).

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

/// `[dkim]`: DKIM on the outbound path (the last stage, `policy::finish`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// Remove upstream DKIM-Signature fields from mail whose content Segl changed.
    pub remove_invalidated: bool,
    /// Which outbound mail gets our DKIM signature: "changed" | "all" | "none".
    pub sign: DkimSignMode,
    /// The header fields signed (`h=`).
    pub headers: Vec<String>,
    /// Fields signed once more than they occur, so none can be added.
    pub oversign: Vec<String>,
    /// `x=` this many days after signing; 0: no expiry.
    pub expire_days: u32,
    /// How long a retired key's DNS record stays published (shown by `dkim list`).
    pub keep_retired_days: u32,
}

/// Which outbound mail Segl signs (`dkim.sign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimSignMode {
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
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if let Some(h) = self.headers.iter().find(|h| !field_name_ok(h.trim())) {
            return Err(bad(
                "dkim.headers",
                format!("{h:?} is not a header field name"),
            ));
        }
        if !self
            .headers
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case("from"))
        {
            return Err(bad(
                "dkim.headers",
                "must contain From (RFC 6376 §5.4: the From field is always signed)",
            ));
        }
        if let Some(o) = self.oversign.iter().find(|o| {
            !self
                .headers
                .iter()
                .any(|h| h.trim().eq_ignore_ascii_case(o.trim()))
        }) {
            return Err(bad(
                "dkim.oversign",
                format!("{o:?} is not in dkim.headers (only signed fields can be oversigned)"),
            ));
        }
        if self.expire_days > 3650 {
            return Err(bad("dkim.expire_days", "at most 3650 (0: no x= tag)"));
        }
        Ok(())
    }

    /// Whether mail Segl changed is signed.
    pub fn signs_changed(&self) -> bool {
        self.sign != DkimSignMode::None
    }

    /// Whether mail Segl passes on unchanged is signed too.
    pub fn signs_unchanged(&self) -> bool {
        self.sign == DkimSignMode::All
    }
}

#[cfg(test)]
mod tests {
    use super::DkimSignMode;
    use crate::config::Config;

    #[test]
    fn defaults_and_checks() {
        let c = Config::default_config();
        assert_eq!(c.dkim.sign, DkimSignMode::Changed);
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
