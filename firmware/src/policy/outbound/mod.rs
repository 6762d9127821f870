//! Outbound mail: who may sign (DESIGN §6), what is encrypted for whom (§3), and the notice when
//! mandatory encryption is impossible.
//!
//! Split: recipients with a usable certificate share **one** signed-then-encrypted copy with a
//! RecipientInfo for each of their certificates (and the sender's, `encrypt.include_sender`): one
//! signature, one content encryption, one delivery per route — the recipients' names are in the
//! visible To/Cc anyway, and a partner gateway with a domain certificate simply finds its
//! RecipientInfo among the others. The other recipients share one signed-only (or unchanged)
//! copy. Recipients that must get encrypted mail but cannot get nothing; the sender gets one
//! notice from `postmaster@<hostname>` (null sender) naming them and the reason.
//!
//! Function mailboxes ([`super::mailbox`]): a `#K-<id>#` / `#S-<id>#` code or a From that is the
//! mailbox address makes the mailbox key sign (and `#K` encryption mandatory); a sender not
//! allowed to use the mailbox gets a notice, the mail is not signed as the mailbox, and a `#K`
//! mail still goes only encrypted.

mod acting;
mod copies;
mod notice;
mod recipients;

use super::fields::{remove_tag, Message};
use super::mailbox;
use super::marks;
use super::texts::{fill, Texts};
use super::{listed, Content, Output, PolicyCtx, ProcessError, HEADER_PREFIX};
use crate::smime::mime;
use crate::spool::Envelope;

pub(crate) use notice::system_message;

/// Why a message from this client may not be signed with the From address's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrusted {
    /// The SMTP AUTH user does not own the From address.
    NotOwner { user: String, from: String },
    /// No SMTP AUTH, and the client is not a trusted relay.
    NotTrustedRelay { ip: String },
    /// A trusted relay, but the key is not usable without authentication.
    KeyNotListed { from: String, ip: String },
    /// The client's address is unknown.
    NoClientAddress,
}

impl Untrusted {
    /// The reason in the language of `t` (for notices).
    pub fn render(&self, t: &Texts) -> String {
        match self {
            Untrusted::NotOwner { user, from } => {
                fill(t.why_not_owner, &[("user", user), ("from", from)])
            }
            Untrusted::NotTrustedRelay { ip } => fill(t.why_not_relay, &[("ip", ip)]),
            Untrusted::KeyNotListed { from, ip } => {
                fill(t.why_key_not_listed, &[("from", from), ("ip", ip)])
            }
            Untrusted::NoClientAddress => t.why_no_client.to_string(),
        }
    }
}

impl std::fmt::Display for Untrusted {
    /// English, for the log (stable wording that admins grep for).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(&super::texts::EN))
    }
}

/// Whether a message from this client may be signed with the key of `from`.
pub fn sender_trust(ctx: &PolicyCtx, env: &Envelope, from: &str) -> Result<(), Untrusted> {
    let c = &env.client;
    if let Some(user) = &c.auth_user {
        if c.auth_addresses
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(from))
        {
            return Ok(());
        }
        if !c
            .ip
            .is_some_and(|ip| ctx.cfg.sign.trusted_relays.iter().any(|n| n.contains(&ip)))
        {
            return Err(Untrusted::NotOwner {
                user: user.clone(),
                from: from.to_string(),
            });
        }
    }
    let Some(ip) = c.ip else {
        return Err(Untrusted::NoClientAddress);
    };
    if !ctx.cfg.sign.trusted_relays.iter().any(|n| n.contains(&ip)) {
        return Err(Untrusted::NotTrustedRelay { ip: ip.to_string() });
    }
    if !listed(&ctx.cfg.sign.keys_without_auth, from) {
        return Err(Untrusted::KeyNotListed {
            from: from.to_string(),
            ip: ip.to_string(),
        });
    }
    Ok(())
}

