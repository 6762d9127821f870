//! Inbound mail (DESIGN §4): strip forged markings, walk the S/MIME layers (decrypt what is
//! encrypted as a whole, verify every signature: [`super::layers`]), mark the result for the
//! reader, harvest the signers' certificates.
//!
//! Only the top-level header block is edited (Subject prefix, `X-Segl-*` fields); the body —
//! and with it everything a signature covers — is delivered byte for byte as it came out of the
//! decryption (or as it arrived). Signature layers are kept, so the reader's client can check
//! them again. A failed decryption is delivered as it came, marked; nothing goes back to the
//! sender.
//!
//! Proof (`signatur-bevis.txt`) and warning (`Advarsel.txt`) parts are added by wrapping the
//! untouched entity in a new `multipart/mixed` ([`super::parts`]). Encrypted mail is decrypted
//! per group of envelope recipients, each only with the keys allowed for it.

use std::borrow::Cow;

use super::fields::Message;
use super::layers::{self, Encryption, SigStatus, Verdict};
use super::parts;
use super::{Content, Output, PolicyCtx, ProcessError, HEADER_PREFIX};
use crate::keystore::DecryptionKeys;
use crate::smime::mime;
use crate::smime::{self, AddressMatch, Certificate};
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// The outputs for the inbound (local) recipients of one message: one per group of recipients
/// whose keys allowed to decrypt are the same (an own key decrypts only for the addresses its
/// certificate names, a mailbox key for its mailbox, a domain key for its domain).
pub fn process(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
) -> Result<Vec<Output>, ProcessError> {
    if !ctx.cfg.verify.enabled && !ctx.cfg.decrypt.enabled {
        return Ok(vec![super::switches::inbound_passthrough(
            ctx, env, message, rcpts,
        )]);
    }
    super::switches::log_verify(ctx, env);
    // 1. Nothing that looks like our marking survives from outside.
    let mut msg = Message::parse(message);
    let forged = msg.remove_prefixed(HEADER_PREFIX);
    let subject = msg.get_text("Subject").map(|s| {
        if env.client.auth_user.is_some() || env.client.trusted_network {
            // Our own users' mail to a colleague: their control tags and codes mean nothing
            // here and must not show.
            super::outbound::controls(ctx, &s).subject
        } else {
            super::marks::strip(&ctx.cfg.mark, &s)
        }
    });
    if forged > 0 {
        tracing::info!(id = %env.id, removed = forged, "removed X-Segl-* headers from incoming mail");
    }
    // The spooled message itself unless a header had to go: a large message is not copied.
    let current: Cow<'_, [u8]> = if forged > 0 {
        Cow::Owned(msg.to_bytes())
    } else {
        Cow::Borrowed(message)
    };
    // Only a message whose whole body is encrypted (or the single entity inside its
    // signature layers) is decrypted (EFAIL).
    let enveloped = super::switches::decrypt(
        ctx,
        env,
        smime::has_encrypted_layer(&current, smime::Limits::default()),
    );
    let mut harvested = false;
    if !enveloped {
        return Ok(vec![one(
            ctx,
            env,
            current,
            subject,
            None,
            rcpts,
            &mut harvested,
        )]);
    }
    let mut groups: Vec<(Vec<Vec<u8>>, DecryptionKeys, Vec<String>)> = Vec::new();
    for r in rcpts {
        let keys = crate::policy::license_gate::decryption_keys_for(ctx, &r);
        let id = keys.identity();
        match groups.iter_mut().find(|g| g.0 == id) {
            Some(g) => g.2.push(r),
            None => groups.push((id, keys, vec![r])),
        }
    }
    let outputs: Vec<Output> = groups
        .into_iter()
        .map(|(_, keys, rcpts)| {
            one(
                ctx,
                env,
                current.clone(),
                subject.clone(),
                Some(&keys),
                rcpts,
                &mut harvested,
            )
        })
        .collect();
    Ok(dedupe(outputs))
}

/// Digital Post routing can send copies of several recipient groups to the same rule
/// recipients: each recipient gets one copy (the first), and copies left without recipients go.
fn dedupe(outputs: Vec<Output>) -> Vec<Output> {
    let mut seen: Vec<String> = vec![];
    outputs
        .into_iter()
        .filter_map(|mut o| {
            o.recipients.retain(|r| {
                let new = !seen.contains(r);
                if new {
                    seen.push(r.clone());
                }
                new
            });
            (!o.recipients.is_empty()).then_some(o)
        })
        .collect()
}

