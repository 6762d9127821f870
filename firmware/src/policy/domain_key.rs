//! Signing with the own domain certificate only where asked (DEFENDO: "sign mails to the
//! following recipient addresses and domains").
//!
//! A domain key (one certificate for a whole local domain) decrypts inbound mail for every
//! address of the domain; outbound it signs mail of senders without an own key only to the
//! recipients and `@domains` in `sign.domain_key_to`. Partners that asked for it get mail
//! signed by the organisation; everyone else is not surprised by a signature naming no person.
//! A message to both kinds of recipients is split: the others get an unsigned copy.

use super::{listed, PolicyCtx};
use crate::smime::PrivateKeyOps;
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// Whether `key`, chosen to sign for `from`, is the domain key of `from`'s domain (the
/// keystore's signing key for `@domain`) rather than a key of the address or of a mailbox.
pub fn is_domain_signer(ctx: &PolicyCtx, key: &dyn PrivateKeyOps, from: &str) -> bool {
    domain_of(from.trim()).is_some_and(|d| {
        ctx.keystore
            .signing_key(&format!("@{d}"))
            .is_some_and(|dk| dk.certificate() == key.certificate())
    })
}

/// Splits `items` (recipients, with whatever goes along) into groups that share whether they
/// are signed: everything signed when `domain_signed` is false; otherwise the recipients in
/// `sign.domain_key_to` signed and the others not. Empty groups are left out.
pub fn split<T>(
    ctx: &PolicyCtx,
    env: &Envelope,
    domain_signed: bool,
    items: Vec<T>,
    address: impl Fn(&T) -> &str,
) -> Vec<(Vec<T>, bool)> {
    if !domain_signed {
        return if items.is_empty() {
            vec![]
        } else {
            vec![(items, true)]
        };
    }
    let (signed, unsigned): (Vec<T>, Vec<T>) = items
        .into_iter()
        .partition(|i| listed(&ctx.cfg.sign.domain_key_to, address(i)));
    if !unsigned.is_empty() {
        let who: Vec<&str> = unsigned.iter().map(&address).collect();
        tracing::info!(id = %env.id, to = ?who, "not signed with the domain key: recipients not in sign.domain_key_to");
    }
    [(signed, true), (unsigned, false)]
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect()
}
