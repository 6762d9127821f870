//! The last stage of the outbound path: it runs on every outgoing message whose content Segl
//! made or changed (signed, encrypted, subject edited), after everything else and right before
//! the copy is queued for delivery, so whatever it does covers the final bytes.
//!
//! Today it removes upstream `DKIM-Signature` fields from such copies: the internal mail server
//! signed the original, Segl changed headers or body, so that signature can only fail now — at
//! best noise, at worst a spam score at the receiver (RFC 6376 §6.3 treats a broken signature
//! like none). `dkim.remove_invalidated = false` keeps them. DKIM signing of our own (a later
//! issue) becomes the next step here, over exactly the bytes that leave.
//!
//! Mail passed on unchanged (a hard link to the spooled original) never comes here: its upstream
//! signature still verifies and stays.

use super::fields::Message;
use super::PolicyCtx;
use crate::spool::Envelope;

/// Header fields that sign the message as it was before Segl changed it.
const INVALIDATED: &[&str] = &["DKIM-Signature"];

/// Finishes one outbound copy whose content is new.
pub fn outbound(ctx: &PolicyCtx, env: &Envelope, message: Vec<u8>) -> Vec<u8> {
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
