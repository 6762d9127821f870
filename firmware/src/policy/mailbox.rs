//! Comendo function mailboxes ("funktionspostkasser", DESIGN §3): shared secure mailboxes with
//! their own key, configured as `[mailboxes.<id>]`.
//!
//! - Subject codes `#K-<id>#` (sign + encrypt, mandatory) and `#S-<id>#` (sign only): the code is
//!   removed, From becomes the mailbox address and the mail is signed with the mailbox key — only
//!   when the real sender is listed in `senders` and passes the DEFENDO sender trust rules.
//! - Implicit: mail whose From already is the mailbox address, sent by an allowed sender, is
//!   signed with the mailbox key and encrypted to every recipient with a known certificate.
//! - Optional receipt to the employee (`notify.send_receipt`).

use std::sync::Arc;

use base64::Engine;

use super::fields::Message;
use super::outbound::{sender_trust, Untrusted};
use super::texts::{fill, Texts};
use super::{listed, PolicyCtx};
use crate::config::MailboxConfig;
use crate::smime::{Certificate, PrivateKeyOps};
use crate::spool::Envelope;

/// What a subject code asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// `#K-<id>#`: sign and encrypt (mandatory encryption).
    SignEncrypt,
    /// `#S-<id>#`: sign only.
    Sign,
}

/// A control code found in the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub kind: CodeKind,
    /// The mailbox id as written.
    pub id: String,
    /// The code as written (for messages to the sender).
    pub text: String,
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.".contains(&b)
}

/// Finds the first `#K-<id>#` / `#S-<id>#` (letters case-insensitive) in `subject`; returns it
/// and the subject with every such code removed (spaces tidied).
pub fn find_code(subject: &str) -> Option<(Code, String)> {
    let b = subject.as_bytes();
    let mut first: Option<Code> = None;
    let mut out = String::with_capacity(subject.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#' && i + 3 < b.len() && b[i + 2] == b'-' {
            let kind = match b[i + 1] {
                b'K' | b'k' => Some(CodeKind::SignEncrypt),
                b'S' | b's' => Some(CodeKind::Sign),
                _ => None,
            };
            if let Some(kind) = kind {
                let start = i + 3;
                let mut end = start;
                while end < b.len() && id_byte(b[end]) {
                    end += 1;
                }
                if end > start && end < b.len() && b[end] == b'#' {
                    // All bytes matched are ASCII, so these are char boundaries.
                    out.push_str(&subject[copied..i]);
                    out.push(' ');
                    if first.is_none() {
                        first = Some(Code {
                            kind,
                            id: subject[start..end].to_string(),
                            text: subject[i..=end].to_string(),
                        });
                    }
                    i = end + 1;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    let code = first?;
    out.push_str(&subject[copied..]);
    let tidy = out.split_whitespace().collect::<Vec<_>>().join(" ");
    Some((code, tidy))
}

/// The configured mailbox `id` (case-insensitive).
pub fn by_id<'a>(ctx: &'a PolicyCtx, id: &str) -> Option<(&'a str, &'a MailboxConfig)> {
    ctx.cfg
        .mailboxes
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id))
        .map(|(k, v)| (k.as_str(), v))
}

/// The configured mailbox whose address is `addr`.
pub fn by_address<'a>(ctx: &'a PolicyCtx, addr: &str) -> Option<(&'a str, &'a MailboxConfig)> {
    let addr = addr.trim();
    ctx.cfg
        .mailboxes
        .iter()
        .find(|(_, m)| m.address.trim().eq_ignore_ascii_case(addr))
        .map(|(k, v)| (k.as_str(), v))
}

/// An employee allowed to send as a mailbox, with the key to sign with.
pub struct Acting {
    pub id: String,
    pub address: String,
    /// The real sender (receipt recipient).
    pub employee: String,
    pub key: Arc<dyn PrivateKeyOps>,
    pub chain: Vec<Certificate>,
}

fn allowed_sender(mb: &MailboxConfig, who: &str) -> bool {
    !who.is_empty() && (listed(&mb.senders, who) || mb.address.trim().eq_ignore_ascii_case(who))
}

