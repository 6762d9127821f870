//! Enhanced mail system status codes (RFC 3463, `class.subject.detail`, e.g. `4.4.7`): in the
//! SMTP server's replies, in what a next hop answered, in a failed recipient's record and in
//! the DSN sent for it. A type instead of strings, so a code is checked once where it enters
//! (a next hop's reply, a stored record) and its class is a property, not a string prefix.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One enhanced status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedStatus {
    /// `class` is 2 (success), 4 (persistent transient failure) or 5 (permanent failure);
    /// subject and detail have at most three digits (RFC 3463 §2).
    pub const fn new(class: u8, subject: u16, detail: u16) -> EnhancedStatus {
        assert!(class == 2 || class == 4 || class == 5);
        assert!(subject < 1000 && detail < 1000);
        EnhancedStatus {
            class,
            subject,
            detail,
        }
    }

    /// `2.0.0`: success.
    pub const OK: EnhancedStatus = EnhancedStatus::new(2, 0, 0);
    /// `5.0.0`: a permanent failure without a more precise code.
    pub const PERMANENT: EnhancedStatus = EnhancedStatus::new(5, 0, 0);
    /// `5.1.1`: bad destination mailbox address.
    pub const BAD_MAILBOX: EnhancedStatus = EnhancedStatus::new(5, 1, 1);
    /// `5.1.2`: bad destination system address (the domain has no mail host).
    pub const BAD_SYSTEM: EnhancedStatus = EnhancedStatus::new(5, 1, 2);
    /// `5.3.4`: message too big for the system.
    pub const TOO_BIG: EnhancedStatus = EnhancedStatus::new(5, 3, 4);
    /// `4.4.7`: delivery time expired (the queue lifetime ran out).
    pub const EXPIRED: EnhancedStatus = EnhancedStatus::new(4, 4, 7);
    /// `5.6.7`: non-ASCII addresses not permitted for that recipient (no SMTPUTF8 there).
    pub const NO_SMTPUTF8: EnhancedStatus = EnhancedStatus::new(5, 6, 7);

    /// The code at the start of `s` (RFC 3463 syntax), if `s` starts with one.
    pub fn parse(s: &str) -> Option<EnhancedStatus> {
        let mut parts = s.split('.');
        let class = match parts.next()? {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        let num = |p: Option<&str>| -> Option<u16> {
            let p = p?;
            (!p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let subject = num(parts.next())?;
        let detail = num(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(EnhancedStatus {
            class,
            subject,
            detail,
        })
    }

    pub fn class(self) -> u8 {
        self.class
    }

    /// Class 5: retrying will not help.
    pub fn is_permanent(self) -> bool {
        self.class == 5
    }

    /// The same subject and detail in class `class` (2, 4 or 5; anything else keeps the class).
    pub fn with_class(self, class: u8) -> EnhancedStatus {
        match class {
            2 | 4 | 5 => EnhancedStatus { class, ..self },
            _ => self,
        }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Serialize for EnhancedStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A stored code that does not parse (a record written by hand, or by a version with a bug)
/// reads as `5.0.0`: it is only stored for failed recipients, and failing a whole envelope
/// record over it would hold the message instead of reporting its other recipients.
impl<'de> Deserialize<'de> for EnhancedStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EnhancedStatus, D::Error> {
        let s = String::deserialize(d)?;
        Ok(EnhancedStatus::parse(&s).unwrap_or(EnhancedStatus::PERMANENT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rfc_3463_codes() {
        assert_eq!(
            EnhancedStatus::parse("4.4.7"),
            Some(EnhancedStatus::EXPIRED)
        );
        assert_eq!(
            EnhancedStatus::parse("5.7.123").map(|c| c.to_string()),
            Some("5.7.123".into())
        );
        for bad in [
            "", "3.1.1", "5.1", "5.1.1.1", "5..1", "5.1.1234", "x.1.1", "5.1.a",
        ] {
            assert_eq!(EnhancedStatus::parse(bad), None, "{bad}");
        }
        assert!(EnhancedStatus::BAD_MAILBOX.is_permanent());
        assert!(!EnhancedStatus::EXPIRED.is_permanent());
        assert_eq!(EnhancedStatus::EXPIRED.with_class(5).to_string(), "5.4.7");
    }

    #[test]
    fn stored_as_a_string_and_read_leniently() {
        let j = serde_json::to_string(&EnhancedStatus::BAD_SYSTEM).unwrap();
        assert_eq!(j, "\"5.1.2\"");
        let back: EnhancedStatus = serde_json::from_str(&j).unwrap();
        assert_eq!(back, EnhancedStatus::BAD_SYSTEM);
        let odd: EnhancedStatus = serde_json::from_str("\"n/a\"").unwrap();
        assert_eq!(odd, EnhancedStatus::PERMANENT);
    }
}