/// What the sender asked for in the subject, and the subject without it.
pub struct Controls {
    /// The subject without tags, codes and our inbound markings.
    pub subject: String,
    pub nosign: bool,
    /// The encryption tag found (as configured).
    pub encrypt: Option<String>,
    /// A Comendo control code (#K-<id># / #S-<id>#), always removed from the subject.
    pub code: Option<(mailbox::Code, String)>,
}

/// Reads and removes the sender's controls from a (decoded) subject. Replies carrying our
/// inbound markings (incl. the domain-signature prefix) lose them too.
pub fn controls(ctx: &PolicyCtx, subject: &str) -> Controls {
    // Every configured tag is removed; the first one found is reported.
    let remove_all = |s: String, tags: &[String]| {
        tags.iter()
            .filter(|t| !t.trim().is_empty())
            .fold((s, None), |(s, found), t| {
                let (s, f) = remove_tag(&s, t.trim());
                (s, found.or(f.then(|| t.trim().to_string())))
            })
    };
    let (subj, nosign) = remove_all(subject.to_string(), &ctx.cfg.sign.nosign_tags);
    let (mut subj, encrypt) = remove_all(subj, &ctx.cfg.encrypt.tags);
    let code = mailbox::find_code(&subj);
    if let Some((_, s)) = &code {
        subj = s.clone();
    }
    Controls {
        subject: marks::strip(&ctx.cfg.mark, &subj),
        nosign: nosign.is_some(),
        encrypt,
        code,
    }
}

/// Outputs for the outbound recipients `rcpts` of one message.
pub fn process(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
) -> Result<Vec<Output>, ProcessError> {
    process_as(ctx, env, message, rcpts, None)
}

/// Like [`process`]; with `forced`, the copies go out as from that function mailbox
/// (`[mailboxes.<id>] always_to`, [`super::always_to`]).
///
/// In order: the sender's controls come off the subject; the function-mailbox decision
/// ([`acting`]); who signs ([`signer`]); who gets what ([`recipients`]); the copies
/// ([`copies`]); the portal; the notice and the mailbox receipt for the sender.
pub fn process_as(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
    forced: Option<&super::always_to::Forced>,
) -> Result<Vec<Output>, ProcessError> {
    super::switches::log_outbound(ctx, env);
    let mut msg = Message::parse(message);
    let mut changed = msg.remove_prefixed(HEADER_PREFIX) > 0;
    let subject = msg.get_text("Subject").unwrap_or_default();
    let c = controls(ctx, &subject);
    let (subj, portal_code) = super::portal::take_code(ctx, c.subject);
    if subj != subject {
        msg.set_subject(&subj);
        changed = true;
    }
    let from = mime::from_address(message)
        .map(|a| crate::address::normalize(&a))
        .unwrap_or_default();
    let code = c.code.as_ref().map(|(code, _)| code);
    let sending = acting::decide(ctx, env, &mut msg, &from, code, forced);
    changed |= sending.rewrote_from;
    // The message itself when nothing changed: no copy of a large message.
    let base: std::borrow::Cow<'_, [u8]> = if changed {
        std::borrow::Cow::Owned(msg.to_bytes())
    } else {
        std::borrow::Cow::Borrowed(message)
    };
    let from = sending.acting.as_ref().map_or(from, |a| a.address.clone());
    let signer = signer(ctx, env, &sending, &from, c.nosign);
    let asked = code
        .filter(|_| sending.encrypt)
        .map(|code| code.text.as_str())
        .or(c.encrypt.as_deref());
    let mandatory = recipients::Mandatory {
        asked,
        by_sender: c.encrypt.is_some() || sending.encrypt,
        implicit: sending.implicit,
    };
    let sorted = recipients::sort(ctx, env, &base, rcpts, &mandatory);
    let sent: Vec<(String, bool)> = (sorted.encrypted.iter().map(|(r, _)| (r.clone(), true)))
        .chain(sorted.plain.iter().map(|r| (r.clone(), false)))
        .collect();
    let copies = copies::Copies {
        ctx,
        env,
        original: message,
        base: &base,
        changed,
        from: &from,
        signer: signer.as_ref(),
        domain_signed: sending.acting.is_none()
            && signer
                .as_ref()
                .is_some_and(|(k, _)| super::domain_key::is_domain_signer(ctx, k.as_ref(), &from)),
        mail_from: forced.map(|f| f.address.clone()),
    };
    let mut outputs = copies.encrypted(sorted.encrypted)?;
    outputs.extend(copies.plain(sorted.plain)?);
    if !sorted.portal.is_empty() {
        let code = portal_code.as_deref();
        let held = super::portal::deliver(ctx, env, &base, &subj, code, sorted.portal)?;
        outputs.extend(held);
    }
    outputs.extend(to_sender(ctx, env, &subj, &sending, &sorted.refused, &sent));
    Ok(outputs)
}

