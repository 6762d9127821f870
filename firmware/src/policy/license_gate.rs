//! The policy's licence checks: the one place where the mail path asks whether an own key may
//! be used. Domain keys, verification and encryption are never restricted (DESIGN §8); an
//! individual or function-mailbox key the licence does not cover neither signs nor decrypts.
//! Mail always flows: outbound it goes unsigned (still encrypted where possible), inbound it
//! is delivered still encrypted with an `X-Segl-License` note, and a copy is parked
//! ([`crate::license::parked`]) to be decrypted and delivered again once a licence covers the key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cms::enveloped_data::RecipientIdentifier;

use super::{Content, Output, PolicyCtx};
use crate::keystore::DecryptionKeys;
use crate::license::Use;
use crate::message::fields::Message;
use crate::smime::keyops::recipient_matches;
use crate::smime::{Certificate, KeyLookup, PrivateKeyOps};
use crate::spool::Envelope;

/// The licence header on mail that stayed encrypted for want of a licence.
pub const HEADER: &str = "X-Segl-License";

fn der(cert: &Certificate) -> Vec<u8> {
    crate::smime::keyops::certificate_der(cert).unwrap_or_default()
}

/// How `ctx`'s licence treats the key with certificate `cert`.
pub fn key_use(ctx: &PolicyCtx, cert: &Certificate) -> Use {
    ctx.license.key_use(&der(cert))
}

/// Outbound: the chosen signer, or none when its key is not licensed (the mail then goes out
/// unsigned, and still encrypted where a recipient certificate is known).
pub fn signer<C>(
    ctx: &PolicyCtx,
    env: &Envelope,
    signer: Option<(Arc<dyn PrivateKeyOps>, C)>,
) -> Option<(Arc<dyn PrivateKeyOps>, C)> {
    let (key, chain) = signer?;
    match key_use(ctx, key.certificate()) {
        Use::Unlicensed(why) => {
            let who = crate::smime::certs::email_addresses(key.certificate()).join(", ");
            tracing::warn!(id = %env.id, key = %who, reason = %why, "not signed: the key is not licensed");
            None
        }
        _ => Some((key, chain)),
    }
}

/// Inbound: the keys that may decrypt for `rcpt`, unlicensed ones left out.
pub fn decryption_keys_for(ctx: &PolicyCtx, rcpt: &str) -> DecryptionKeys {
    let mut keys = ctx.keystore.decryption_keys_for(rcpt);
    keys.split_off_unless(|c| !matches!(key_use(ctx, c), Use::Unlicensed(_)));
    keys
}

/// The unlicensed keys that would decrypt for `rcpt`.
fn withheld_for(ctx: &PolicyCtx, rcpt: &str) -> DecryptionKeys {
    let mut keys = ctx.keystore.decryption_keys_for(rcpt);
    keys.split_off_unless(|c| !matches!(key_use(ctx, c), Use::Unlicensed(_)))
}

/// A [`KeyLookup`] that never hands out a key but notes whether one of its keys is a
/// recipient of the message: tells "encrypted to an unlicensed key" from "not for us" without
/// any private-key operation.
struct Probe {
    certs: Vec<Certificate>,
    hit: AtomicBool,
}

impl KeyLookup for Probe {
    fn find(&self, rid: &RecipientIdentifier) -> Option<&dyn PrivateKeyOps> {
        if self.certs.iter().any(|c| recipient_matches(rid, c)) {
            self.hit.store(true, Ordering::Relaxed);
        }
        None
    }
}

/// Whether the encrypted layer of `message` names one of `keys` as a recipient.
pub(crate) fn addressed_to(message: &[u8], keys: &DecryptionKeys) -> bool {
    if keys.is_empty() {
        return false;
    }
    let probe = Probe {
        certs: keys.certificates(),
        hit: AtomicBool::new(false),
    };
    // Through signature layers around the ciphertext too (encrypted, then signed); the probe
    // never yields a key, so this stops at the encrypted layer.
    let _ = crate::smime::unwrap(
        message,
        &probe,
        &[],
        &[],
        std::time::SystemTime::now(),
        crate::smime::Limits::default(),
    );
    probe.hit.load(Ordering::Relaxed)
}

/// Inbound outputs after decryption: a copy that stayed encrypted because the recipient's key
/// is not licensed gets the `X-Segl-License` note, and the original is parked for later.
pub fn inbound_outputs(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    outputs: Vec<Output>,
) -> Vec<Output> {
    outputs
        .into_iter()
        .map(|mut o| {
            let Content::New(bytes) = &o.content else {
                return o;
            };
            let m = Message::parse(bytes);
            if m.get("X-Segl-Encryption").as_deref().map(str::trim) != Some("failed") {
                return o;
            }
            let mut withheld: Vec<(String, DecryptionKeys)> = vec![];
            for r in &o.recipients {
                let w = withheld_for(ctx, r);
                if addressed_to(message, &w) {
                    withheld.push((r.clone(), w));
                }
            }
            if withheld.is_empty() {
                return o;
            }
            let who: Vec<String> = withheld.iter().map(|(r, _)| r.clone()).collect();
            let why = withheld
                .first()
                .and_then(|(_, k)| k.certificates().into_iter().next())
                .map(|c| match key_use(ctx, &c) {
                    Use::Unlicensed(w) => w,
                    _ => String::new(),
                })
                .unwrap_or_default();
            let parked = match crate::license::parked::park(&ctx.license, env, message, &who, &why) {
                Ok(id) => format!("kept as {id} and decrypted again once a licence covers it"),
                Err(e) => {
                    tracing::error!(id = %env.id, error = %e, "cannot keep a copy of mail left encrypted for want of a licence");
                    "no copy could be kept".to_string()
                }
            };
            tracing::warn!(id = %env.id, rcpts = ?who, reason = %why, "not decrypted: the recipient's key is not licensed; delivered encrypted");
            let mut m = m;
            let clean: String = format!(
                "not decrypted: the key of {} is not licensed ({why}); {parked}",
                who.join(", ")
            )
            .chars()
            .filter(|c| !c.is_control())
            .collect();
            m.prepend(HEADER, &clean);
            o.content = Content::New(m.to_bytes());
            o
        })
        .collect()
}
