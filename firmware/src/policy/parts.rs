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

use super::headers::Message;
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

fn describe_cert(out: &mut String, cert: &Certificate, indent: &str) {
    let tbs = cert.tbs_certificate();
    let v = tbs.validity();
    out.push_str(&format!("{indent}Subject:    {}\n", tbs.subject()));
    out.push_str(&format!("{indent}Issuer:     {}\n", tbs.issuer()));
    out.push_str(&format!("{indent}Serial:     {}\n", hex_serial(cert)));
    out.push_str(&format!(
        "{indent}Valid from: {}\n{indent}Valid to:   {}\n",
        fmt_time(v.not_before.to_system_time()),
        fmt_time(v.not_after.to_system_time())
    ));
}

fn yes_no(ok: bool) -> &'static str {
    if ok {
        "OK"
    } else {
        "FAILED"
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

/// The text of `signatur-bevis.txt`.
pub fn proof_text(p: &Proof) -> String {
    let s = p.signer;
    let mut t = String::new();
    t.push_str("SIGNATUR-BEVIS / PROOF OF SIGNATURE\n");
    t.push_str("===================================\n\n");
    t.push_str("The mail gateway checked the digital signature of the attached message when it\n");
    t.push_str("arrived. The signature is valid. Keep this proof together with the message.\n\n");
    t.push_str(&format!("Signed by:         {}\n", p.signer_name));
    if let Some(f) = p.from {
        t.push_str(&format!("Sender (From):     {f}\n"));
    }
    t.push_str(&format!(
        "Signing time:      {}\n",
        s.signing_time
            .map(fmt_time)
            .unwrap_or_else(|| "(not stated by the signer)".into())
    ));
    t.push_str(&format!("Verification time: {}\n", fmt_time(p.verified_at)));
    if p.decrypted {
        t.push_str("Encryption:        the message was encrypted and decrypted by the gateway\n");
    }
    if let Some(cert) = &s.certificate {
        t.push_str("\nSigner certificate:\n");
        describe_cert(&mut t, cert, "  ");
    }
    if let Some(chain) = &s.chain {
        t.push_str("\nCertificate chain (signer first):\n");
        for (i, c) in chain.path.iter().enumerate() {
            t.push_str(&format!("  [{i}]\n"));
            describe_cert(&mut t, c, "      ");
        }
    }
    t.push_str("\nChecks made:\n");
    t.push_str(&format!(
        "  Signature over the content and message digest: {}\n",
        yes_no(s.signature.is_ok())
    ));
    match &s.chain {
        Some(c) => {
            t.push_str(&format!(
                "  Chain to a trusted certificate authority:      {}\n",
                if c.trusted {
                    "OK"
                } else if p.pinned {
                    "not built; the certificate is a known partner certificate"
                } else {
                    "FAILED"
                }
            ));
            t.push_str(&format!(
                "  Certificates valid at verification time:       {}\n",
                yes_no(c.valid_now)
            ));
            t.push_str(&format!(
                "  Certificates valid at signing time:            {}\n",
                match c.valid_at_signing_time {
                    Some(ok) => yes_no(ok),
                    None => "(no signing time)",
                }
            ));
        }
        None => t.push_str("  Chain: (not built)\n"),
    }
    t.push_str("  Revocation (certificate revocation lists held): not revoked\n");
    t.push_str(&format!(
        "  Sender address in the certificate:              {}\n",
        match s.address_match {
            AddressMatch::Exact => "OK (the certificate names the address)",
            AddressMatch::Domain => "OK (a domain certificate for the sender's domain)",
            AddressMatch::NoMatch => "FAILED",
        }
    ));
    if let Some(d) = s.digest {
        t.push_str(&format!("  Digest algorithm: {d:?}\n"));
    }
    for w in &s.warnings {
        t.push_str(&format!("  Note: {w}\n"));
    }
    t
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

/// The text of `Advarsel.txt`.
pub fn warning_text(problems: &[Problem], checked_at: SystemTime) -> String {
    let mut t = String::new();
    t.push_str("ADVARSEL / WARNING\n");
    t.push_str("==================\n\n");
    t.push_str("The mail gateway found a security problem with the attached message. It is\n");
    t.push_str(
        "delivered anyway; judge its content with care and tell your e-mail administrator.\n\n",
    );
    let who = |s: &str| {
        if s.is_empty() {
            "(unknown)".to_string()
        } else {
            s.to_string()
        }
    };
    for p in problems {
        match p {
            Problem::NotDecrypted => {
                t.push_str(
                    "* The message was encrypted, but it could not be decrypted for you: the\n",
                );
                t.push_str(
                    "  gateway holds no key for your address that it was encrypted to. It is\n",
                );
                t.push_str("  delivered as it arrived. The sender has not been told.\n");
            }
            Problem::InvalidSignature { signer, reason } => {
                t.push_str("* The message was signed, but the signature cannot be verified.\n");
                t.push_str("  The message may have been changed after it was signed!\n");
                t.push_str(&format!("  Signer: {}\n  Detail: {reason}\n", who(signer)));
            }
            Problem::Revoked { signer } => {
                t.push_str(
                    "* The signer's certificate has been revoked (withdrawn) by its issuer.\n",
                );
                t.push_str("  The signature cannot be trusted.\n");
                t.push_str(&format!("  Signer: {}\n", who(signer)));
            }
            Problem::Untrusted { signer, reason } => {
                t.push_str(
                    "* The signature is intact, but the signer's certificate is not trusted:\n",
                );
                t.push_str(
                    "  it is not issued by a trusted certificate authority, has expired or is\n",
                );
                t.push_str("  not yet valid, or does not name the sender's address.\n");
                t.push_str(&format!("  Signer: {}\n", who(signer)));
                if !reason.is_empty() {
                    t.push_str(&format!("  Detail: {reason}\n"));
                }
            }
        }
    }
    t.push_str(&format!("\nChecked at: {}\n", fmt_time(checked_at)));
    t
}

fn boundary_for(body: &[u8]) -> String {
    loop {
        let b = format!(
            "=_segl_{:016x}{:08x}",
            rand::random::<u64>(),
            rand::random::<u32>()
        );
        if !body.windows(b.len()).any(|w| w == b.as_bytes()) {
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
    let body = msg.body().to_vec();
    let boundary = boundary_for(&body);
    let mut out = Vec::with_capacity(body.len() + 4096);
    out.extend_from_slice(b"This is a multi-part message in MIME format.\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    for f in &content {
        out.extend_from_slice(f);
        if !f.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
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
    msg.append("MIME-Version", "1.0");
    msg.append(
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    if !body.is_ascii() {
        msg.append("Content-Transfer-Encoding", "8bit");
    }
    msg.set_body(out);
    msg.to_bytes()
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