/// Who signs: the function mailbox's key, else the sender's own key when the client is trusted
/// to use it (then the licence and the switches have their say).
fn signer(
    ctx: &PolicyCtx,
    env: &Envelope,
    sending: &acting::Sending,
    from: &str,
    nosign: bool,
) -> Option<copies::Signer> {
    let signer = if let Some(a) = &sending.acting {
        if nosign {
            tracing::info!(id = %env.id, "[nosign] ignored: mail sent as a function mailbox is always signed");
        }
        Some((a.key.clone(), a.chain.clone()))
    } else if sending.denied {
        None
    } else if nosign {
        tracing::info!(id = %env.id, from = %from, "not signed: [nosign] in the subject");
        None
    } else if from.is_empty() {
        tracing::info!(id = %env.id, "not signed: no From address");
        None
    } else {
        own_key(ctx, env, from)
    };
    let signer = crate::policy::license_gate::signer(ctx, env, signer);
    super::switches::signer(ctx, signer)
}

/// The sender's own key, when the client may sign with it.
fn own_key(ctx: &PolicyCtx, env: &Envelope, from: &str) -> Option<copies::Signer> {
    let Some(key) = super::auto_issue::signing_key(ctx, env, from) else {
        tracing::debug!(id = %env.id, from = %from, "not signed: no own key for the sender");
        return None;
    };
    match sender_trust(ctx, env, from) {
        Ok(()) => Some((key, ctx.keystore.signing_chain(from))),
        Err(why) => {
            tracing::warn!(id = %env.id, from = %from, reason = %why, "not signed: sender not trusted");
            None
        }
    }
}

/// The notice (refused recipients, mailbox problems) and the function mailbox's receipt.
fn to_sender(
    ctx: &PolicyCtx,
    env: &Envelope,
    subject: &str,
    sending: &acting::Sending,
    refused: &[(String, String)],
    sent: &[(String, bool)],
) -> Vec<Output> {
    let mut outputs = vec![];
    if !refused.is_empty() || !sending.problems.is_empty() {
        if env.mail_from.is_empty() {
            tracing::warn!(id = %env.id, refused = ?refused, problems = ?sending.problems, "null sender: no notice to the sender");
        } else {
            let notice = notice::notice(ctx, env, subject, &sending.problems, refused);
            outputs.push(Output {
                recipients: vec![env.mail_from.clone()],
                mail_from: Some(String::new()),
                content: Content::New(notice),
            });
        }
    }
    if let Some(a) = sending
        .acting
        .as_ref()
        .filter(|_| ctx.cfg.notify.send_receipt)
    {
        if a.employee.is_empty() || sent.is_empty() {
            tracing::debug!(id = %env.id, "no receipt: no employee address or nothing sent");
        } else {
            outputs.push(Output {
                recipients: vec![a.employee.clone()],
                mail_from: Some(String::new()),
                content: Content::New(mailbox::receipt(ctx, env, a, subject, sent)),
            });
        }
    }
    outputs
}