/// Decrypt (with `keys`, when the message is encrypted), verify, harvest and mark one copy.
fn one(
    ctx: &PolicyCtx,
    env: &Envelope,
    current: Cow<'_, [u8]>,
    subject: Option<String>,
    keys: Option<&DecryptionKeys>,
    rcpts: Vec<String>,
    harvested: &mut bool,
) -> Output {
    // 2 + 3. Decrypt (whole body, or the entity inside a signature: EFAIL) and verify every
    // signature layer.
    let mut walk = layers::walk(ctx, &env.id, current, keys, &rcpts);

    // 4. Harvest every valid layer's certificate (once per message).
    if !*harvested {
        *harvested = true;
        for v in &walk.signatures {
            if let Some((cert, address, pending)) = &v.harvest {
                harvest(ctx, &env.id, address, cert, *pending);
            }
        }
    }

    // Digital Post distribution (trusted DP mail only; decided before anything is wrapped).
    let routed = super::digital_post::route(
        ctx,
        &env.id,
        &super::digital_post::Evidence {
            decrypted_with: walk.decrypted_with.as_ref(),
            valid_signer: walk.evidence_signer(),
            inner: walk.inner_entity.as_deref(),
            message: &walk.deliver,
        },
    );

    // 5. Proof and warning parts: wrap the untouched entity.
    let from = mime::from_address(&walk.deliver).map(|a| crate::address::normalize(&a));
    let attach = attachments(ctx, &walk, from.as_deref());
    // The message is taken out of the walk, not copied (a large one is not held once more).
    let current = {
        let delivered = std::mem::take(&mut walk.deliver);
        if attach.is_empty() {
            delivered
        } else {
            Cow::Owned(parts::wrap(&delivered, &attach))
        }
    };

    // 6. Mark.
    let mut out = Message::parse(&current);
    let prefixes = subject_prefixes(&ctx.cfg.mark, &walk, from.as_deref());
    let mut new_subject: Vec<&str> = prefixes
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    let base_subject = subject.clone().unwrap_or_default();
    if !base_subject.is_empty() {
        new_subject.push(&base_subject);
    }
    let new_subject = new_subject.join(" ");
    if subject.is_some() || !new_subject.is_empty() {
        out.set_subject(&new_subject);
    }
    verdict_fields(ctx, &walk, &mut out);
    let rcpts = match routed {
        Some(r) => {
            out.prepend("X-Segl-Routed", &format!("digital-post {}", r.why));
            r.recipients
        }
        None => rcpts,
    };
    Output {
        recipients: rcpts,
        mail_from: None,
        content: Content::New(out.to_bytes()),
    }
}

/// The proof part (a valid signature, `mark.proof_part`) and the warning part (problems,
/// `mark.warning_part`) for the reader.
fn attachments(
    ctx: &PolicyCtx,
    walk: &layers::Walk,
    from: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mark = &ctx.cfg.mark;
    let status = walk.overall().map_or(SigStatus::None, |v| v.status);
    let mut attach: Vec<(&str, String)> = Vec::new();
    if mark.proof_part && status == SigStatus::Valid {
        let proofs: Vec<String> = walk
            .signatures
            .iter()
            .filter_map(|v| {
                Some(parts::proof_text(
                    ctx.texts(),
                    &parts::Proof {
                        signer: v.valid_signer()?,
                        signer_name: &v.signer,
                        from,
                        pinned: v.pinned,
                        decrypted: walk.encryption == Encryption::Decrypted,
                        verified_at: walk.verified_at,
                    },
                ))
            })
            .collect();
        attach.push((parts::PROOF_NAME, proofs.join("\n")));
    }
    let problems = walk.problems();
    if mark.warning_part && !problems.is_empty() {
        attach.push((
            parts::WARNING_NAME,
            parts::warning_text(ctx.texts(), &problems, walk.verified_at),
        ));
    }
    attach
}

/// The subject prefixes for the reader: encryption first, then the signature verdict (a valid
/// domain signature names the sender's domain).
fn subject_prefixes(
    mark: &crate::config::MarkConfig,
    walk: &layers::Walk,
    from: Option<&str>,
) -> Vec<String> {
    let overall = walk.overall();
    let status = overall.map_or(SigStatus::None, |v| v.status);
    let mut prefixes: Vec<String> = vec![];
    match walk.encryption {
        Encryption::Decrypted => prefixes.push(mark.encrypted.clone()),
        Encryption::Failed => prefixes.push(mark.decrypt_failed.clone()),
        Encryption::None => {}
    }
    let domain_signed = overall
        .and_then(Verdict::valid_signer)
        .is_some_and(|s| s.address_match == AddressMatch::Domain);
    match status {
        SigStatus::Valid if domain_signed => prefixes.push(
            from.and_then(domain_of)
                .map(|d| mark.domain_prefix(&d))
                .unwrap_or_else(|| mark.signed.clone()),
        ),
        SigStatus::Valid => prefixes.push(mark.signed.clone()),
        SigStatus::Invalid => prefixes.push(mark.invalid.clone()),
        SigStatus::Untrusted => prefixes.push(mark.untrusted.clone()),
        SigStatus::None => {}
    }
    prefixes
}

/// The `X-Segl-*` verdict fields: overall signature, encryption, then one per layer.
fn verdict_fields(ctx: &PolicyCtx, walk: &layers::Walk, out: &mut Message) {
    // Prepending puts the last field first: layers go in innermost first so that they read
    // outermost first, below the overall verdict.
    for v in walk.signatures.iter().rev() {
        out.prepend("X-Segl-Signature-Layer", &v.field());
    }
    // A switched-off stage writes no verdict ([`super::switches`]).
    if ctx.cfg.decrypt.enabled {
        out.prepend("X-Segl-Encryption", walk.encryption.as_str());
    }
    if ctx.cfg.verify.enabled {
        out.prepend(
            "X-Segl-Signature",
            &walk
                .overall()
                .map_or_else(|| SigStatus::None.as_str().to_string(), Verdict::field),
        );
    }
}

fn harvest(ctx: &PolicyCtx, id: &str, address: &str, cert: &Certificate, pending: bool) {
    match ctx.keystore.add_harvested(address, cert, pending) {
        Ok(rec) => {
            tracing::info!(id, from = %address, partner = %rec.id, pending = rec.pending, "signer certificate harvested")
        }
        Err(e) => {
            tracing::warn!(id, from = %address, error = %e, "cannot store harvested certificate")
        }
    }
}
