//! The licence file: readable TOML terms and a detached Ed25519 signature, in one text file.
//!
//! ```text
//! -----BEGIN SEGL LICENSE-----
//! format = 1
//! id = "L-2026-0001"
//! customer = "Example A/S"
//! issued = "2026-11-30"
//! starts = "2026-12-01"
//! expires = "2027-11-30"
//! keys = 25
//! grace_days = 14
//! features = []
//! box = "segl-1a2b-3c4d-5e6f-7a8b-9c0d"
//! -----END SEGL LICENSE-----
//! -----BEGIN SEGL LICENSE SIGNATURE-----
//! key = "3f9a0c1d22e4b5a6"
//! signature = "<base64, 64 bytes>"
//! -----END SEGL LICENSE SIGNATURE-----
//! ```
//!
//! The signature covers [`CONTEXT`], the signing key's id and the terms block exactly as
//! written (line ends normalised to LF, so a file passed through a Windows mail client still
//! verifies). Nothing else may stand in the file but blank lines: every other byte changes
//! either the terms or the signature, so a one-byte change is always refused.
//! Parsing does no I/O and never panics (fuzzed: `fuzz/fuzz_targets/license_file.rs`).

use serde::{Deserialize, Serialize};

/// Domain separation: a signature over a licence can mean nothing else.
pub const CONTEXT: &[u8] = b"segl-license-v1\n";
pub const BEGIN: &str = "-----BEGIN SEGL LICENSE-----";
pub const END: &str = "-----END SEGL LICENSE-----";
pub const SIG_BEGIN: &str = "-----BEGIN SEGL LICENSE SIGNATURE-----";
pub const SIG_END: &str = "-----END SEGL LICENSE SIGNATURE-----";
/// A licence file is small; anything larger is not one.
pub const MAX_LEN: usize = 16 * 1024;

/// Why a licence file is refused. The texts are shown to administrators as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LicenseError {
    #[error("not a Segl licence file: {0}")]
    Malformed(String),
    #[error("the licence signature is not valid: the file was changed after it was issued")]
    BadSignature,
    #[error("the licence is signed with a key this firmware does not accept ({0})")]
    UnknownKey(String),
    #[error("the licence is bound to box {licensed}, but this box is {this}: ask your vendor for a licence for {this}")]
    OtherBox { licensed: String, this: String },
    #[error("the licence expired on {expires} and its grace period ended on {grace_end}")]
    Expired { expires: String, grace_end: String },
    #[error("the licence is not valid before {starts}")]
    NotYetValid { starts: String },
    #[error("{0}")]
    Storage(String),
}

/// The terms of a licence, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// Format version, 1.
    pub format: u32,
    /// The vendor's licence id.
    pub id: String,
    pub customer: String,
    /// Dates are `YYYY-MM-DD`, UTC; `expires` is the last valid day.
    pub issued: String,
    pub starts: String,
    pub expires: String,
    /// Individual S/MIME keys (signing + decryption) covered: addresses and function
    /// mailboxes with an active key.
    pub keys: u32,
    /// Days after `expires` during which the licence still works (with warnings).
    #[serde(default)]
    pub grace_days: u32,
    /// Optional feature flags (reserved; none are enforced yet).
    #[serde(default)]
    pub features: Vec<String>,
    /// The box the licence is bound to (none: any box).
    #[serde(default, rename = "box", skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
}

/// A parsed licence file: the terms, and what the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFile {
    pub terms: Terms,
    /// The id of the signing key (hex of the first 8 bytes of SHA-256 of the public key).
    pub key_id: String,
    pub signature: Vec<u8>,
    /// The exact bytes the signature covers.
    pub signed: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigBlock {
    key: String,
    signature: String,
}

/// A calendar day, as days since 1970-01-01 (UTC).
pub type Day = i64;

/// Parses `YYYY-MM-DD` (strictly).
pub fn parse_day(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()?;
    Some(i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN)
}

const UNIX_EPOCH_JULIAN: i64 = 2_440_588;

/// `YYYY-MM-DD` of a day.
pub fn format_day(day: Day) -> String {
    match i32::try_from(day + UNIX_EPOCH_JULIAN)
        .ok()
        .and_then(|j| time::Date::from_julian_day(j).ok())
    {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        None => day.to_string(),
    }
}

/// Today (UTC) of a unix time.
pub fn day_of(unix: i64) -> Day {
    unix.div_euclid(86_400)
}