/// Why an employee may not send as a function mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    NoMailbox {
        id: String,
    },
    UnknownSender {
        mailbox: String,
    },
    NotAllowed {
        sender: String,
        mailbox: String,
    },
    /// The DEFENDO sender trust rules (SMTP AUTH / trusted relay) refuse it.
    Untrusted(Untrusted),
    NoKey {
        mailbox: String,
    },
    /// The authenticated user has no address allowed to use the mailbox.
    NoAllowedAddress,
}

impl Denied {
    /// The reason in the language of `t` (for notices).
    pub fn render(&self, t: &Texts) -> String {
        match self {
            Denied::NoMailbox { id } => fill(t.why_no_mailbox, &[("id", id)]),
            Denied::UnknownSender { mailbox } => {
                fill(t.why_unknown_sender, &[("mailbox", mailbox)])
            }
            Denied::NotAllowed { sender, mailbox } => fill(
                t.why_not_allowed,
                &[("sender", sender), ("mailbox", mailbox)],
            ),
            Denied::Untrusted(u) => u.render(t),
            Denied::NoKey { mailbox } => fill(t.why_no_key, &[("mailbox", mailbox)]),
            Denied::NoAllowedAddress => t.why_no_allowed_address.to_string(),
        }
    }
}

impl std::fmt::Display for Denied {
    /// English, for the log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(&super::texts::EN))
    }
}

/// Whether `employee` may send as mailbox `id` from this client, and with which key.
pub fn authorize(
    ctx: &PolicyCtx,
    env: &Envelope,
    id: &str,
    employee: &str,
) -> Result<Acting, Denied> {
    let Some((id, mb)) = by_id(ctx, id) else {
        return Err(Denied::NoMailbox { id: id.to_string() });
    };
    let address = crate::address::normalize(&mb.address);
    if employee.is_empty() {
        return Err(Denied::UnknownSender { mailbox: address });
    }
    if !allowed_sender(mb, employee) {
        return Err(Denied::NotAllowed {
            sender: employee.to_string(),
            mailbox: address,
        });
    }
    // The DEFENDO trust rules apply to the real sender (or the mailbox key itself).
    if let Err(why) = sender_trust(ctx, env, employee) {
        sender_trust(ctx, env, &address).map_err(|_| Denied::Untrusted(why))?;
    }
    let key = ctx
        .keystore
        .mailbox_key(id)
        .or_else(|| ctx.keystore.signing_key(&address))
        .ok_or_else(|| Denied::NoKey {
            mailbox: address.clone(),
        })?;
    Ok(Acting {
        id: id.to_string(),
        chain: ctx.keystore.signing_chain(&address),
        address,
        employee: employee.to_string(),
        key,
    })
}

/// The implicit rule: From is mailbox `id`'s address; the real sender is an authenticated
/// user's address (or, without AUTH, the envelope sender) that may use the mailbox.
pub fn authorize_implicit(
    ctx: &PolicyCtx,
    env: &Envelope,
    id: &str,
    mb: &MailboxConfig,
) -> Result<Acting, Denied> {
    let employee = if env.client.auth_user.is_some() {
        env.client
            .auth_addresses
            .iter()
            .map(|a| crate::address::normalize(a))
            .find(|a| allowed_sender(mb, a))
            .ok_or(Denied::NoAllowedAddress)?
    } else {
        crate::address::normalize(&env.mail_from)
    };
    authorize(ctx, env, id, &employee)
}

/// A display name as an RFC 5322 phrase (RFC 2047 encoded when not ASCII).
fn phrase(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    if !name.is_ascii() {
        return format!(
            "=?utf-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(name.as_bytes())
        );
    }
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" !#$%&'*+-/=?^_`{|}~".contains(&b))
    {
        return name;
    }
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Rewrites From to the mailbox address: the configured name, else the sender's display name.
pub fn rewrite_from(msg: &mut Message, mb: &MailboxConfig, address: &str) {
    let display = if !mb.name.trim().is_empty() {
        phrase(mb.name.trim())
    } else {
        msg.get("From")
            .and_then(|f| f.rsplit_once('<').map(|(d, _)| d.trim().to_string()))
            .unwrap_or_default()
    };
    let value = if display.is_empty() {
        format!("<{address}>")
    } else {
        format!("{display} <{address}>")
    };
    msg.set("From", &value);
}

