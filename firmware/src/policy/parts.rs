//! Comendo's proof and warning parts: `signatur-bevis.txt` (what was checked on a verified
//! message, and the result) and `Advarsel.txt` (a security problem in plain words).
//!
//! They are added by *wrapping*: a new top-level `multipart/mixed` whose first part is the
//! original entity — its `Content-*` fields and its body byte for byte, so a signature over it
//! still verifies once the part is taken out — and then the text parts. The visible header
//! fields (From, To, Subject, Date, Message-ID, ...) stay at the top level. Nothing is re-encoded:
//! mail-builder would re-fold and re-encode the entity, so the framing is written here.

use std::time::SystemTime;

use base64::Engine;
use x509_cert::Certificate;

use super::fields::Message;
use super::texts::{field, Texts};
use crate::smime::{AddressMatch, SignerReport};

/// File name of the proof part.
pub const PROOF_NAME: &str = "signatur-bevis.txt";
/// File name of the warning part.
pub const WARNING_NAME: &str = "Advarsel.txt";

/// RFC 3339 UTC, or a placeholder for times outside the calendar range.
pub fn fmt_time(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "(unknown)".into())
}

fn hex_serial(cert: &Certificate) -> String {
    cert.tbs_certificate()
        .serial_number()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Width of a label column: the longest label, its colon and a space.
fn width(labels: &[&str]) -> usize {
    labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) + 2
}

/// Subject and issuer of `cert` as text, remembered by the certificate's SHA-256: x509-cert
/// formats a name by looking each attribute type up in a table of hundreds of OIDs, which was
/// 2.5 % of the CPU of a verified message (issue 15), and partners sign with the same
/// certificate again and again.
fn names(cert: &Certificate) -> (String, String) {
    use sha2::Digest;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Names = HashMap<[u8; 32], (String, String)>;
    static CACHE: OnceLock<Mutex<Names>> = OnceLock::new();
    let format = || {
        let tbs = cert.tbs_certificate();
        (tbs.subject().to_string(), tbs.issuer().to_string())
    };
    let Ok(der) = der::Encode::to_der(cert) else {
        return format();
    };
    let key: [u8; 32] = sha2::Sha256::digest(&der).into();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return hit;
    }
    let value = format();
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 1024 {
            c.clear();
        }
        c.insert(key, value.clone());
    }
    value
}

fn describe_cert(t: &Texts, out: &mut String, cert: &Certificate, indent: &str) {
    let tbs = cert.tbs_certificate();
    let v = tbs.validity();
    let w = width(&[
        t.cert_subject,
        t.cert_issuer,
        t.cert_serial,
        t.cert_valid_from,
        t.cert_valid_to,
    ]);
    let (subject, issuer) = names(cert);
    for (label, value) in [
        (t.cert_subject, subject),
        (t.cert_issuer, issuer),
        (t.cert_serial, hex_serial(cert)),
        (t.cert_valid_from, fmt_time(v.not_before.to_system_time())),
        (t.cert_valid_to, fmt_time(v.not_after.to_system_time())),
    ] {
        out.push_str(indent);
        out.push_str(&field(label, w, &value));
    }
}

fn ok_failed(t: &Texts, ok: bool) -> &'static str {
    if ok {
        t.ok
    } else {
        t.failed
    }
}

/// What the proof describes.
pub struct Proof<'a> {
    /// The (first) signer that was judged valid.
    pub signer: &'a SignerReport,
    /// The signer's name as shown in `X-Segl-Signature`.
    pub signer_name: &'a str,
    /// The From address the certificate was matched against.
    pub from: Option<&'a str>,
    /// The certificate is a known (pinned) partner certificate.
    pub pinned: bool,
    /// The message was decrypted by the gateway.
    pub decrypted: bool,
    /// When the gateway verified it.
    pub verified_at: SystemTime,
}

/// A title line and its underline.
fn title(out: &mut String, text: &str) {
    out.push_str(text);
    out.push('\n');
    out.push_str(&"=".repeat(text.chars().count()));
    out.push_str("\n\n");
}

