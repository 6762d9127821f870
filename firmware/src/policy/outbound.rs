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

use super::fields::{remove_tag, Message};
use super::finish;
use super::mailbox::{self, Acting, CodeKind};
use super::marks;
use super::texts::{fill, Texts};
use super::{listed, Content, Output, PolicyCtx, ProcessError, HEADER_PREFIX};
use crate::smime::mime::{self, Entity};
use crate::smime::{self, Certificate, EncryptOptions, PrivateKeyOps, Recipient, SignOptions};
use crate::spool::Envelope;

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

/// Calendar invitations and TNEF are not encrypted (recipients' clients handle them badly).
fn encryption_exempt(entity: &[u8], depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    let Ok(e) = Entity::parse(entity) else {
        return false;
    };
    let ct = e.content_type();
    let mime_type = ct.mime.to_ascii_lowercase();
    if mime_type == "text/calendar" || mime_type == "application/ms-tnef" {
        return true;
    }
    let name = ct
        .param("name")
        .map(str::to_string)
        .or_else(|| {
            e.header("Content-Disposition").and_then(|d| {
                mime::ContentType::parse(&format!("x/x; {}", d.split_once(';')?.1))
                    .param("filename")
                    .map(str::to_string)
            })
        })
        .unwrap_or_default();
    if name.eq_ignore_ascii_case("winmail.dat") {
        return true;
    }
    if mime_type.starts_with("multipart/") {
        let Some(boundary) = ct.param("boundary") else {
            return false;
        };
        let Ok((parts, _, _)) = mime::split_multipart(e.body, boundary, 1000) else {
            return false;
        };
        return parts.iter().any(|p| encryption_exempt(p.raw, depth + 1));
    }
    false
}

