//! The policy's hand-over to the portal: where mandatory encryption fails for lack of a
//! certificate, a portal recipient's copy is kept sealed in the
//! [`Store`](crate::portal::store::Store)
//! (synced to disk before the outputs go back to the queue, so the original is released only
//! once the copy is safe), the recipient gets a notification with a link and no content, and
//! the sender a receipt naming the portal recipients (with the set-up codes).

use super::outbound::system_message;
use super::{listed, Content, Output, PolicyCtx, ProcessError};
use crate::message::fields::remove_tag;
use crate::message::texts::fill;
use crate::portal::store::{self, Setup};
use crate::portal::texts;
use crate::spool::Envelope;

/// Whether `recipient`'s copy goes to the portal when it cannot be encrypted.
pub fn wants(ctx: &PolicyCtx, recipient: &str) -> bool {
    ctx.cfg.portal.enabled && !listed(&ctx.cfg.portal.exclude, recipient)
}

/// Removes a `[code:…]` tag from the subject (when the portal is on): the set-up code the
/// sender chose. Returns the subject without it and the code.
pub fn take_code(ctx: &PolicyCtx, subject: String) -> (String, Option<String>) {
    if !ctx.cfg.portal.enabled {
        return (subject, None);
    }
    let lower = subject.to_ascii_lowercase();
    let Some(start) = lower.find("[code:") else {
        return (subject, None);
    };
    let Some(len) = subject[start..].find(']') else {
        return (subject, None);
    };
    let tag = &subject[start..start + len + 1];
    let code = tag[6..tag.len() - 1].trim().to_string();
    let (rest, _) = remove_tag(&subject, tag);
    if code.is_empty() || code.len() > 64 {
        return (rest, None);
    }
    (rest, Some(code))
}

/// Keeps `message` for each of `recipients` and makes the notifications and the receipt.
pub fn deliver(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    subject: &str,
    code: Option<&str>,
    recipients: Vec<String>,
) -> Result<Vec<Output>, ProcessError> {
    let p = &ctx.cfg.portal;
    let store = store::shared(&ctx.cfg).map_err(|e| ProcessError::Temporary(e.to_string()))?;
    let fail = |e: store::PortalError| {
        if e.is_temporary() {
            ProcessError::Temporary(e.to_string())
        } else {
            ProcessError::Quarantine(e.to_string())
        }
    };
    let sender = crate::smime::mime::from_address(message)
        .map(|a| crate::address::normalize(&a))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| env.mail_from.clone());
    let mt = texts::mail(ctx.cfg.mark.language);
    let mut outputs = vec![];
    let mut receipt_lines = String::new();
    for (n, r) in recipients.iter().enumerate() {
        let meta = store
            .put_message(r, &sender, &env.id, message, p.retention_days)
            .map_err(fail)?;
        let setup = store.prepare(r, p.require_code, code).map_err(fail)?;
        tracing::info!(id = %env.id, to = %r, portal_id = %meta.id, new_setup = setup.is_some(), "held in the web portal");
        let body = notification(ctx, mt, &sender, setup.as_ref());
        outputs.push(Output {
            recipients: vec![r.clone()],
            mail_from: Some(String::new()),
            content: Content::New(system_message(
                ctx,
                env,
                r,
                mt.notify_subject,
                &format!("portal-{n}"),
                "auto-generated",
                &body,
            )),
        });
        receipt_lines.push_str(&receipt_line(mt, r, setup.as_ref(), code.is_some()));
    }
    if env.mail_from.is_empty() {
        tracing::warn!(id = %env.id, "null sender: no portal receipt");
        return Ok(outputs);
    }
    let t = ctx.texts();
    let clean: String = subject.chars().filter(|c| !c.is_control()).collect();
    let body = format!(
        "{}\n\n{receipt_lines}\n{}\n\n{}: {clean}\n{}: {}\n",
        mt.receipt_intro, mt.receipt_outro, t.your_subject, t.queue_id, env.id
    );
    outputs.push(Output {
        recipients: vec![env.mail_from.clone()],
        mail_from: Some(String::new()),
        content: Content::New(system_message(
            ctx,
            env,
            &env.mail_from,
            mt.receipt_subject,
            "portal-receipt",
            "auto-replied",
            &body,
        )),
    });
    Ok(outputs)
}

/// The recipient's notification: who sent, the link (set-up or log-in), how long it is kept.
/// No content of the message.
fn notification(
    ctx: &PolicyCtx,
    mt: &texts::MailTexts,
    sender: &str,
    setup: Option<&Setup>,
) -> String {
    let p = &ctx.cfg.portal;
    let base = p.base_url();
    let link_part = match setup {
        Some(Setup { token, code: c }) => {
            let mut s = fill(
                mt.notify_setup,
                &[("link", &format!("{base}/setup?t={token}"))],
            );
            if c.is_some() {
                s.push_str("\n\n");
                s.push_str(mt.notify_code);
            }
            s
        }
        None => fill(mt.notify_login, &[("link", &format!("{base}/login"))]),
    };
    format!(
        "{}\n\n{}\n\n{}\n",
        fill(mt.notify_intro, &[("sender", sender)]),
        link_part,
        fill(mt.notify_outro, &[("days", &p.retention_days.to_string())])
    )
}

/// The sender's receipt line for one portal recipient, with the set-up code the portal chose
/// (the sender passes it on by another channel).
fn receipt_line(
    mt: &texts::MailTexts,
    recipient: &str,
    setup: Option<&Setup>,
    sender_chose_code: bool,
) -> String {
    let state = match setup {
        Some(Setup { code: Some(_), .. }) if sender_chose_code => mt.receipt_your_code.to_string(),
        Some(Setup { code: Some(c), .. }) => format!("{}: {c}", mt.receipt_code),
        Some(Setup { code: None, .. }) => String::new(),
        None => mt.receipt_existing.to_string(),
    };
    if state.is_empty() {
        format!("  {recipient}\n")
    } else {
        format!("  {recipient}\n    {state}\n")
    }
}