/// The text of `signatur-bevis.txt`.
pub fn proof_text(t: &Texts, p: &Proof) -> String {
    let s = p.signer;
    let w = width(&[
        t.signed_by,
        t.sender_from,
        t.signing_time,
        t.verification_time,
        t.encryption,
    ]);
    let mut o = String::new();
    title(&mut o, t.proof_title);
    o.push_str(t.proof_intro);
    o.push_str("\n\n");
    o.push_str(&field(t.signed_by, w, p.signer_name));
    if let Some(f) = p.from {
        o.push_str(&field(t.sender_from, w, f));
    }
    let signing = s.signing_time.map(fmt_time);
    o.push_str(&field(
        t.signing_time,
        w,
        signing.as_deref().unwrap_or(t.not_stated),
    ));
    o.push_str(&field(t.verification_time, w, &fmt_time(p.verified_at)));
    if p.decrypted {
        o.push_str(&field(t.encryption, w, t.decrypted_by_gateway));
    }
    if let Some(cert) = &s.certificate {
        o.push_str(&format!("\n{}:\n", t.signer_certificate));
        describe_cert(t, &mut o, cert, "  ");
    }
    if let Some(chain) = &s.chain {
        o.push_str(&format!("\n{}:\n", t.chain_title));
        for (i, c) in chain.path.iter().enumerate() {
            o.push_str(&format!("  [{i}]\n"));
            describe_cert(t, &mut o, c, "      ");
        }
    }
    checks(t, &mut o, p);
    o
}

/// The list of checks and their results in the proof.
fn checks(t: &Texts, o: &mut String, p: &Proof) {
    let s = p.signer;
    let cw = width(&[
        t.check_signature,
        t.check_chain,
        t.check_valid_now,
        t.check_valid_signing,
        t.check_revocation,
        t.check_address,
        t.digest,
    ]);
    o.push_str(&format!("\n{}:\n", t.checks_title));
    let check = |o: &mut String, label: &str, value: &str| {
        o.push_str("  ");
        o.push_str(&field(label, cw, value));
    };
    check(o, t.check_signature, ok_failed(t, s.signature.is_ok()));
    match &s.chain {
        Some(c) => {
            let chain = if c.trusted {
                t.ok
            } else if p.pinned {
                t.chain_pinned
            } else {
                t.failed
            };
            check(o, t.check_chain, chain);
            check(o, t.check_valid_now, ok_failed(t, c.valid_now));
            let at_signing = match c.valid_at_signing_time {
                Some(ok) => ok_failed(t, ok),
                None => t.no_signing_time,
            };
            check(o, t.check_valid_signing, at_signing);
        }
        None => {
            o.push_str("  ");
            o.push_str(t.chain_not_built);
            o.push('\n');
        }
    }
    check(o, t.check_revocation, t.not_revoked);
    let address = match s.address_match {
        AddressMatch::Exact => t.address_exact,
        AddressMatch::Domain => t.address_domain,
        AddressMatch::NoMatch => t.failed,
    };
    check(o, t.check_address, address);
    if let Some(d) = s.digest {
        check(o, t.digest, &format!("{d:?}"));
    }
    for w in &s.warnings {
        o.push_str(&format!("  {}: {w}\n", t.note));
    }
}

/// One security problem, for `Advarsel.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The message was encrypted and could not be decrypted for its recipient.
    NotDecrypted,
    /// The signature does not verify (the message may have been changed).
    InvalidSignature { signer: String, reason: String },
    /// The signer certificate is revoked.
    Revoked { signer: String },
    /// The signature is correct, but the certificate is not trusted (chain, validity, address).
    Untrusted { signer: String, reason: String },
}

/// `text` as a list item: "* " before the first line, two spaces before the others.
fn item(out: &mut String, text: &str) {
    for (i, line) in text.lines().enumerate() {
        out.push_str(if i == 0 { "* " } else { "  " });
        out.push_str(line);
        out.push('\n');
    }
}

