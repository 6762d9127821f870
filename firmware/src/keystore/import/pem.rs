//! PEM import: a private key ("PRIVATE KEY" or "RSA PRIVATE KEY") and certificates, in one
//! text or two. Encrypted PEM keys are refused with a clear message (use PKCS#12 instead).

use zeroize::Zeroizing;

use super::Imported;
use crate::keystore::error::{KeystoreError, Result};
use crate::smime::certs;

/// The PEM blocks of a text: (label, DER).
pub fn blocks(text: &[u8]) -> Result<Vec<(String, Zeroizing<Vec<u8>>)>> {
    let s =
        std::str::from_utf8(text).map_err(|_| KeystoreError::BadInput("PEM is not text".into()))?;
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let label_end = after[11..]
            .find("-----")
            .ok_or_else(|| KeystoreError::BadInput("unterminated PEM header".into()))?;
        let label = &after[11..11 + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = after
            .find(&end_marker)
            .ok_or_else(|| KeystoreError::BadInput(format!("PEM block {label} has no end")))?;
        let block = &after[..end + end_marker.len()];
        let (l, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| KeystoreError::BadInput(format!("PEM block {label}: {e}")))?;
        out.push((l.to_string(), Zeroizing::new(der)));
        rest = &after[end + end_marker.len()..];
    }
    Ok(out)
}

/// Imports a PEM private key and its certificate (plus chain) from the concatenated texts.
pub fn import(text: &[u8]) -> Result<Imported> {
    let mut key = None;
    let mut certs_found = Vec::new();
    for (label, der) in blocks(text)? {
        match label.as_str() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => key = Some(der),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(KeystoreError::Unsupported(
                    "encrypted PEM keys: export a PKCS#12 file instead".into(),
                ))
            }
            "CERTIFICATE" => certs_found.push(certs::parse_der(&der)?),
            _ => {}
        }
    }
    let key =
        key.ok_or_else(|| KeystoreError::BadInput("no private key in the PEM input".into()))?;
    if certs_found.is_empty() {
        return Err(KeystoreError::BadInput(
            "no certificate in the PEM input".into(),
        ));
    }
    super::pair(key, certs_found)
}

/// Certificates of a PEM or DER input.
pub fn certificates(input: &[u8]) -> Result<Vec<x509_cert::Certificate>> {
    if input.first() == Some(&0x30) {
        return Ok(vec![certs::parse_der(input)?]);
    }
    let mut out = Vec::new();
    for (label, der) in blocks(input)? {
        if label == "CERTIFICATE" {
            out.push(certs::parse_der(&der)?);
        }
    }
    if out.is_empty() {
        return Err(KeystoreError::BadInput("no certificate found".into()));
    }
    Ok(out)
}
