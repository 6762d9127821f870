//! Making the `DKIM-Signature` field with `mail-auth`: relaxed/relaxed canonicalisation, the
//! configured header list, oversigning, `t=` always and `x=` when configured.
//!
//! How the header list becomes `h=`: `mail-auth` signs every instance of each listed field that
//! the message has (bottom-up, RFC 6376 §5.4.2) and lists a field the message lacks once as
//! well, signing it as absent, so nobody can add, say, a `Cc` on the way. A field to
//! *oversign* is listed once more than it occurs: an extra instance added later (a second
//! From or Subject shown to the reader instead of the signed one) breaks the signature.

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};

use super::{DkimError, SigningKey};

/// What to sign with and how.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// `d=`: the signing domain.
    pub domain: &'a str,
    /// `s=`: the selector whose record holds the public key.
    pub selector: &'a str,
    /// Header fields to sign.
    pub headers: &'a [String],
    /// Header fields to sign once more than they occur (a subset of `headers`).
    pub oversign: &'a [String],
    /// `x=` this many days after `t=`; 0 for no expiry.
    pub expire_days: u32,
}

/// The field list handed to `mail-auth`: each configured field once, and the oversigned ones
/// a second time (see the module documentation for how that becomes `h=`).
pub fn field_list(headers: &[String], oversign: &[String]) -> Vec<String> {
    let mut list: Vec<String> = Vec::with_capacity(headers.len() + oversign.len());
    for h in headers.iter().chain(oversign) {
        let h = h.trim();
        if !h.is_empty() {
            list.push(h.to_string());
        }
    }
    list
}

/// The `DKIM-Signature` field (folded, ending in CRLF) for `message` as it will be sent.
pub fn signature_field(
    key: &SigningKey,
    params: &Params<'_>,
    message: &[u8],
) -> Result<Vec<u8>, DkimError> {
    let mut signer = DkimSigner::from_key(key.clone())
        .domain(params.domain)
        .selector(params.selector)
        .headers(field_list(params.headers, params.oversign))
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed);
    if params.expire_days > 0 {
        signer = signer.expiration(u64::from(params.expire_days) * 86_400);
    }
    let sig = signer
        .sign(message)
        .map_err(|e| DkimError::Crypto(e.to_string()))?;
    Ok(sig.to_header().into_bytes())
}

/// `message` with its new `DKIM-Signature` field on top.
pub fn sign(key: &SigningKey, params: &Params<'_>, message: &[u8]) -> Result<Vec<u8>, DkimError> {
    let field = signature_field(key, params, message)?;
    let mut out = Vec::with_capacity(field.len() + message.len());
    out.extend_from_slice(&field);
    out.extend_from_slice(message);
    Ok(out)
}

/// The domain of the message's From address (RFC 5322.From): the one DMARC aligns with, so the
/// one whose key signs.
pub fn author_domain(message: &[u8]) -> Option<String> {
    crate::smime::mime::from_address(message)
        .and_then(|a| crate::smtp::wire::domain_of(&a))
        .filter(|d| !d.is_empty())
}

/// `domain` and its parent domains, most specific first, down to two labels: a key for
/// `example.org` also signs mail from `news.example.org` (relaxed DMARC alignment).
pub fn candidate_domains(domain: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(domain);
    std::iter::from_fn(move || {
        let d = rest?;
        rest = d
            .split_once('.')
            .map(|(_, p)| p)
            .filter(|p| p.contains('.'));
        Some(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::{key, Algorithm};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parents_down_to_two_labels() {
        let v: Vec<&str> = candidate_domains("a.b.example.org").collect();
        assert_eq!(v, ["a.b.example.org", "b.example.org", "example.org"]);
        let v: Vec<&str> = candidate_domains("example.org").collect();
        assert_eq!(v, ["example.org"]);
    }

    #[test]
    fn signature_lists_oversigned_and_absent_fields() {
        let m = key::generate(Algorithm::Ed25519).unwrap();
        let k = SigningKey::from_pkcs8(Algorithm::Ed25519, &m.pkcs8).unwrap();
        let headers = s(&["From", "To", "Subject", "Date", "Cc"]);
        let over = s(&["From", "Subject"]);
        let p = Params {
            domain: "example.org",
            selector: "s1",
            headers: &headers,
            oversign: &over,
            expire_days: 3,
        };
        let msg = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\nDate: Mon, 30 Nov 2026 19:00:00 +0000\r\n\r\nbody\r\n";
        let out = sign(&k, &p, msg).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(
            "DKIM-Signature: v=1; a=ed25519-sha256; s=s1; d=example.org; c=relaxed/relaxed;"
        ));
        let unfolded = text.replace("\r\n\t", "");
        let h = unfolded
            .split("h=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_ascii_lowercase();
        let names: Vec<&str> = h.split(':').collect();
        assert_eq!(names.iter().filter(|n| **n == "from").count(), 2, "{h}");
        assert_eq!(names.iter().filter(|n| **n == "subject").count(), 2, "{h}");
        assert_eq!(names.iter().filter(|n| **n == "to").count(), 1, "{h}");
        assert!(names.contains(&"cc"), "{h}");
        let t: u64 = unfolded
            .split("t=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let x: u64 = unfolded
            .split("x=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(x - t, 3 * 86_400);
        assert_eq!(author_domain(msg).as_deref(), Some("example.org"));
    }
}
