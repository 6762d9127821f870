//! Inbound mail (DESIGN §4): strip forged markings, decrypt (whole body only), verify, mark the
//! result for the reader, harvest the signer's certificate.
//!
//! Only the top-level header block is edited (Subject prefix, `X-Segl-*` fields); the body —
//! and with it everything a signature covers — is delivered byte for byte as it came out of the
//! decryption (or as it arrived). The signature layer is kept, so the reader's client can check
//! it again. A failed decryption is delivered as it came, marked; nothing goes back to the sender.

use std::time::SystemTime;

use super::headers::{remove_tag, Message};
use super::{Content, Output, PolicyCtx, ProcessError, HEADER_PREFIX};
use crate::config::HarvestMode;
use crate::smime::decrypt::is_enveloped;
use crate::smime::mime::{self, Entity};
use crate::smime::verify::signed_kind;
use crate::smime::{self, certs, AddressMatch, Certificate, VerifyReport};
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

/// Judges one signature layer: (status, signer, reason, certificate to harvest with "pending").
fn judge(
    ctx: &PolicyCtx,
    report: &VerifyReport,
    partners: &[Certificate],
) -> (SigStatus, String, String, Option<(Certificate, bool)>) {
    let ks = &ctx.keystore;
    let Some(s) = report.signers.first() else {
        return (SigStatus::Invalid, String::new(), "no signer".into(), None);
    };
    let Some(cert) = &s.certificate else {
        return (
            SigStatus::Invalid,
            String::new(),
            "signer certificate missing".into(),
            None,
        );
    };
    let signer = signer_name(cert);
    if let Err(e) = &s.signature {
        return (SigStatus::Invalid, signer, e.to_string(), None);
    }
    if ks.is_revoked(cert) {
        return (
            SigStatus::Invalid,
            signer,
            "signer certificate revoked".into(),
            None,
        );
    }
    // Every further signer must be correct as well.
    for other in report.signers.iter().skip(1) {
        if let Err(e) = &other.signature {
            return (SigStatus::Invalid, signer, e.to_string(), None);
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
        return (
            SigStatus::Untrusted,
            signer,
            "the signer certificate does not name the From address".into(),
            None,
        );
    }
    let harvest = match ctx.cfg.harvest.mode {
        HarvestMode::Off => None,
        HarvestMode::Auto => Some((cert.clone(), !(chain_ok || pinned))),
        HarvestMode::Manual => Some((cert.clone(), true)),
    };
    if chain_ok || pinned {
        (SigStatus::Valid, signer, String::new(), harvest)
    } else {
        (SigStatus::Untrusted, signer, problems, harvest)
    }
}

/// The output for the inbound (local) recipients of one message.
pub fn process(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
) -> Result<Output, ProcessError> {
    let ks = &ctx.keystore;
    // 1. Nothing that looks like our marking survives from outside.
    let mut msg = Message::parse(message);
    let forged = msg.remove_prefixed(HEADER_PREFIX);
    let mut subject = msg.get("Subject");
    if let Some(s) = &subject {
        let mut t = s.clone();
        for p in ctx.cfg.mark.prefixes() {
            t = remove_tag(&t, p).0;
        }
        subject = Some(t);
    }
    if forged > 0 {
        tracing::info!(id = %env.id, removed = forged, "removed X-Segl-* headers from incoming mail");
    }
    let mut current = msg.to_bytes();

    // 2. Decrypt (whole body only: EFAIL).
    let mut encryption = "none";
    if let Ok(e) = Entity::parse(&current) {
        if is_enveloped(&e) {
            let keys = ks.decryption_keys();
            match smime::decrypt(&current, &keys) {
                Ok(d) => {
                    tracing::info!(id = %env.id, cipher = d.info.cipher.name(), key = %d.info.recipient, "decrypted");
                    encryption = "decrypted";
                    // Headers inside the encrypted part are the sender's too.
                    let mut inner = Message::parse(&d.message);
                    inner.remove_prefixed(HEADER_PREFIX);
                    current = inner.to_bytes();
                }
                Err(e) => {
                    // Delivered as it came; never reported back to the sender.
                    tracing::warn!(id = %env.id, error = %e, "cannot decrypt; delivered as it came");
                    encryption = "failed";
                }
            }
        }
    }

    // 3. Verify.
    let mut status = SigStatus::None;
    let mut signer = String::new();
    let mut reason = String::new();
    let mut harvest = None;
    if encryption != "failed" {
        if let Ok(e) = Entity::parse(&current) {
            if signed_kind(&e).is_some() {
                let anchors = ks.trust_anchors();
                let partners = ks.partner_certificates();
                match smime::verify(&current, &anchors, &partners, SystemTime::now()) {
                    Ok(report) => {
                        (status, signer, reason, harvest) = judge(ctx, &report, &partners);
                    }
                    Err(e) => {
                        status = SigStatus::Invalid;
                        reason = e.to_string();
                    }
                }
                tracing::info!(id = %env.id, signature = status.as_str(), signer = %signer, reason = %reason, "signature checked");
            }
        }
    }

    // 4. Harvest.
    let from = mime::from_address(&current).map(|a| a.trim().to_ascii_lowercase());
    if let (Some((cert, pending)), Some(from)) = (harvest, from) {
        match ks.add_harvested(&from, &cert, pending) {
            Ok(rec) => {
                tracing::info!(id = %env.id, from = %from, partner = %rec.id, pending = rec.pending, "signer certificate harvested")
            }
            Err(e) => {
                tracing::warn!(id = %env.id, from = %from, error = %e, "cannot store harvested certificate")
            }
        }
    }

    // 5. Mark.
    let mark = &ctx.cfg.mark;
    let mut prefixes: Vec<&str> = vec![];
    match encryption {
        "decrypted" => prefixes.push(&mark.encrypted),
        "failed" => prefixes.push(&mark.decrypt_failed),
        _ => {}
    }
    match status {
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
    Ok(Output {
        recipients: rcpts,
        mail_from: None,
        content: Content::New(out.to_bytes()),
    })
}