fn smime_err(what: &str, e: smime::SmimeError) -> ProcessError {
    ProcessError::Quarantine(format!("cannot {what} the message: {e}"))
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
pub fn process_as(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
    forced: Option<&super::always_to::Forced>,
) -> Result<Vec<Output>, ProcessError> {
    let ks = &ctx.keystore;
    super::switches::log_outbound(ctx, env);
    let mut msg = Message::parse(message);
    let mut changed = msg.remove_prefixed(HEADER_PREFIX) > 0;
    let subject = msg.get_text("Subject").unwrap_or_default();
    let Controls {
        subject: subj,
        nosign,
        encrypt: encrypt_tag,
        code,
    } = controls(ctx, &subject);
    let (subj, portal_code) = super::portal::take_code(ctx, subj);
    if subj != subject {
        msg.set_subject(&subj);
        changed = true;
    }
    let from = mime::from_address(message)
        .map(|a| crate::address::normalize(&a))
        .unwrap_or_default();

    // Sending as a function mailbox: by code, or implicitly with From = the mailbox address.
    let mut problems: Vec<String> = vec![];
    let mut acting: Option<Acting> = None;
    let mut implicit = false;
    // From is a mailbox address, but the sender may not use it: never signed with its key.
    let mut mailbox_denied = false;
    let code_encrypt = forced.is_some()
        || code
            .as_ref()
            .is_some_and(|(c, _)| c.kind == CodeKind::SignEncrypt);
    if let Some(f) = forced {
        super::always_to::rewrite_from(ctx, &mut msg, f);
        changed = true;
        let employee = super::always_to::employee(env, &from);
        match super::always_to::acting(ctx, f, &employee) {
            Ok(a) => {
                tracing::info!(id = %env.id, sender = %employee, mailbox = %a.address, "recipient in mailboxes.always_to: sending as function mailbox, encryption mandatory");
                acting = Some(a);
            }
            Err(why) => {
                // From is the mailbox now: the sender's own key must not sign it either.
                tracing::warn!(id = %env.id, sender = %employee, mailbox = %f.address, reason = %why, "recipient in mailboxes.always_to: not signed as the mailbox, encryption still mandatory");
                mailbox_denied = true;
                problems.push(format!("{}.", why.render(ctx.texts())));
            }
        }
    } else if let Some((c, _)) = &code {
        match mailbox::authorize(ctx, env, &c.id, &from) {
            Ok(a) => {
                if let Some((_, mb)) = mailbox::by_id(ctx, &a.id) {
                    mailbox::rewrite_from(&mut msg, mb, &a.address);
                    changed = true;
                }
                tracing::info!(id = %env.id, sender = %from, mailbox = %a.address, code = %c.text, "sending as function mailbox");
                acting = Some(a);
            }
            Err(why) => {
                tracing::warn!(id = %env.id, sender = %from, code = %c.text, reason = %why, "not sent as function mailbox");
                let t = ctx.texts();
                let what = if code_encrypt {
                    t.mailbox_denied_encrypt
                } else {
                    t.mailbox_denied_sign
                };
                let why = why.render(t);
                let head = fill(t.mailbox_code_denied, &[("code", &c.text), ("why", &why)]);
                problems.push(format!("{head}\n{what}"));
            }
        }
    } else if let Some((id, mb)) = mailbox::by_address(ctx, &from) {
        match mailbox::authorize_implicit(ctx, env, id, mb) {
            Ok(a) => {
                tracing::info!(id = %env.id, sender = %a.employee, mailbox = %a.address, "mail from a function mailbox: signed, encrypted where possible");
                implicit = true;
                acting = Some(a);
            }
            Err(why) => {
                tracing::warn!(id = %env.id, mailbox = %from, reason = %why, "not signed: mail from a function mailbox by a sender not allowed to use it");
                mailbox_denied = true;
                let t = ctx.texts();
                problems.push(fill(
                    t.mailbox_from_denied,
                    &[("from", &from), ("why", &why.render(t))],
                ));
            }
        }
    }
    // The message itself when nothing changed: no copy of a large message.
    let base: std::borrow::Cow<'_, [u8]> = if changed {
        std::borrow::Cow::Owned(msg.to_bytes())
    } else {
        std::borrow::Cow::Borrowed(message)
    };
    let from = acting.as_ref().map_or(from, |a| a.address.clone());

    // Who signs.
    let signer: Option<(std::sync::Arc<dyn PrivateKeyOps>, Vec<Certificate>)> = if let Some(a) =
        &acting
    {
        if nosign {
            tracing::info!(id = %env.id, "[nosign] ignored: mail sent as a function mailbox is always signed");
        }
        Some((a.key.clone(), a.chain.clone()))
    } else if mailbox_denied {
        None
    } else if nosign {
        tracing::info!(id = %env.id, from = %from, "not signed: [nosign] in the subject");
        None
    } else if from.is_empty() {
        tracing::info!(id = %env.id, "not signed: no From address");
        None
    } else {
        match super::auto_issue::signing_key(ctx, env, &from) {
            None => {
                tracing::debug!(id = %env.id, from = %from, "not signed: no own key for the sender");
                None
            }
            Some(key) => match sender_trust(ctx, env, &from) {
                Ok(()) => Some((key, ks.signing_chain(&from))),
                Err(why) => {
                    tracing::warn!(id = %env.id, from = %from, reason = %why, "not signed: sender not trusted");
                    None
                }
            },
        }
    };

    let signer = crate::policy::license_gate::signer(ctx, env, signer);
    let signer = super::switches::signer(ctx, signer);
    let domain_signed = acting.is_none()
        && signer
            .as_ref()
            .is_some_and(|(k, _)| super::domain_key::is_domain_signer(ctx, k.as_ref(), &from));
    let mail_from = forced.map(|f| f.address.clone());

    // Who gets what.
    let exempt = encryption_exempt(&base, 0);
    let mut enc_rcpts = vec![];
    let mut enc_certs: Vec<(String, Certificate)> = vec![];
    let mut plain = vec![];
    let mut refused: Vec<(String, String)> = vec![];
    let mut portal = vec![];
    for r in rcpts {
        let mandatory =
            encrypt_tag.is_some() || code_encrypt || listed(&ctx.cfg.encrypt.always, &r);
        match super::switches::encryption_cert(ctx, &r) {
            // Mandatory encryption wins over the calendar/TNEF exemption: the sender (or the
            // administrator) asked for confidentiality; so does mail from a function mailbox.
            Some(cert) if mandatory || implicit || !exempt => {
                enc_certs.push((r.clone(), cert));
                enc_rcpts.push(r);
            }
            Some(_) => {
                tracing::info!(id = %env.id, to = %r, "not encrypted: calendar invitation or TNEF");
                plain.push(r);
            }
            None if mandatory && super::portal::wants(ctx, &r) => portal.push(r),
            None if mandatory => {
                let t = ctx.texts();
                let asked = code
                    .as_ref()
                    .filter(|_| code_encrypt)
                    .map(|(c, _)| c.text.as_str())
                    .or(encrypt_tag.as_deref());
                let why = match asked {
                    Some(tag) => fill(t.reason_asked, &[("tag", tag)]),
                    None => t.reason_always.to_string(),
                };
                tracing::warn!(id = %env.id, to = %r, "not sent: mandatory encryption impossible");
                refused.push((r, why));
            }
            None => plain.push(r),
        }
    }

    let mut copies: Vec<(String, bool)> = enc_rcpts.iter().map(|r| (r.clone(), true)).collect();
    copies.extend(plain.iter().map(|r| (r.clone(), false)));
    let mut outputs = vec![];
    let sign_opts = SignOptions::default();
    for (group, signed) in super::domain_key::split(ctx, env, domain_signed, enc_certs, |(r, _)| r)
    {
        let signer = signer.as_ref().filter(|_| signed);
        let mut recipients: Vec<Recipient> = vec![];
        let mut certs: Vec<&Certificate> = vec![];
        for (_, c) in &group {
            if !certs.contains(&c) {
                certs.push(c);
                recipients.push(Recipient::from(c.clone()));
            }
        }
        let group: Vec<String> = group.iter().map(|(r, _)| r.clone()).collect();
        let mut opts = EncryptOptions {
            include_sender: ctx.cfg.encrypt.include_sender,
            ..EncryptOptions::default()
        };
        let bytes = match signer {
            Some((key, chain)) => {
                opts.sender_cert = Some(key.certificate().clone());
                smime::sign_and_encrypt(&base, key.as_ref(), chain, &recipients, &sign_opts, &opts)
                    .map_err(|e| smime_err("sign and encrypt", e))?
            }
            None => {
                if ctx.cfg.encrypt.include_sender {
                    opts.sender_cert = ks.encryption_cert(&from);
                }
                smime::encrypt(&base, &recipients, &opts).map_err(|e| smime_err("encrypt", e))?
            }
        };
        tracing::info!(id = %env.id, to = ?group, signed = signer.is_some(), "encrypted");
        outputs.push(Output {
            recipients: group,
            mail_from: mail_from.clone(),
            content: Content::New(finish::outbound(ctx, env, bytes)),
        });
    }
    for (group, signed) in super::domain_key::split(ctx, env, domain_signed, plain, |r| r) {
        let content = match signer.as_ref().filter(|_| signed) {
            Some((key, chain)) => {
                tracing::info!(id = %env.id, to = ?group, "signed");
                let signed = smime::sign(&base, key.as_ref(), chain, &sign_opts)
                    .map_err(|e| smime_err("sign", e))?;
                Content::New(finish::outbound(ctx, env, signed))
            }
            None if changed => Content::New(finish::outbound(ctx, env, base.to_vec())),
            None => finish::unchanged(ctx, env, message),
        };
        outputs.push(Output {
            recipients: group,
            mail_from: mail_from.clone(),
            content,
        });
    }
    if !portal.is_empty() {
        let code = portal_code.as_deref();
        let held = super::portal::deliver(ctx, env, &base, &subj, code, portal)?;
        outputs.extend(held);
    }
    if !refused.is_empty() || !problems.is_empty() {
        if env.mail_from.is_empty() {
            tracing::warn!(id = %env.id, refused = ?refused, problems = ?problems, "null sender: no notice to the sender");
        } else {
            outputs.push(Output {
                recipients: vec![env.mail_from.clone()],
                mail_from: Some(String::new()),
                content: Content::New(notice(ctx, env, &subj, &problems, &refused)),
            });
        }
    }
    if let Some(a) = acting.as_ref().filter(|_| ctx.cfg.notify.send_receipt) {
        if a.employee.is_empty() || copies.is_empty() {
            tracing::debug!(id = %env.id, "no receipt: no employee address or nothing sent");
        } else {
            outputs.push(Output {
                recipients: vec![a.employee.clone()],
                mail_from: Some(String::new()),
                content: Content::New(mailbox::receipt(ctx, env, a, &subj, &copies)),
            });
        }
    }
    Ok(outputs)
}