/// The receipt to the employee that secure mail left as the mailbox.
pub fn receipt(
    ctx: &PolicyCtx,
    env: &Envelope,
    acting: &Acting,
    subject: &str,
    copies: &[(String, bool)],
) -> Vec<u8> {
    let t = ctx.texts();
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
    let mut body = fill(
        t.receipt_intro,
        &[("address", &acting.address), ("id", &acting.id)],
    );
    body.push_str("\n\n");
    for (r, encrypted) in copies {
        let how = if *encrypted {
            t.receipt_encrypted
        } else {
            t.receipt_signed_only
        };
        body.push_str(&format!("  {r}: {how}\n"));
    }
    body.push_str(&format!(
        "\n{}: {}\n{}: {}\n",
        t.subject,
        clean(subject),
        t.queue_id,
        env.id
    ));
    super::outbound::system_message(
        ctx,
        env,
        &acting.employee,
        t.receipt_subject,
        "receipt",
        "auto-generated",
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_in_the_configured_language() {
        use crate::policy::texts::{DA, DE, EN};
        let d = Denied::NotAllowed {
            sender: "carl@example.org".into(),
            mailbox: "jura@example.org".into(),
        };
        assert_eq!(
            d.to_string(),
            "carl@example.org is not among the senders allowed to use the mailbox jura@example.org"
        );
        assert_eq!(d.render(&EN), d.to_string());
        assert!(d.render(&DA).contains("er ikke blandt de afsendere"));
        let u = Denied::Untrusted(Untrusted::KeyNotListed {
            from: "a@example.org".into(),
            ip: "10.0.0.1".into(),
        });
        assert!(u
            .render(&DE)
            .contains("steht nicht in sign.keys_without_auth"));
        assert!(u.render(&DE).contains("10.0.0.1"));
    }

    #[test]
    fn codes_are_found_and_removed() {
        let (c, s) = find_code("#K-advokatkontoret# Vedr. henvendelse").unwrap();
        assert_eq!(c.kind, CodeKind::SignEncrypt);
        assert_eq!(c.id, "advokatkontoret");
        assert_eq!(c.text, "#K-advokatkontoret#");
        assert_eq!(s, "Vedr. henvendelse");
        let (c, s) = find_code("Re: sag #s-jura.2# x").unwrap();
        assert_eq!(
            (c.kind, c.id.as_str(), s.as_str()),
            (CodeKind::Sign, "jura.2", "Re: sag x")
        );
        let (c, s) = find_code("æøå#K-a##S-b#").unwrap();
        assert_eq!((c.id.as_str(), s.as_str()), ("a", "æøå"));
        for none in [
            "#K-#", "#K-a", "#X-a#", "K-a#", "#K a#", "#", "#K-", "#K-a b#",
        ] {
            assert!(find_code(none).is_none(), "{none}");
        }
    }

    #[test]
    fn from_is_rewritten() {
        let mb = MailboxConfig {
            address: "adv@example.org".into(),
            name: String::new(),
            senders: vec![],
            always_to: vec![],
        };
        let mut m =
            Message::parse(b"From: \"Alice J\" <alice@example.org>\r\nTo: x@y\r\n\r\nb\r\n");
        rewrite_from(&mut m, &mb, "adv@example.org");
        assert_eq!(m.get("From").unwrap(), "\"Alice J\" <adv@example.org>");
        let mut m = Message::parse(b"From: alice@example.org\r\n\r\nb\r\n");
        rewrite_from(&mut m, &mb, "adv@example.org");
        assert_eq!(m.get("From").unwrap(), "<adv@example.org>");
        let mb = MailboxConfig {
            name: "Advokatkontoret Æ".into(),
            ..mb
        };
        rewrite_from(&mut m, &mb, "adv@example.org");
        assert!(m.get("From").unwrap().starts_with("=?utf-8?B?"));
        assert_eq!(phrase("A, B"), "\"A, B\"");
    }
}
