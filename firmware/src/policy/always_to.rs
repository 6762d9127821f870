//! Always encrypted to specific recipients (Comendo "Send altid krypteret til specifikke
//! modtagere"): `[mailboxes.<id>] always_to = ["addr", "@domain"]`.
//!
//! Mail from any internal sender (an authenticated client or `relay.trusted_networks`) to a
//! listed recipient is sent as from the function mailbox: From and the envelope sender (so that
//! bounces go to the mailbox, not to the employee) become the mailbox address, the mailbox key
//! signs, and encryption is mandatory — without a certificate for the recipient that copy is
//! not sent and the sender gets the usual notice. The rest of the work is the outbound policy's
//! (`outbound::process_as`), so subject controls, licence, DKIM and notices behave as for any
//! `#K-<id>#` mail.

use super::mailbox::{self, Acting, Denied};
use super::{listed, PolicyCtx};
use crate::spool::Envelope;

/// The mailbox an outbound copy is forced to go out as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forced {
    /// The mailbox id (`[mailboxes.<id>]`).
    pub id: String,
    /// The mailbox address: the new From and envelope sender.
    pub address: String,
}

/// Splits the outbound recipients `rcpts`: those listed in a mailbox's `always_to` (grouped by
/// mailbox, in configuration order) and the rest.
pub fn partition(ctx: &PolicyCtx, rcpts: Vec<String>) -> (Vec<(Forced, Vec<String>)>, Vec<String>) {
    let mut forced: Vec<(Forced, Vec<String>)> = vec![];
    let mut rest = vec![];
    for r in rcpts {
        let hit = ctx
            .cfg
            .mailboxes
            .iter()
            .find(|(_, mb)| listed(&mb.always_to, &r));
        match hit {
            Some((id, mb)) => {
                let f = Forced {
                    id: id.clone(),
                    address: crate::address::normalize(&mb.address),
                };
                match forced.iter_mut().find(|(g, _)| *g == f) {
                    Some((_, v)) => v.push(r),
                    None => forced.push((f, vec![r])),
                }
            }
            None => rest.push(r),
        }
    }
    (forced, rest)
}

/// The mailbox key that signs for `forced`, on behalf of `employee` (the real sender). Unlike a
/// subject code, any internal sender may cause it: the administrator chose the recipients.
/// Only the mailbox's own key signs, never a domain key standing in for its address.
pub fn acting(ctx: &PolicyCtx, forced: &Forced, employee: &str) -> Result<Acting, Denied> {
    let no_key = || Denied::NoKey {
        mailbox: forced.address.clone(),
    };
    let key = ctx
        .keystore
        .mailbox_key(&forced.id)
        .or_else(|| ctx.keystore.signing_key(&forced.address))
        .filter(|k| !super::domain_key::is_domain_signer(ctx, k.as_ref(), &forced.address))
        .ok_or_else(no_key)?;
    Ok(Acting {
        id: forced.id.clone(),
        chain: ctx.keystore.signing_chain(&forced.address),
        address: forced.address.clone(),
        employee: employee.to_string(),
        key,
    })
}

/// Rewrites From of `msg` to the forced mailbox (display name as for subject codes).
pub fn rewrite_from(ctx: &PolicyCtx, msg: &mut super::fields::Message, forced: &Forced) {
    if let Some((_, mb)) = mailbox::by_id(ctx, &forced.id) {
        mailbox::rewrite_from(msg, mb, &forced.address);
    }
}

/// The real sender, for the log and the receipt: the From address, else the envelope sender.
pub fn employee(env: &Envelope, from: &str) -> String {
    if from.is_empty() {
        crate::address::normalize(&env.mail_from)
    } else {
        from.to_string()
    }
}
