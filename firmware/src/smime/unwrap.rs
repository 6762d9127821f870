//! Walking nested S/MIME layers: signed-inside-encrypted, encrypted-inside-signed and
//! triple-wrapped, with a depth limit.
//!
//! EFAIL: only an entity that *is* the whole message body (or the single entity inside a
//! signature layer) is decrypted. An encrypted part beside other parts is left encrypted and
//! the reason is reported, so that attacker-controlled parts can never exfiltrate plaintext.
//! A `multipart/signed` inside `multipart/mixed` (forwarded mail) is verified where it stands.

use std::time::SystemTime;

use x509_cert::Certificate;

use super::decrypt::{self, DecryptInfo};
use super::error::{Result, SmimeError};
use super::keyops::KeyLookup;
use super::mime::{self, Entity};
use super::verify::{self, VerifyReport};

/// Limits against MIME bombs and endless nesting.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum number of S/MIME layers (and MIME nesting depth when scanning parts).
    pub max_depth: usize,
    /// Maximum number of parts in one multipart body.
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 8,
            max_parts: 1000,
        }
    }
}

/// One layer that was found while unwrapping.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Layer {
    /// An encrypted layer that was decrypted.
    Decrypted(DecryptInfo),
    /// A signature layer (its content became the message).
    Signed(VerifyReport),
    /// A signed part inside a multipart, verified where it stands (the message is unchanged).
    NestedSignature(VerifyReport),
    /// A layer that was left as it is, with the reason.
    Untouched(SmimeError),
}

/// The innermost message and what was done on the way.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Unwrapped {
    /// The message after removing every layer that could be removed.
    pub message: Vec<u8>,
    /// Outermost layer first.
    pub layers: Vec<Layer>,
}

/// See [`super::unwrap`].
pub(crate) fn unwrap(
    msg: &[u8],
    keys: &dyn KeyLookup,
    anchors: &[Certificate],
    extra_certs: &[Certificate],
    now: SystemTime,
    limits: Limits,
) -> Result<Unwrapped> {
    let mut message = mime::to_crlf(msg);
    let mut layers = Vec::new();
    loop {
        if layers.len() >= limits.max_depth {
            layers.push(Layer::Untouched(SmimeError::LimitExceeded(format!(
                "more than {} S/MIME layers",
                limits.max_depth
            ))));
            break;
        }
        let e = Entity::parse(&message)?;
        if decrypt::is_enveloped(&e) {
            match decrypt::decrypt(&message, keys) {
                Ok(d) => {
                    layers.push(Layer::Decrypted(d.info));
                    message = d.message;
                    continue;
                }
                Err(err) => {
                    layers.push(Layer::Untouched(err));
                    break;
                }
            }
        }
        if verify::signed_kind(&e).is_some() {
            match verify::verify(&message, anchors, extra_certs, now, limits.max_parts) {
                Ok(report) => {
                    message = report.content.clone();
                    layers.push(Layer::Signed(report));
                    continue;
                }
                Err(err) => {
                    layers.push(Layer::Untouched(err));
                    break;
                }
            }
        }
        if e.content_type().mime.starts_with("multipart/") {
            let mut found = Vec::new();
            scan_parts(&message, anchors, extra_certs, now, limits, 0, &mut found)?;
            layers.extend(found);
        }
        break;
    }
    Ok(Unwrapped { message, layers })
}

/// Whether `msg` is encrypted as a whole, or is one or more signature layers around a single
/// encrypted entity (encrypted, then signed): the cases in which decryption is allowed
/// (EFAIL). Signatures are not checked here; this only decides whether keys are needed.
pub fn has_encrypted_layer(msg: &[u8], limits: Limits) -> bool {
    let mut current = std::borrow::Cow::Borrowed(msg);
    for _ in 0..limits.max_depth {
        let Ok(e) = Entity::parse(&current) else {
            return false;
        };
        if decrypt::is_enveloped(&e) {
            return true;
        }
        if verify::signed_kind(&e).is_none() {
            return false;
        }
        match verify::signed_content(&current, limits.max_parts) {
            Ok(inner) => current = std::borrow::Cow::Owned(inner),
            Err(_) => return false,
        }
    }
    false
}

/// Looks inside a multipart for signed parts (verified in place) and encrypted parts (EFAIL:
/// reported, never decrypted).
fn scan_parts(
    entity: &[u8],
    anchors: &[Certificate],
    extra_certs: &[Certificate],
    now: SystemTime,
    limits: Limits,
    depth: usize,
    out: &mut Vec<Layer>,
) -> Result<()> {
    if depth > limits.max_depth {
        return Err(SmimeError::LimitExceeded("MIME nesting too deep".into()));
    }
    let e = Entity::parse(entity)?;
    let ct = e.content_type();
    let Some(boundary) = ct.param("boundary") else {
        return Err(SmimeError::MalformedMime(
            "multipart without boundary".into(),
        ));
    };
    let (parts, _, _) = mime::split_multipart(e.body, boundary, limits.max_parts)?;
    for p in parts {
        let pe = Entity::parse(p.raw)?;
        if decrypt::is_enveloped(&pe) {
            out.push(Layer::Untouched(SmimeError::Refused(
                "an encrypted part sits beside other parts of the message; it is not decrypted (EFAIL protection)".into(),
            )));
        } else if verify::signed_kind(&pe).is_some() {
            match verify::verify(p.raw, anchors, extra_certs, now, limits.max_parts) {
                Ok(r) => out.push(Layer::NestedSignature(r)),
                Err(err) => out.push(Layer::Untouched(err)),
            }
        } else if pe.content_type().mime.starts_with("multipart/") {
            scan_parts(p.raw, anchors, extra_certs, now, limits, depth + 1, out)?;
        }
    }
    Ok(())
}
