//! The S/MIME layers of one inbound copy, from the outside in: decrypt what is encrypted as a
//! whole (the message body, or the single entity inside a signature layer: encrypted, then
//! signed), and judge every signature layer on the way (opaque over clear-signed, signed
//! inside encrypted, encrypted inside signed, …).
//!
//! What the reader gets: the message as it came, signature layers and all, so that the
//! reader's own client can verify them again — except where a layer was decrypted. Then the
//! reader gets the decrypted message (a signature *over* the ciphertext cannot be kept, it is
//! recorded instead; signatures inside the decrypted content stay).
//!
//! The overall verdict is the worst layer's (invalid, then untrusted, then valid): one bad
//! layer must never be hidden by a good one around it.

use std::borrow::Cow;
use std::time::SystemTime;

use super::fields::Message;
use super::parts::Problem;
use super::{PolicyCtx, HEADER_PREFIX};
use crate::config::HarvestMode;
use crate::keystore::DecryptionKeys;
use crate::smime::decrypt::is_enveloped;
use crate::smime::mime::{self, Entity};
use crate::smime::verify::signed_kind;
use crate::smime::{self, certs, AddressMatch, Certificate, Limits, VerifyReport};

/// The signature verdict, as written into `X-Segl-Signature` and `X-Segl-Signature-Layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigStatus {
    Valid,
    Invalid,
    Untrusted,
    None,
}

impl SigStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SigStatus::Valid => "valid",
            SigStatus::Invalid => "invalid",
            SigStatus::Untrusted => "untrusted",
            SigStatus::None => "none",
        }
    }

    /// How bad a verdict is, for "the worst layer wins".
    fn severity(self) -> u8 {
        match self {
            SigStatus::Invalid => 3,
            SigStatus::Untrusted => 2,
            SigStatus::Valid => 1,
            SigStatus::None => 0,
        }
    }
}

/// What happened to the encryption of the message, as written into `X-Segl-Encryption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// Not encrypted.
    None,
    /// Decrypted by the gateway.
    Decrypted,
    /// Encrypted, and no key of these recipients could decrypt it (delivered as it came).
    Failed,
}

impl Encryption {
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::Decrypted => "decrypted",
            Encryption::Failed => "failed",
        }
    }
}

/// The judgement of one signature layer.
pub struct Verdict {
    pub status: SigStatus,
    pub signer: String,
    pub reason: String,
    /// The certificate to harvest, the address to file it under, and whether it waits for
    /// approval.
    pub harvest: Option<(Certificate, String, bool)>,
    /// What `Advarsel.txt` says (none for a valid signature).
    pub problem: Option<Problem>,
    /// The signer certificate is a pinned partner certificate.
    pub pinned: bool,
    /// The verification report (none when the layer could not be read at all; the walk
    /// stops there).
    pub report: Option<VerifyReport>,
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
            report: None,
        }
    }

    fn invalid(signer: String, reason: String) -> Verdict {
        Verdict::bad(
            SigStatus::Invalid,
            signer.clone(),
            reason.clone(),
            Problem::InvalidSignature { signer, reason },
        )
    }

    /// The first signer's report, for a valid layer.
    pub fn valid_signer(&self) -> Option<&smime::SignerReport> {
        (self.status == SigStatus::Valid)
            .then(|| self.report.as_ref()?.signers.first())
            .flatten()
    }

    /// The field value: `valid; signer=…` or `invalid; signer=…; reason="…"`.
    pub fn field(&self) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .filter(|c| !c.is_control() && *c != ';')
                .take(200)
                .collect()
        };
        let mut f = self.status.as_str().to_string();
        if !self.signer.is_empty() {
            f.push_str(&format!("; signer={}", clean(&self.signer)));
        }
        if !self.reason.is_empty() && self.status != SigStatus::Valid {
            f.push_str(&format!(
                "; reason=\"{}\"",
                clean(&self.reason).replace('"', "'")
            ));
        }
        f
    }
}

fn signer_name(cert: &Certificate) -> String {
    certs::email_addresses(cert)
        .into_iter()
        .next()
        .unwrap_or_else(|| cert.tbs_certificate().subject().to_string())
}

