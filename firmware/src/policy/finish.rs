//! The last stage of the outbound path: it runs on every outgoing message whose content Segl
//! made or changed (signed, encrypted, subject edited), after everything else and right before
//! the copy is queued for delivery, so whatever it does covers the final bytes.
//!
//! 1. It removes upstream `DKIM-Signature` fields from such copies: the internal mail server
//!    signed the original, Segl changed headers or body, so that signature can only fail now —
//!    at best noise, at worst a spam score at the receiver (RFC 6376 §6.3 treats a broken
//!    signature like none). `dkim.remove_invalidated = false` keeps them.
//! 2. It signs the copy with DKIM ([`crate::dkim`]) with the key of the From domain, over
//!    exactly the bytes that leave, so a receiver's DMARC check passes on DKIM even where
//!    forwarding broke SPF (`dkim.sign`, default `"changed"`).
//!
//! Mail passed on unchanged (a hard link to the spooled original) does not come through
//! [`outbound`]: its upstream signature still verifies and stays. With `dkim.sign = "all"`,
//! [`unchanged`] signs it too (the new signature is added; the upstream one stays).

use super::fields::Message;
use super::{Content, PolicyCtx};
use crate::dkim;
use crate::spool::Envelope;

/// Header fields that sign the message as it was before Segl changed it.
const INVALIDATED: &[&str] = &["DKIM-Signature"];

/// Finishes one outbound copy whose content is new.
pub fn outbound(ctx: &PolicyCtx, env: &Envelope, message: Vec<u8>) -> Vec<u8> {
    let message = remove_invalidated(ctx, env, message);
    if ctx.cfg.dkim.signs_changed() {
        dkim_sign(ctx, env, &message).unwrap_or(message)
    } else {
        message
    }
}

/// An outbound copy Segl passes on unchanged: signed with DKIM only with `dkim.sign = "all"`
/// (and a key for its domain); otherwise it stays the spooled original.
pub fn unchanged(ctx: &PolicyCtx, env: &Envelope, message: &[u8]) -> Content {
    if !ctx.cfg.dkim.signs_unchanged() {
        return Content::Unchanged;
    }
    match dkim_sign(ctx, env, message) {
        Some(signed) => Content::New(signed),
        None => Content::Unchanged,
    }
}

fn remove_invalidated(ctx: &PolicyCtx, env: &Envelope, message: Vec<u8>) -> Vec<u8> {
    if !ctx.cfg.dkim.remove_invalidated {
        return message;
    }
    let mut msg = Message::parse(&message);
    let removed: usize = INVALIDATED.iter().map(|f| msg.remove_named(f)).sum();
    if removed == 0 {
        return message;
    }
    tracing::info!(id = %env.id, removed, "removed upstream DKIM signatures that our changes invalidated");
    msg.to_bytes()
}

/// `message` with our DKIM signature on top, or `None` when its From domain has no key (or,
/// never expected, signing fails: the mail then leaves unsigned rather than not at all;
/// a missing signature costs deliverability, never confidentiality).
fn dkim_sign(ctx: &PolicyCtx, env: &Envelope, message: &[u8]) -> Option<Vec<u8>> {
    let author = dkim::sign::author_domain(message)?;
    let Some(signer) = ctx.keystore.dkim_signer(&author) else {
        tracing::debug!(id = %env.id, domain = %author, "no DKIM key for the From domain: not signed");
        return None;
    };
    let cfg = &ctx.cfg.dkim;
    let params = dkim::sign::Params {
        domain: &signer.domain,
        selector: &signer.selector,
        headers: &cfg.headers,
        oversign: &cfg.oversign,
        expire_days: cfg.expire_days,
    };
    match dkim::sign::sign(&signer.key, &params, message) {
        Ok(signed) => {
            tracing::info!(id = %env.id, domain = %signer.domain, selector = %signer.selector, "DKIM signed");
            Some(signed)
        }
        Err(e) => {
            tracing::error!(id = %env.id, domain = %signer.domain, error = %e, "DKIM signing failed: sent unsigned");
            None
        }
    }
}
