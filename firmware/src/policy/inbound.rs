//! Inbound mail (DESIGN §4): strip forged markings, decrypt (whole body only), verify, mark the
//! result for the reader, harvest the signer's certificate.
//!
//! Only the top-level header block is edited (Subject prefix, `X-Segl-*` fields); the body —
//! and with it everything a signature covers — is delivered byte for byte as it came out of the
//! decryption (or as it arrived). The signature layer is kept, so the reader's client can check
//! it again. A failed decryption is delivered as it came, marked; nothing goes back to the sender.
//!
//! Proof (`signatur-bevis.txt`) and warning (`Advarsel.txt`) parts are added by wrapping the
//! untouched entity in a new `multipart/mixed` ([`super::parts`]). Encrypted mail is decrypted
//! per group of envelope recipients, each only with the keys allowed for it.

use std::time::SystemTime;

use super::fields::Message;
use super::parts::{self, Problem};
use super::{Content, Output, PolicyCtx, ProcessError, HEADER_PREFIX};
use crate::config::HarvestMode;
use crate::keystore::DecryptionKeys;
use crate::smime::decrypt::is_enveloped;
use crate::smime::mime::{self, Entity};
use crate::smime::verify::signed_kind;
use crate::smime::{self, certs, AddressMatch, Certificate, VerifyReport};
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// The signature verdict, as written into `X-Segl-Signature`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigStatus {
    Valid,
    Invalid,
    Untrusted,
    None,
}

impl SigStatus {
    fn as_str(self) -> &'static str {
        match self {
            SigStatus::Valid => "valid",
            SigStatus::Invalid => "invalid",
            SigStatus::Untrusted => "untrusted",
            SigStatus::None => "none",
        }
    }
}

fn signer_name(cert: &Certificate) -> String {
    certs::email_addresses(cert)
        .into_iter()
        .next()
        .unwrap_or_else(|| cert.tbs_certificate().subject().to_string())
}

/// The judgement of one signature layer.
struct Verdict {
    status: SigStatus,
    signer: String,
    reason: String,
    /// The certificate to harvest, and whether it waits for approval.
    harvest: Option<(Certificate, bool)>,
    /// What `Advarsel.txt` says (none for a valid signature).
    problem: Option<Problem>,
    /// The signer certificate is a pinned partner certificate.
    pinned: bool,
}

impl Verdict {
    fn bad(status: SigStatus, signer: String, reason: String, problem: Problem) -> Verdict {
        Verdict {
            status,
            signer,
            reason,
            harvest: None,
            problem: Some(problem),
            pinned: false,
        }
    }
}

/// Judges one signature layer.
fn judge(ctx: &PolicyCtx, report: &VerifyReport, partners: &[Certificate]) -> Verdict {
    let ks = &ctx.keystore;
    let invalid = |signer: String, reason: String| {
        Verdict::bad(
            SigStatus::Invalid,
            signer.clone(),
            reason.clone(),
            Problem::InvalidSignature { signer, reason },
        )
    };
    let Some(s) = report.signers.first() else {
        return invalid(String::new(), "no signer".into());
    };
    let Some(cert) = &s.certificate else {
        return invalid(String::new(), "signer certificate missing".into());
    };
    let signer = signer_name(cert);
    if let Err(e) = &s.signature {
        return invalid(signer, e.to_string());
    }
    if ks.is_revoked(cert) {
        return Verdict::bad(
            SigStatus::Invalid,
            signer.clone(),
            "signer certificate revoked".into(),
            Problem::Revoked { signer },
        );
    }
    // Every further signer must be correct as well.
    for other in report.signers.iter().skip(1) {
        if let Err(e) = &other.signature {
            return invalid(signer, e.to_string());
        }
    }
    let chain_ok = s.chain.as_ref().is_some_and(|c| c.trusted);
    let pinned = partners.contains(cert);
    let problems = s
        .chain
        .as_ref()
        .map(|c| c.problems.join("; "))
        .unwrap_or_default();
    if s.address_match == AddressMatch::NoMatch {
        let reason = "the signer certificate does not name the From address".to_string();
        return Verdict::bad(
            SigStatus::Untrusted,
            signer.clone(),
            reason.clone(),
            Problem::Untrusted { signer, reason },
        );
    }
    let harvest = match ctx.cfg.harvest.mode {
        HarvestMode::Off => None,
        HarvestMode::Auto => Some((cert.clone(), !(chain_ok || pinned))),
        HarvestMode::Manual => Some((cert.clone(), true)),
    };
    if chain_ok || pinned {
        Verdict {
            status: SigStatus::Valid,
            signer,
            reason: String::new(),
            harvest,
            problem: None,
            pinned,
        }
    } else {
        Verdict {
            status: SigStatus::Untrusted,
            signer: signer.clone(),
            reason: problems.clone(),
            harvest,
            problem: Some(Problem::Untrusted {
                signer,
                reason: problems,
            }),
            pinned,
        }
    }
}

