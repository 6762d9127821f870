//! Who gets what: each outbound recipient gets the encrypted copy (a usable certificate), the
//! plain or signed copy, the portal (mandatory encryption, no certificate, portal enabled), or
//! nothing with a reason for the sender's notice.

use super::super::texts::fill;
use super::super::{listed, PolicyCtx};
use crate::smime::mime::{self, Entity};
use crate::smime::Certificate;
use crate::spool::Envelope;

/// The outbound recipients of one message, sorted by what they get.
#[derive(Default)]
pub(super) struct Sorted {
    /// Recipients with the certificate each is encrypted to.
    pub encrypted: Vec<(String, Certificate)>,
    /// Signed (or unchanged) copy.
    pub plain: Vec<String>,
    /// Handed to the portal.
    pub portal: Vec<String>,
    /// Nothing sent; the reason goes into the sender's notice.
    pub refused: Vec<(String, String)>,
}

/// Why encryption is mandatory for this message, besides `encrypt.always`.
pub(super) struct Mandatory<'a> {
    /// The subject tag or code the sender asked with (for the notice).
    pub asked: Option<&'a str>,
    /// A tag, a `#K` code or `always_to`.
    pub by_sender: bool,
    /// Mail from a function mailbox's own address: encrypted even when exempt.
    pub implicit: bool,
}

/// Sorts `rcpts` of `message` (after the sender's controls were applied).
pub(super) fn sort(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
    rcpts: Vec<String>,
    m: &Mandatory<'_>,
) -> Sorted {
    let exempt = encryption_exempt(message, 0);
    let mut s = Sorted::default();
    for r in rcpts {
        let mandatory = m.by_sender || listed(&ctx.cfg.encrypt.always, &r);
        match super::super::switches::encryption_cert(ctx, &r) {
            // Mandatory encryption wins over the calendar/TNEF exemption: the sender (or the
            // administrator) asked for confidentiality; so does mail from a function mailbox.
            Some(cert) if mandatory || m.implicit || !exempt => s.encrypted.push((r, cert)),
            Some(_) => {
                tracing::info!(id = %env.id, to = %r, "not encrypted: calendar invitation or TNEF");
                s.plain.push(r);
            }
            None if mandatory && super::super::portal::wants(ctx, &r) => s.portal.push(r),
            None if mandatory => {
                let t = ctx.texts();
                let why = match m.asked {
                    Some(tag) => fill(t.reason_asked, &[("tag", tag)]),
                    None => t.reason_always.to_string(),
                };
                tracing::warn!(id = %env.id, to = %r, "not sent: mandatory encryption impossible");
                s.refused.push((r, why));
            }
            None => s.plain.push(r),
        }
    }
    s
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
