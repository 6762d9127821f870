//! Validation: each section checks its own keys (in its file); the rules that span sections
//! are here. The first broken rule is reported with the key it concerns.

use super::{mailboxes, Config, ConfigError};

/// A broken rule: the key (`section.key`) and a message for the administrator.
pub(super) type Invalid = (&'static str, String);

/// An [`Invalid`] for `key`.
pub(super) fn bad(key: &'static str, message: impl Into<String>) -> Invalid {
    (key, message.into())
}

impl Config {
    pub(super) fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.validate_sections()
            .map_err(|(key, message)| ConfigError::Invalid {
                path: origin.to_string(),
                key,
                message,
            })
    }

    fn validate_sections(&self) -> Result<(), Invalid> {
        self.smtp.validate()?;
        self.admin.validate()?;
        self.relay.validate()?;
        self.delivery.validate()?;
        self.validate_next_hops()?;
        self.sign.validate()?;
        self.encrypt.validate()?;
        self.portal.validate()?;
        self.notify.validate()?;
        mailboxes::validate(&self.mailboxes)?;
        self.lookup.validate()?;
        self.digital_post.validate(|a| self.is_local_recipient(a))?;
        self.storage.validate()?;
        self.keystore.validate()?;
        self.dkim.validate()?;
        self.authres.validate()?;
        self.log.validate()
    }

    /// Local domains and the recipient callout need somewhere to deliver inbound mail.
    fn validate_next_hops(&self) -> Result<(), Invalid> {
        if self.delivery.inbound_next_hop.is_empty() && !self.relay.local_domains.is_empty() {
            return Err(bad(
                "delivery.inbound_next_hop",
                "must be set when relay.local_domains is not empty",
            ));
        }
        if self.relay.recipient_callout && self.delivery.inbound_next_hop.is_empty() {
            return Err(bad(
                "relay.recipient_callout",
                "needs delivery.inbound_next_hop",
            ));
        }
        Ok(())
    }

    /// `a` is a full address in a local domain that `relay.local_recipients` accepts.
    fn is_local_recipient(&self, a: &str) -> bool {
        let a = crate::address::normalize(a);
        let Some((l, d)) = a.rsplit_once('@') else {
            return false;
        };
        !l.is_empty()
            && self.is_local_domain(d)
            && (self.relay.local_recipients.is_empty()
                || self.relay.local_recipients.iter().any(|r| {
                    let r = crate::address::normalize(r);
                    r == a || r.strip_prefix('@') == Some(d)
                }))
    }
}