/// The notice to the sender: problems with the message (e.g. a function mailbox it may not use)
/// and recipients that got nothing.
fn notice(
    ctx: &PolicyCtx,
    env: &Envelope,
    subject: &str,
    problems: &[String],
    refused: &[(String, String)],
) -> Vec<u8> {
    let t = ctx.texts();
    let mut body = String::new();
    for p in problems {
        body.push_str(p);
        body.push_str("\n\n");
    }
    if !refused.is_empty() {
        body.push_str(t.refused_intro);
        body.push_str("\n\n");
        for (r, why) in refused {
            body.push_str(&format!("  {r}\n    {why}\n"));
        }
        body.push('\n');
        body.push_str(t.refused_outro);
        body.push_str("\n\n");
    }
    let clean: String = subject.chars().filter(|c| !c.is_control()).collect();
    body.push_str(&format!(
        "{}: {clean}\n{}: {}\n",
        t.your_subject, t.queue_id, env.id
    ));
    let subject = if refused.is_empty() {
        t.notice_subject_mailbox
    } else {
        t.notice_subject_refused
    };
    system_message(
        ctx,
        env,
        &env.mail_from,
        subject,
        "notice",
        "auto-replied",
        &body,
    )
}

/// A plain-text message from `postmaster@<hostname>` (sent with the null sender) to `to`:
/// notices and receipts. Header values are RFC 2047-encoded when not ASCII (Danish, German).
pub(crate) fn system_message(
    ctx: &PolicyCtx,
    env: &Envelope,
    to: &str,
    subject: &str,
    kind: &str,
    auto_submitted: &str,
    body: &str,
) -> Vec<u8> {
    let host = &ctx.cfg.smtp.hostname;
    let t = ctx.texts();
    let to: String = to.chars().filter(|c| !c.is_control()).collect();
    let mut msg = Message::parse(b"");
    msg.append("From", &format!("{} <postmaster@{host}>", t.system_name));
    msg.append("To", &format!("<{to}>"));
    msg.append("Subject", subject);
    msg.append("Date", &crate::clock::rfc2822(crate::clock::unix_now()));
    msg.append("Message-ID", &format!("<{}.{kind}@{host}>", env.id));
    msg.append("Auto-Submitted", auto_submitted);
    msg.set_text_body(body);
    msg.to_bytes()
}
