//! `[mailboxes.<id>]`: function mailboxes (shared secure mailboxes with their own keys).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::parse::is_domain;
use super::validate::{bad, Invalid};

/// `[mailboxes.<id>]`: a function mailbox (shared secure mailbox with its own key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// The mailbox's address (the address in its certificate).
    pub address: String,
    /// Display name for the rewritten From; empty: the sender's display name is kept.
    #[serde(default)]
    pub name: String,
    /// Who may send as this mailbox: addresses (`user@domain`) and domains (`@domain`).
    #[serde(default)]
    pub senders: Vec<String>,
    /// Recipients (addresses, `@domain`) that always get mail as from this mailbox: From and
    /// envelope sender rewritten, signed with the mailbox key, encryption mandatory.
    #[serde(default)]
    pub always_to: Vec<String>,
}

/// Ids are letters, digits, '-', '_' and '.'; addresses and sender patterns are mail addresses
/// (or `@domain`); names are one line.
pub(super) fn validate(mailboxes: &BTreeMap<String, MailboxConfig>) -> Result<(), Invalid> {
    for (id, mb) in mailboxes {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(bad(
                "mailboxes",
                format!("{id:?}: a mailbox id is letters, digits, '-', '_' and '.'"),
            ));
        }
        let ok = match mb.address.trim().rsplit_once('@') {
            Some((l, d)) => !l.is_empty() && is_domain(d),
            None => false,
        };
        if !ok {
            return Err(bad(
                "mailboxes.address",
                format!("mailbox {id}: {:?} is not a mail address", mb.address),
            ));
        }
        for a in &mb.senders {
            let ok = match a.trim().rsplit_once('@') {
                Some((_, d)) => is_domain(d),
                None => false,
            };
            if !ok {
                return Err(bad(
                    "mailboxes.senders",
                    format!("mailbox {id}: {a:?}: use a full address or @domain"),
                ));
            }
        }
        super::switches::check_address_list("mailboxes.always_to", &mb.always_to)?;
        for other in mailboxes.iter().filter(|(o, _)| *o > id).map(|(_, m)| m) {
            if let Some(a) = mb.always_to.iter().find(|a| {
                other
                    .always_to
                    .iter()
                    .any(|b| b.trim().eq_ignore_ascii_case(a.trim()))
            }) {
                return Err(bad(
                    "mailboxes.always_to",
                    format!("{a:?} is listed for two mailboxes"),
                ));
            }
        }
        if mb.name.contains(['\r', '\n']) {
            return Err(bad(
                "mailboxes.name",
                format!("mailbox {id}: the name must be one line"),
            ));
        }
    }
    Ok(())
}