/// Judges one signature layer. The signer of the `outermost` layer must be named by the From
/// address (it vouches for the message as it arrived); an inner layer is content that someone
/// signed earlier (a forwarded, re-signed message) and is judged on its signature and chain,
/// with its own signer reported.
fn judge(
    ctx: &PolicyCtx,
    report: &VerifyReport,
    partners: &[Certificate],
    from: Option<&str>,
    outermost: bool,
) -> Verdict {
    let ks = &ctx.keystore;
    let Some(s) = report.signers.first() else {
        return Verdict::invalid(String::new(), "no signer".into());
    };
    let Some(cert) = s.certificate.clone() else {
        return Verdict::invalid(String::new(), "signer certificate missing".into());
    };
    let signer = signer_name(&cert);
    if let Err(e) = &s.signature {
        return Verdict::invalid(signer, e.to_string());
    }
    if ks.is_revoked(&cert) {
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
            return Verdict::invalid(signer, e.to_string());
        }
    }
    let chain_ok = s.chain.as_ref().is_some_and(|c| c.trusted);
    let pinned = partners.contains(&cert);
    let problems = s
        .chain
        .as_ref()
        .map(|c| c.problems.join("; "))
        .unwrap_or_default();
    let names_from = s.address_match != AddressMatch::NoMatch;
    if outermost && !names_from {
        let reason = "the signer certificate does not name the From address".to_string();
        return Verdict::bad(
            SigStatus::Untrusted,
            signer.clone(),
            reason.clone(),
            Problem::Untrusted { signer, reason },
        );
    }
    // Filed under the From address only when the certificate names it; an inner signer under
    // its own address.
    let file_under = match (names_from, from) {
        (true, Some(f)) => Some(f.to_string()),
        _ => certs::email_addresses(&cert).into_iter().next(),
    };
    let harvest = match (ctx.cfg.harvest.mode, file_under) {
        (HarvestMode::Off, _) | (_, None) => None,
        (HarvestMode::Auto, Some(a)) => Some((cert.clone(), a, !(chain_ok || pinned))),
        (HarvestMode::Manual, Some(a)) => Some((cert.clone(), a, true)),
    };
    let (status, reason, problem) = if chain_ok || pinned {
        (SigStatus::Valid, String::new(), None)
    } else {
        let problem = Problem::Untrusted {
            signer: signer.clone(),
            reason: problems.clone(),
        };
        (SigStatus::Untrusted, problems, Some(problem))
    };
    Verdict {
        status,
        signer,
        reason,
        harvest,
        problem,
        pinned,
        report: None,
    }
}

/// What the walk found.
pub struct Walk<'a> {
    /// What the reader gets (before proof/warning parts and marking): the spooled message
    /// itself, borrowed, until a layer is removed.
    pub deliver: Cow<'a, [u8]>,
    pub encryption: Encryption,
    /// One verdict per signature layer, outermost first.
    pub signatures: Vec<Verdict>,
    /// The certificate of the key that decrypted the message.
    pub decrypted_with: Option<Certificate>,
    /// The header block of the decrypted entity (inside the encryption), for Digital Post
    /// routing; only the headers, so a large message is not held twice.
    pub inner_entity: Option<Vec<u8>>,
    /// The index (in `signatures`) of the signature layer directly around the decrypted
    /// content: the one right inside the encryption, else the one right outside it.
    pub around_decrypted: Option<usize>,
    /// When the signatures were verified.
    pub verified_at: SystemTime,
}

impl Walk<'_> {
    /// The verdict of the worst layer (the outermost of equally bad ones).
    pub fn overall(&self) -> Option<&Verdict> {
        self.signatures
            .iter()
            .rev()
            .max_by_key(|v| v.status.severity())
    }

    /// The valid signer certificate of the layer around the decrypted content (Digital Post),
    /// or of the outermost layer for mail that was not encrypted.
    pub fn evidence_signer(&self) -> Option<&Certificate> {
        let i = match self.encryption {
            Encryption::Decrypted => self.around_decrypted?,
            _ => 0,
        };
        self.signatures.get(i)?.valid_signer()?.certificate.as_ref()
    }

    /// Every problem found, in layer order.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.encryption == Encryption::Failed {
            out.push(Problem::NotDecrypted);
        }
        out.extend(self.signatures.iter().filter_map(|v| v.problem.clone()));
        out
    }
}

