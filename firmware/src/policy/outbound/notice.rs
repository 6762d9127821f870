//! Mail Segl writes to the sender about an outbound message: the notice (recipients that got
//! nothing, a function mailbox the sender may not use), and the plain system-message frame that
//! notices and receipts share.

use super::super::fields::Message;
use super::super::PolicyCtx;
use crate::spool::Envelope;

/// The notice to the sender: problems with the message (e.g. a function mailbox it may not use)
/// and recipients that got nothing.
pub(super) fn notice(
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
    let now = crate::clock::unix_now();
    msg.append("Date", &crate::appliance::zone::date_header(&ctx.cfg, now));
    msg.append("Message-ID", &format!("<{}.{kind}@{host}>", env.id));
    msg.append("Auto-Submitted", auto_submitted);
    msg.set_text_body(body);
    msg.to_bytes()
}
