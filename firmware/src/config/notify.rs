//! `[notify]`: messages Segl sends to the organisation's own users and administrator.

use serde::{Deserialize, Serialize};

use super::validate::{bad, Invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Send the employee a receipt when secure mail left as a function mailbox.
    pub send_receipt: bool,
    /// The administrator's address for notices from Segl (licence warnings); empty: none.
    #[serde(default)]
    pub admin_address: String,
}

impl NotifyConfig {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let a = self.admin_address.trim();
        let ok = a.is_empty()
            || a.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && super::is_domain(d) && !a.chars().any(char::is_whitespace)
            });
        if !ok {
            return Err(bad(
                "notify.admin_address",
                format!("{a:?} is not a mail address"),
            ));
        }
        Ok(())
    }
}