/// The id of a public key: hex of the first 8 bytes of its SHA-256.
pub fn key_id(public_key: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(public_key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bytes a signature covers.
pub fn signed_bytes(key_id: &str, terms_block: &str) -> Vec<u8> {
    let mut v = CONTEXT.to_vec();
    v.extend_from_slice(key_id.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(terms_block.as_bytes());
    v
}

fn malformed(m: impl Into<String>) -> LicenseError {
    LicenseError::Malformed(m.into())
}

/// Checks terms that are wrong whoever signed them.
fn check_terms(t: &Terms) -> Result<(), LicenseError> {
    if t.format != 1 {
        return Err(malformed(format!("format {} is not supported", t.format)));
    }
    for (name, v) in [
        ("issued", &t.issued),
        ("starts", &t.starts),
        ("expires", &t.expires),
    ] {
        if parse_day(v).is_none() {
            return Err(malformed(format!(
                "{name} = {v:?} is not a YYYY-MM-DD date"
            )));
        }
    }
    if parse_day(&t.expires) < parse_day(&t.starts) {
        return Err(malformed("the licence expires before it starts"));
    }
    if t.id.trim().is_empty() || t.customer.trim().is_empty() {
        return Err(malformed("id and customer must not be empty"));
    }
    // One line each: the file stays readable, and no value can forge a block line.
    let texts = [&t.id, &t.customer]
        .into_iter()
        .chain(t.box_id.iter())
        .chain(t.features.iter());
    for v in texts {
        if v.chars().any(char::is_control) || v.len() > 200 {
            return Err(malformed(format!(
                "{v:?}: control characters or more than 200 bytes"
            )));
        }
    }
    Ok(())
}

/// Parses a licence file (no signature check: see [`super::verify`]).
pub fn parse(input: &[u8]) -> Result<LicenseFile, LicenseError> {
    if input.len() > MAX_LEN {
        return Err(malformed("the file is too large"));
    }
    let text = std::str::from_utf8(input).map_err(|_| malformed("the file is not UTF-8 text"))?;
    let text = text.replace("\r\n", "\n");
    let mut terms_block: Option<String> = None;
    let mut sig_block: Option<String> = None;
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        let (want_end, slot) = match line {
            BEGIN => (END, &mut terms_block),
            SIG_BEGIN => (SIG_END, &mut sig_block),
            l if l.trim().is_empty() => continue,
            _ => return Err(malformed("text outside the licence blocks")),
        };
        if slot.is_some() {
            return Err(malformed(format!("{line} appears twice")));
        }
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == want_end {
                closed = true;
                break;
            }
            if l.starts_with("-----") {
                return Err(malformed(format!("{l} inside a block")));
            }
            body.push_str(l);
            body.push('\n');
        }
        if !closed {
            return Err(malformed(format!("{want_end} missing")));
        }
        *slot = Some(body);
    }
    let terms_block = terms_block.ok_or_else(|| malformed(format!("{BEGIN} missing")))?;
    let sig_block = sig_block.ok_or_else(|| malformed(format!("{SIG_BEGIN} missing")))?;
    let terms: Terms =
        toml::from_str(&terms_block).map_err(|e| malformed(format!("terms: {}", e.message())))?;
    check_terms(&terms)?;
    let sig: SigBlock = toml::from_str(&sig_block)
        .map_err(|e| malformed(format!("signature block: {}", e.message())))?;
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(sig.signature.trim())
        .map_err(|_| malformed("the signature is not base64"))?;
    if signature.len() != 64 {
        return Err(malformed("the signature is not 64 bytes"));
    }
    if sig.key.len() != 16 || !sig.key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("the signing key id is not 16 hex digits"));
    }
    Ok(LicenseFile {
        signed: signed_bytes(&sig.key, &terms_block),
        key_id: sig.key,
        signature,
        terms,
    })
}

/// Writes the terms block (what the vendor tool signs).
pub fn terms_block(terms: &Terms) -> Result<String, LicenseError> {
    check_terms(terms)?;
    let mut s = toml::to_string(terms).map_err(|e| malformed(e.to_string()))?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

/// Assembles a licence file from a terms block and its signature.
pub fn assemble(terms_block: &str, key_id: &str, signature: &[u8]) -> String {
    use base64::Engine;
    format!(
        "{BEGIN}\n{terms_block}{END}\n{SIG_BEGIN}\nkey = \"{key_id}\"\nsignature = \"{}\"\n{SIG_END}\n",
        base64::engine::general_purpose::STANDARD.encode(signature)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> Terms {
        Terms {
            format: 1,
            id: "L-1".into(),
            customer: "Example A/S".into(),
            issued: "2026-11-30".into(),
            starts: "2026-12-01".into(),
            expires: "2027-11-30".into(),
            keys: 5,
            grace_days: 14,
            features: vec![],
            box_id: None,
        }
    }

    #[test]
    fn days_round_trip() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(
            parse_day("2026-11-30").map(format_day).as_deref(),
            Some("2026-11-30")
        );
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(parse_day("2026-1-01"), None);
        assert_eq!(parse_day("+026-01-01"), None);
    }

    #[test]
    fn assembled_file_parses_back() {
        let block = terms_block(&terms()).expect("block");
        let text = assemble(&block, "0011223344556677", &[7u8; 64]);
        let f = parse(text.as_bytes()).expect("parse");
        assert_eq!(f.terms, terms());
        assert_eq!(f.signed, signed_bytes("0011223344556677", &block));
        // CRLF is the same file.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(parse(crlf.as_bytes()).expect("crlf").signed, f.signed);
    }

    #[test]
    fn stray_text_and_unknown_fields_are_refused() {
        let block = terms_block(&terms()).expect("block");
        let text = assemble(&block, "0011223344556677", &[7u8; 64]);
        assert!(parse(format!("hello\n{text}").as_bytes()).is_err());
        let extra = text.replace("keys = 5", "keys = 5\nseats = 9");
        assert!(parse(extra.as_bytes()).is_err());
        assert!(parse(b"").is_err());
        assert!(parse(&text.as_bytes()[..text.len() / 2]).is_err());
    }
}
