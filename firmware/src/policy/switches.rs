//! Per-operation switches (DEFENDO's S/MIME-Gateway tabs Verify, Encrypt, Sign, Decrypt):
//! `[verify] enabled`, `[encrypt] enabled`, `[sign] enabled`, `[decrypt] enabled`, all on by
//! default. A switched-off stage passes mail through untouched and says so in the log, so an
//! administrator reading the log of a mail that was not signed (say) sees why.
//!
//! Two things stay on whatever the switches say, because they protect the reader rather than
//! being a stage: forged `X-Segl-*` fields and our subject prefixes are removed from inbound mail
//! (nothing that looks like our verdict may reach the reader unless we wrote it), and a
//! recipient for whom encryption is mandatory never gets mail in clear (with encryption off
//! that recipient gets nothing and the sender a notice).

use super::fields::Message;
use super::{Content, Output, PolicyCtx, HEADER_PREFIX};
use crate::smime::{Certificate, PrivateKeyOps};
use crate::spool::Envelope;

/// Logs, once per outbound message, which outbound stages are switched off.
pub fn log_outbound(ctx: &PolicyCtx, env: &Envelope) {
    if !ctx.cfg.sign.enabled {
        tracing::info!(id = %env.id, "not signed: signing is switched off ([sign] enabled = false)");
    }
    if !ctx.cfg.encrypt.enabled {
        tracing::info!(id = %env.id, "not encrypted: encryption is switched off ([encrypt] enabled = false)");
    }
}

/// The signer, or none when signing is switched off.
pub fn signer<C>(
    ctx: &PolicyCtx,
    signer: Option<(std::sync::Arc<dyn PrivateKeyOps>, C)>,
) -> Option<(std::sync::Arc<dyn PrivateKeyOps>, C)> {
    signer.filter(|_| ctx.cfg.sign.enabled)
}

/// The certificate to encrypt to for `address`, or none when encryption is switched off (no
/// lookup is made, not even in the directories).
pub fn encryption_cert(ctx: &PolicyCtx, address: &str) -> Option<Certificate> {
    if !ctx.cfg.encrypt.enabled {
        return None;
    }
    ctx.encryption_cert(address)
}

/// Whether the inbound message should be looked at for decryption, logging when decryption is
/// switched off for an encrypted message.
pub fn decrypt(ctx: &PolicyCtx, env: &Envelope, encrypted: bool) -> bool {
    if encrypted && !ctx.cfg.decrypt.enabled {
        tracing::info!(id = %env.id, "not decrypted: decryption is switched off ([decrypt] enabled = false); delivered as it came");
    }
    encrypted && ctx.cfg.decrypt.enabled
}

/// Logs when verification is switched off.
pub fn log_verify(ctx: &PolicyCtx, env: &Envelope) {
    if !ctx.cfg.verify.enabled {
        tracing::info!(id = %env.id, "signatures not verified: verification is switched off ([verify] enabled = false)");
    }
}

/// Inbound with both verification and decryption switched off: the message as it came, only
/// forged `X-Segl-*` fields and our subject prefixes removed (then it is a new copy).
pub fn inbound_passthrough(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
) -> Output {
    tracing::info!(id = %env.id, rcpts = ?rcpts, "inbound stages switched off ([verify] and [decrypt] enabled = false): passed through");
    let mut msg = Message::parse(message);
    let forged = msg.remove_prefixed(HEADER_PREFIX);
    let mut changed = forged > 0;
    if let Some(subject) = msg.get_text("Subject") {
        let clean = super::marks::strip(&ctx.cfg.mark, &subject);
        if clean != subject {
            msg.set_subject(&clean);
            changed = true;
        }
    }
    Output {
        recipients: rcpts,
        mail_from: None,
        content: if changed {
            Content::New(msg.to_bytes())
        } else {
            Content::Unchanged
        },
    }
}