/// The text of `Advarsel.txt`.
pub fn warning_text(t: &Texts, problems: &[Problem], checked_at: SystemTime) -> String {
    let mut o = String::new();
    title(&mut o, t.warning_title);
    o.push_str(t.warning_intro);
    o.push_str("\n\n");
    let who = |s: &str| {
        if s.is_empty() {
            t.unknown.to_string()
        } else {
            s.to_string()
        }
    };
    for p in problems {
        match p {
            Problem::NotDecrypted => item(&mut o, t.problem_not_decrypted),
            Problem::InvalidSignature { signer, reason } => {
                item(&mut o, t.problem_invalid);
                o.push_str(&format!(
                    "  {}: {}\n  {}: {reason}\n",
                    t.signer,
                    who(signer),
                    t.detail
                ));
            }
            Problem::Revoked { signer } => {
                item(&mut o, t.problem_revoked);
                o.push_str(&format!("  {}: {}\n", t.signer, who(signer)));
            }
            Problem::Untrusted { signer, reason } => {
                item(&mut o, t.problem_untrusted);
                o.push_str(&format!("  {}: {}\n", t.signer, who(signer)));
                if !reason.is_empty() {
                    o.push_str(&format!("  {}: {reason}\n", t.detail));
                }
            }
        }
    }
    o.push_str(&format!("\n{}: {}\n", t.checked_at, fmt_time(checked_at)));
    o
}

fn boundary_for(body: &[u8]) -> String {
    loop {
        let b = format!(
            "=_segl_{:016x}{:08x}",
            rand::random::<u64>(),
            rand::random::<u32>()
        );
        if memchr::memmem::find(body, b.as_bytes()).is_none() {
            return b;
        }
    }
}

/// Wraps `message` in a new `multipart/mixed`: the original entity (its `Content-*` fields and
/// body untouched) first, then each `(file name, text)` as an attachment. The other header
/// fields stay at the top level.
pub fn wrap(message: &[u8], parts: &[(&str, String)]) -> Vec<u8> {
    if parts.is_empty() {
        return message.to_vec();
    }
    let mut msg = Message::parse(message);
    let content = msg.take_content_fields();
    // The body is the end of `message` (parsing borrows it): no copy of a large message.
    let body = &message[message.len() - msg.body().len()..];
    let boundary = boundary_for(body);
    msg.append("MIME-Version", "1.0");
    msg.append(
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    if !body.is_ascii() {
        msg.append("Content-Transfer-Encoding", "8bit");
    }
    // The header block first, then the new body written after it in the same buffer: a large
    // message is copied once, not into a body and then into the whole message.
    msg.set_body(Vec::new());
    let mut out = msg.to_bytes();
    out.reserve(body.len() + 4096);
    out.extend_from_slice(b"This is a multi-part message in MIME format.\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    for f in &content {
        out.extend_from_slice(f);
        if !f.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    for (name, text) in parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
        let ascii = text.is_ascii();
        out.extend_from_slice(
            format!(
                "Content-Type: text/plain; charset={}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: {}\r\n\r\n",
                if ascii { "us-ascii" } else { "utf-8" },
                if ascii { "7bit" } else { "base64" },
            )
            .as_bytes(),
        );
        if ascii {
            out.extend_from_slice(text.as_bytes());
        } else {
            let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            for chunk in b64.as_bytes().chunks(76) {
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_without_touching_the_entity() {
        let entity = b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n--XX--\r\n";
        let mut raw = b"From: a@b.test\r\nSubject: s\r\nMIME-Version: 1.0\r\n".to_vec();
        raw.extend_from_slice(entity);
        let out = wrap(&raw, &[(PROOF_NAME, "checked\n".into())]);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("From: a@b.test\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_segl_"));
        let b = head
            .split("boundary=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        let first = body
            .split(&format!("--{b}\r\n"))
            .nth(1)
            .unwrap()
            .strip_suffix("\r\n")
            .unwrap();
        assert_eq!(first.as_bytes(), entity);
        assert!(body.contains("filename=\"signatur-bevis.txt\"") && body.contains("checked\r\n"));
        assert!(body.ends_with(&format!("--{b}--\r\n")));
    }
}
