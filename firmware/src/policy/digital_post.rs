//! Digital Post distribution (Comendo/virk.dk, DESIGN §4): mail that Danish Digital Post
//! forwards is encrypted to the company certificate and carries `X-DPI-*` metadata headers;
//! admin rules (`[[digital_post.rules]]`) deliver it to the right local recipients.
//!
//! Anyone can write `X-DPI-*` headers, so the rules apply only when both hold: the message was
//! decrypted with a company key, and it carries a valid signature whose signer certificate is
//! one of `digital_post.sender_certificates` (compared by SHA-256 of the DER). Headers inside
//! the encrypted entity take precedence over the outer ones (which travel unprotected).
//! Targets are local recipients only (checked when the configuration is loaded).

use sha2::Digest;
use x509_cert::Certificate;

use super::fields::Message;
use super::PolicyCtx;
use crate::config::DigitalPostRule;

/// What the decryption and verification of one copy established.
pub struct Evidence<'a> {
    /// The certificate whose key decrypted the message (none: it was not encrypted).
    pub decrypted_with: Option<&'a Certificate>,
    /// The signer certificate of a valid signature (none: unsigned or not valid).
    pub valid_signer: Option<&'a Certificate>,
    /// The decrypted entity (inside the encryption).
    pub inner: Option<&'a [u8]>,
    /// The whole message as it will be delivered (outer headers + entity).
    pub message: &'a [u8],
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub recipients: Vec<String>,
    /// For `X-Segl-Routed` and the log, e.g. `rule 1 (X-DPI-PNUMMER=1003290274)`.
    pub why: String,
}

fn fingerprint(cert: &Certificate) -> Option<[u8; 32]> {
    der::Encode::to_der(cert)
        .ok()
        .map(|d| sha2::Sha256::digest(&d).into())
}

/// The `X-DPI-*` header value a rule looks at: inside the encryption first, then outside.
fn value(rule: &DigitalPostRule, inner: Option<&Message>, outer: &Message) -> Option<String> {
    inner
        .and_then(|m| m.get_text(rule.header.trim()))
        .or_else(|| outer.get_text(rule.header.trim()))
}

fn matches(rule: &DigitalPostRule, v: &str) -> bool {
    let v = v.trim().to_lowercase();
    match (&rule.equals, &rule.contains) {
        (Some(e), _) => v == e.trim().to_lowercase(),
        (None, Some(c)) => v.contains(&c.trim().to_lowercase()),
        (None, None) => false,
    }
}

fn has_dpi(m: &Message) -> bool {
    m.names()
        .any(|n| n.len() > 6 && n[..6].eq_ignore_ascii_case("X-DPI-"))
}

/// Where one decrypted copy goes, when it is trusted Digital Post mail; `None`: as addressed.
pub fn route(ctx: &PolicyCtx, id: &str, ev: &Evidence) -> Option<Routed> {
    let dp = &ctx.cfg.digital_post;
    if dp.sender_fingerprints.is_empty()
        || (dp.rules.is_empty() && dp.default_deliver_to.is_empty())
    {
        return None;
    }
    let outer = Message::parse(ev.message);
    let inner = ev.inner.map(Message::parse);
    let carries_dpi = has_dpi(&outer) || inner.as_ref().is_some_and(has_dpi);
    let from_dp = ev
        .valid_signer
        .and_then(fingerprint)
        .is_some_and(|f| dp.sender_fingerprints.contains(&f));
    let company = ev
        .decrypted_with
        .is_some_and(|c| ctx.keystore.is_company_key(c, &dp.company_keys));
    if !(from_dp && company) {
        if carries_dpi {
            let why = match (from_dp, company) {
                (false, _) if ev.valid_signer.is_none() => "no valid signature",
                (false, _) => "the signer is not a Digital Post sender certificate",
                _ => "not decrypted with a company key",
            };
            tracing::warn!(
                id,
                reason = why,
                "X-DPI-* headers ignored: not trusted Digital Post mail"
            );
        }
        return None;
    }
    let mut recipients: Vec<String> = vec![];
    let mut why: Vec<String> = vec![];
    for (i, rule) in dp.rules.iter().enumerate() {
        let Some(v) = value(rule, inner.as_ref(), &outer) else {
            continue;
        };
        if matches(rule, &v) {
            why.push(format!(
                "rule {} ({}={})",
                i + 1,
                rule.header.trim(),
                v.trim()
            ));
            for r in &rule.deliver_to {
                let r = crate::address::normalize(r);
                if !recipients.contains(&r) {
                    recipients.push(r);
                }
            }
        }
    }
    if recipients.is_empty() {
        if dp.default_deliver_to.is_empty() {
            tracing::info!(
                id,
                "Digital Post mail matched no rule: delivered as addressed"
            );
            return None;
        }
        recipients = dp
            .default_deliver_to
            .iter()
            .map(|r| crate::address::normalize(r))
            .collect();
        why.push("no rule matched: default_deliver_to".into());
    }
    let why = why.join(", ");
    tracing::info!(id, to = ?recipients, rules = %why, "Digital Post mail routed");
    Some(Routed { recipients, why })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(equals: Option<&str>, contains: Option<&str>) -> DigitalPostRule {
        DigitalPostRule {
            header: "X-DPI-PNUMMER".into(),
            equals: equals.map(str::to_string),
            contains: contains.map(str::to_string),
            deliver_to: vec!["a@example.org".into()],
        }
    }

    #[test]
    fn rules_match_inner_headers_first() {
        let r = rule(Some("1003290274"), None);
        assert!(matches(&r, " 1003290274 "));
        assert!(!matches(&r, "10032902745"));
        assert!(matches(&rule(None, Some("skole")), "Byens Skole"));
        let outer = Message::parse(b"X-DPI-PNUMMER: 1\r\n\r\n");
        let inner = Message::parse(b"x-dpi-pnummer: 1003290274\r\n\r\n");
        assert_eq!(
            value(&r, Some(&inner), &outer).as_deref(),
            Some("1003290274")
        );
        assert_eq!(value(&r, None, &outer).as_deref(), Some("1"));
        assert!(has_dpi(&outer) && !has_dpi(&Message::parse(b"X-DPIX: 1\r\n\r\n")));
    }
}