/// Walks the layers of `message` (a copy for recipients who may use `keys`).
pub fn walk<'a>(
    ctx: &PolicyCtx,
    id: &str,
    message: Cow<'a, [u8]>,
    keys: Option<&DecryptionKeys>,
    rcpts: &[String],
) -> Walk<'a> {
    let limits = Limits::default();
    let mut w = Walk {
        deliver: message,
        encryption: Encryption::None,
        signatures: Vec::new(),
        decrypted_with: None,
        inner_entity: None,
        around_decrypted: None,
        verified_at: SystemTime::now(),
    };
    // `None`: the layer being looked at is the delivered message itself.
    let mut current: Option<Vec<u8>> = None;
    let mut certs = None;
    // How many signature layers had been seen when the decryption happened.
    let mut decrypted_at: Option<usize> = None;
    for depth in 0..limits.max_depth {
        let msg = current.as_deref().unwrap_or(&w.deliver);
        let Ok(e) = Entity::parse(msg) else { break };
        if is_enveloped(&e) {
            let Some(keys) = keys else { break };
            match decrypt_layer(id, depth, msg, keys, rcpts, &w.signatures) {
                Some(d) => {
                    // Headers inside the encrypted part are the sender's too.
                    w.inner_entity = Some(d.entity_headers().to_vec());
                    w.deliver = Cow::Owned(without_our_headers(d.message));
                    current = None;
                    w.encryption = Encryption::Decrypted;
                    w.decrypted_with = Some(*d.info.recipient_cert);
                    decrypted_at = Some(w.signatures.len());
                    continue;
                }
                None => {
                    w.encryption = Encryption::Failed;
                    break;
                }
            }
        }
        // With verification switched off, signature layers are not opened.
        if signed_kind(&e).is_none() || !ctx.cfg.verify.enabled {
            break;
        }
        let (anchors, partners) = certs.get_or_insert_with(|| {
            (
                ctx.keystore.trust_anchors(),
                ctx.keystore.partner_certificates(),
            )
        });
        let outermost = w.signatures.is_empty();
        let mut verdict = check_layer(ctx, msg, anchors, partners, w.verified_at, outermost);
        tracing::info!(id, signature = verdict.status.as_str(), signer = %verdict.signer, reason = %verdict.reason, depth, "signature checked");
        // A bad layer is still looked into: the layers inside get their own verdicts.
        // The content moves on (the report keeps the verdict, not a second copy).
        current = verdict
            .report
            .as_mut()
            .map(|r| std::mem::take(&mut r.content));
        w.signatures.push(verdict);
        if current.is_none() {
            break;
        }
    }
    // The signature directly inside the decryption wins over the one outside it.
    w.around_decrypted = decrypted_at.and_then(|n| {
        if w.signatures.len() > n {
            Some(n)
        } else {
            n.checked_sub(1)
        }
    });
    w
}

/// `message` without header fields in our namespace, copied only when it has some.
fn without_our_headers(message: Vec<u8>) -> Vec<u8> {
    let mut m = Message::parse(&message);
    if m.remove_prefixed(HEADER_PREFIX) == 0 {
        return message;
    }
    m.to_bytes()
}

/// Decrypts the enveloped layer `msg` with `keys`; `None` when it is not (to be) decrypted.
/// The message is then delivered as it came; nothing is ever reported back to the sender.
fn decrypt_layer(
    id: &str,
    depth: usize,
    msg: &[u8],
    keys: &DecryptionKeys,
    rcpts: &[String],
    outer: &[Verdict],
) -> Option<smime::Decrypted> {
    if outer.iter().any(|v| v.status == SigStatus::Invalid) {
        // Encrypted, then signed, and the signature over the ciphertext fails: the ciphertext
        // may have been changed (EFAIL's malleability gadgets), so it is not decrypted; the
        // reader gets it as it came.
        tracing::warn!(
            id,
            depth,
            "not decrypted: the signature around the encrypted part is invalid"
        );
        return None;
    }
    match smime::decrypt(msg, keys) {
        Ok(d) => {
            tracing::info!(id, cipher = d.info.cipher.name(), key = %d.info.recipient, rcpts = ?rcpts, depth, "decrypted");
            Some(d)
        }
        Err(err) => {
            tracing::warn!(id, error = %err, keys = keys.len(), rcpts = ?rcpts, "cannot decrypt for these recipients; delivered as it came");
            None
        }
    }
}

/// The verdict on the signature layer `msg`; it carries the verification report (and with it
/// the signed content) when the layer could be read.
fn check_layer(
    ctx: &PolicyCtx,
    msg: &[u8],
    anchors: &[Certificate],
    partners: &[Certificate],
    at: SystemTime,
    outermost: bool,
) -> Verdict {
    let from = mime::from_address(msg).map(|a| crate::address::normalize(&a));
    match smime::verify(msg, anchors, partners, at) {
        Ok(report) => {
            let mut v = judge(ctx, &report, partners, from.as_deref(), outermost);
            v.report = Some(report);
            v
        }
        Err(err) => Verdict::invalid(String::new(), err.to_string()),
    }
}