/// The outputs for the inbound (local) recipients of one message: one per group of recipients
/// whose keys allowed to decrypt are the same (an own key decrypts only for the addresses its
/// certificate names, a mailbox key for its mailbox, a domain key for its domain).
pub fn process(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
) -> Result<Vec<Output>, ProcessError> {
    // 1. Nothing that looks like our marking survives from outside.
    let mut msg = Message::parse(message);
    let forged = msg.remove_prefixed(HEADER_PREFIX);
    let subject = msg.get_text("Subject").map(|s| {
        if env.client.auth_user.is_some() || env.client.trusted_network {
            // Our own users' mail to a colleague: their control tags and codes mean nothing
            // here and must not show.
            super::outbound::controls(ctx, &s).subject
        } else {
            ctx.cfg.mark.strip(&s)
        }
    });
    if forged > 0 {
        tracing::info!(id = %env.id, removed = forged, "removed X-Segl-* headers from incoming mail");
    }
    let current = msg.to_bytes();
    // Only a message whose whole body is encrypted is decrypted (EFAIL).
    let enveloped = Entity::parse(&current).is_ok_and(|e| is_enveloped(&e));
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
        let keys = crate::license::gate::decryption_keys_for(ctx, &r);
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
    mut current: Vec<u8>,
    subject: Option<String>,
    keys: Option<&DecryptionKeys>,
    rcpts: Vec<String>,
    harvested: &mut bool,
) -> Output {
    let ks = &ctx.keystore;
    let mut problems: Vec<Problem> = Vec::new();
    // 2. Decrypt (whole body only: EFAIL).
    let mut encryption = "none";
    let mut decrypted_with: Option<Certificate> = None;
    let mut inner_entity: Option<Vec<u8>> = None;
    if let Some(keys) = keys {
        match smime::decrypt(&current, keys) {
            Ok(d) => {
                tracing::info!(id = %env.id, cipher = d.info.cipher.name(), key = %d.info.recipient, rcpts = ?rcpts, "decrypted");
                encryption = "decrypted";
                // Headers inside the encrypted part are the sender's too.
                let mut inner = Message::parse(&d.message);
                inner.remove_prefixed(HEADER_PREFIX);
                current = inner.to_bytes();
                // Kept (moved, not copied) for the Digital Post check.
                decrypted_with = Some(*d.info.recipient_cert);
                inner_entity = Some(d.entity);
            }
            Err(e) => {
                // Delivered as it came; never reported back to the sender.
                tracing::warn!(id = %env.id, error = %e, keys = keys.len(), rcpts = ?rcpts, "cannot decrypt for these recipients; delivered as it came");
                encryption = "failed";
                problems.push(Problem::NotDecrypted);
            }
        }
    }

    // 3. Verify.
    let verified_at = SystemTime::now();
    let from = mime::from_address(&current).map(|a| a.trim().to_ascii_lowercase());
    let mut status = SigStatus::None;
    let mut signer = String::new();
    let mut reason = String::new();
    let mut harvest = None;
    let mut proof = None;
    let mut domain_signed = false;
    let mut valid_signer: Option<Certificate> = None;
    if encryption != "failed" {
        if let Ok(e) = Entity::parse(&current) {
            if signed_kind(&e).is_some() {
                let anchors = ks.trust_anchors();
                let partners = ks.partner_certificates();
                match smime::verify(&current, &anchors, &partners, verified_at) {
                    Ok(report) => {
                        let v = judge(ctx, &report, &partners);
                        (status, signer, reason, harvest) =
                            (v.status, v.signer, v.reason, v.harvest);
                        problems.extend(v.problem);
                        if let (SigStatus::Valid, Some(s)) = (status, report.signers.first()) {
                            domain_signed = s.address_match == AddressMatch::Domain;
                            valid_signer = s.certificate.clone();
                            if ctx.cfg.mark.proof_part {
                                proof = Some(parts::proof_text(
                                    ctx.texts(),
                                    &parts::Proof {
                                        signer: s,
                                        signer_name: &signer,
                                        from: from.as_deref(),
                                        pinned: v.pinned,
                                        decrypted: encryption == "decrypted",
                                        verified_at,
                                    },
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        status = SigStatus::Invalid;
                        reason = e.to_string();
                        problems.push(Problem::InvalidSignature {
                            signer: String::new(),
                            reason: reason.clone(),
                        });
                    }
                }
                tracing::info!(id = %env.id, signature = status.as_str(), signer = %signer, reason = %reason, "signature checked");
            }
        }
    }

    // 4. Harvest (once per message).
    if let (Some((cert, pending)), Some(from), false) = (harvest, from.as_deref(), *harvested) {
        *harvested = true;
        match ks.add_harvested(from, &cert, pending) {
            Ok(rec) => {
                tracing::info!(id = %env.id, from = %from, partner = %rec.id, pending = rec.pending, "signer certificate harvested")
            }
            Err(e) => {
                tracing::warn!(id = %env.id, from = %from, error = %e, "cannot store harvested certificate")
            }
        }
    }

    // Digital Post distribution (trusted DP mail only; decided before anything is wrapped).
    let routed = super::digital_post::route(
        ctx,
        &env.id,
        &super::digital_post::Evidence {
            decrypted_with: decrypted_with.as_ref(),
            valid_signer: valid_signer.as_ref(),
            inner: inner_entity.as_deref(),
            message: &current,
        },
    );

    // 5. Proof and warning parts: wrap the untouched entity.
    let mark = &ctx.cfg.mark;
    let mut attach: Vec<(&str, String)> = Vec::new();
    if let Some(p) = proof {
        attach.push((parts::PROOF_NAME, p));
    }
    if mark.warning_part && !problems.is_empty() {
        attach.push((
            parts::WARNING_NAME,
            parts::warning_text(ctx.texts(), &problems, verified_at),
        ));
    }
    if !attach.is_empty() {
        current = parts::wrap(&current, &attach);
    }

    // 6. Mark.
    let domain_prefix = from
        .as_deref()
        .and_then(domain_of)
        .map(|d| mark.domain_prefix(&d))
        .unwrap_or_else(|| mark.signed.clone());
    let mut prefixes: Vec<&str> = vec![];
    match encryption {
        "decrypted" => prefixes.push(&mark.encrypted),
        "failed" => prefixes.push(&mark.decrypt_failed),
        _ => {}
    }
    match status {
        SigStatus::Valid if domain_signed => prefixes.push(&domain_prefix),
        SigStatus::Valid => prefixes.push(&mark.signed),
        SigStatus::Invalid => prefixes.push(&mark.invalid),
        SigStatus::Untrusted => prefixes.push(&mark.untrusted),
        SigStatus::None => {}
    }
    let mut out = Message::parse(&current);
    let mut new_subject: Vec<&str> = prefixes
        .into_iter()
        .map(str::trim)
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
    out.prepend("X-Segl-Encryption", encryption);
    let mut sig = status.as_str().to_string();
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && *c != ';')
            .take(200)
            .collect()
    };
    if !signer.is_empty() {
        sig.push_str(&format!("; signer={}", clean(&signer)));
    }
    if !reason.is_empty() && status != SigStatus::Valid {
        sig.push_str(&format!(
            "; reason=\"{}\"",
            clean(&reason).replace('"', "'")
        ));
    }
    out.prepend("X-Segl-Signature", &sig);
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
