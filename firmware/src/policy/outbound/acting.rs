//! Whether a message goes out as a function mailbox ([`crate::policy::mailbox`]): by a
//! `#K`/`#S` code in the subject, by a From that is a mailbox address, or forced by
//! `[mailboxes.<id>] always_to`. The outcome also says what the sender must be told.

use super::super::always_to::{self, Forced};
use super::super::fields::Message;
use super::super::mailbox::{self, Acting, Code, CodeKind};
use super::super::texts::fill;
use super::super::PolicyCtx;
use crate::spool::Envelope;

/// The function-mailbox decision for one message.
#[derive(Default)]
pub(super) struct Sending {
    /// Sent as this mailbox (its key signs).
    pub acting: Option<Acting>,
    /// The From was the mailbox address itself (no code): encrypted wherever possible.
    pub implicit: bool,
    /// The From is a mailbox the sender may not use: never signed with any key.
    pub denied: bool,
    /// Encryption is mandatory (a `#K` code, or forced by `always_to`).
    pub encrypt: bool,
    /// Paragraphs for the notice to the sender.
    pub problems: Vec<String>,
    /// The From header was rewritten to the mailbox.
    pub rewrote_from: bool,
}

/// Decides how `msg` (From `from`) goes out; rewrites its From where it goes out as a mailbox.
pub(super) fn decide(
    ctx: &PolicyCtx,
    env: &Envelope,
    msg: &mut Message,
    from: &str,
    code: Option<&Code>,
    forced: Option<&Forced>,
) -> Sending {
    let encrypt = forced.is_some() || code.is_some_and(|c| c.kind == CodeKind::SignEncrypt);
    let mut s = if let Some(f) = forced {
        forced_mailbox(ctx, env, msg, from, f)
    } else if let Some(c) = code {
        by_code(ctx, env, msg, from, c, encrypt)
    } else if let Some((id, mb)) = mailbox::by_address(ctx, from) {
        by_from(ctx, env, from, id, mb)
    } else {
        Sending::default()
    };
    s.encrypt = encrypt;
    s
}

fn forced_mailbox(
    ctx: &PolicyCtx,
    env: &Envelope,
    msg: &mut Message,
    from: &str,
    f: &Forced,
) -> Sending {
    always_to::rewrite_from(ctx, msg, f);
    let mut s = Sending {
        rewrote_from: true,
        ..Sending::default()
    };
    let employee = always_to::employee(env, from);
    match always_to::acting(ctx, f, &employee) {
        Ok(a) => {
            tracing::info!(id = %env.id, sender = %employee, mailbox = %a.address, "recipient in mailboxes.always_to: sending as function mailbox, encryption mandatory");
            s.acting = Some(a);
        }
        Err(why) => {
            // From is the mailbox now: the sender's own key must not sign it either.
            tracing::warn!(id = %env.id, sender = %employee, mailbox = %f.address, reason = %why, "recipient in mailboxes.always_to: not signed as the mailbox, encryption still mandatory");
            s.denied = true;
            s.problems.push(format!("{}.", why.render(ctx.texts())));
        }
    }
    s
}

fn by_code(
    ctx: &PolicyCtx,
    env: &Envelope,
    msg: &mut Message,
    from: &str,
    c: &Code,
    encrypt: bool,
) -> Sending {
    let mut s = Sending::default();
    match mailbox::authorize(ctx, env, &c.id, from) {
        Ok(a) => {
            if let Some((_, mb)) = mailbox::by_id(ctx, &a.id) {
                mailbox::rewrite_from(msg, mb, &a.address);
                s.rewrote_from = true;
            }
            tracing::info!(id = %env.id, sender = %from, mailbox = %a.address, code = %c.text, "sending as function mailbox");
            s.acting = Some(a);
        }
        Err(why) => {
            tracing::warn!(id = %env.id, sender = %from, code = %c.text, reason = %why, "not sent as function mailbox");
            let t = ctx.texts();
            let what = if encrypt {
                t.mailbox_denied_encrypt
            } else {
                t.mailbox_denied_sign
            };
            let why = why.render(t);
            let head = fill(t.mailbox_code_denied, &[("code", &c.text), ("why", &why)]);
            s.problems.push(format!("{head}\n{what}"));
        }
    }
    s
}

fn by_from(
    ctx: &PolicyCtx,
    env: &Envelope,
    from: &str,
    id: &str,
    mb: &crate::config::MailboxConfig,
) -> Sending {
    let mut s = Sending::default();
    match mailbox::authorize_implicit(ctx, env, id, mb) {
        Ok(a) => {
            tracing::info!(id = %env.id, sender = %a.employee, mailbox = %a.address, "mail from a function mailbox: signed, encrypted where possible");
            s.implicit = true;
            s.acting = Some(a);
        }
        Err(why) => {
            tracing::warn!(id = %env.id, mailbox = %from, reason = %why, "not signed: mail from a function mailbox by a sender not allowed to use it");
            s.denied = true;
            let t = ctx.texts();
            s.problems.push(fill(
                t.mailbox_from_denied,
                &[("from", from), ("why", &why.render(t))],
            ));
        }
    }
    s
}
