//! A minimal BER tag-length-value walker.
//!
//! `der` decodes BER into typed structures, but the signature over signed attributes must be
//! checked over the bytes *as received* (RFC 5652 §5.4), not over a re-encoding. This walker
//! finds those bytes. It handles indefinite lengths, bounds every length by the input and
//! limits nesting, so hostile input cannot make it panic or recurse without end.

use super::error::{Result, SmimeError};

const MAX_DEPTH: usize = 64;

/// One element as found in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// First identifier octet (class, constructed bit and low tag number).
    pub tag: u8,
    /// The whole element: identifier, length and contents (including an end-of-contents).
    pub raw: &'a [u8],
    /// The contents (without end-of-contents octets for indefinite lengths).
    pub value: &'a [u8],
}

fn bad(what: &str) -> SmimeError {
    SmimeError::MalformedCms(format!("BER: {what}"))
}

/// Reads one element from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8])> {
    read_depth(input, 0)
}

fn read_depth(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return Err(bad("nesting too deep"));
    }
    let tag = *input.first().ok_or_else(|| bad("truncated tag"))?;
    let mut pos = 1;
    if tag & 0x1f == 0x1f {
        // High tag number form: skip continuation octets.
        loop {
            let b = *input.get(pos).ok_or_else(|| bad("truncated tag"))?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos > 6 {
                return Err(bad("tag number too large"));
            }
        }
    }
    let first = *input.get(pos).ok_or_else(|| bad("truncated length"))?;
    pos += 1;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return Err(bad("indefinite length on primitive element"));
        }
        let start = pos;
        let mut rest = &input[pos..];
        loop {
            if rest.len() >= 2 && rest[0] == 0 && rest[1] == 0 {
                let value_end = input.len() - rest.len();
                let end = value_end + 2;
                return Ok((
                    Tlv {
                        tag,
                        raw: &input[..end],
                        value: &input[start..value_end],
                    },
                    &input[end..],
                ));
            }
            if rest.is_empty() {
                return Err(bad("missing end-of-contents"));
            }
            let (_, r) = read_depth(rest, depth + 1)?;
            rest = r;
        }
    }
    let len = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(bad("length too large"));
        }
        let mut len = 0usize;
        for _ in 0..n {
            let b = *input.get(pos).ok_or_else(|| bad("truncated length"))?;
            pos += 1;
            len = (len << 8) | usize::from(b);
        }
        len
    };
    let end = pos.checked_add(len).ok_or_else(|| bad("length overflow"))?;
    if end > input.len() {
        return Err(bad("element longer than its container"));
    }
    Ok((
        Tlv {
            tag,
            raw: &input[..end],
            value: &input[pos..end],
        },
        &input[end..],
    ))
}

/// All elements inside a constructed value.
pub(crate) fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

/// The raw `[0] IMPLICIT SignedAttributes` of every SignerInfo of a SignedData (given its
/// contents, without the SEQUENCE header), in order, re-tagged as `SET OF` (0x31) as
/// RFC 5652 §5.4 prescribes for the signature input. `None` for a signer without signed
/// attributes.
pub(crate) fn raw_signed_attrs(signed_data_value: &[u8]) -> Result<Vec<Option<Vec<u8>>>> {
    let fields = children(signed_data_value)?;
    let signer_infos = fields.last().ok_or_else(|| bad("empty SignedData"))?;
    let mut out = Vec::new();
    for si in children(signer_infos.value)? {
        let parts = children(si.value)?;
        // version, sid, digestAlgorithm, then optionally [0] signedAttrs.
        match parts.get(3) {
            Some(t) if t.tag == 0xa0 => {
                if t.raw.get(1) == Some(&0x80) {
                    // Indefinite length is not DER; let the caller fall back to re-encoding.
                    out.push(None);
                } else {
                    let mut v = t.raw.to_vec();
                    v[0] = 0x31;
                    out.push(Some(v));
                }
            }
            _ => out.push(None),
        }
    }
    Ok(out)
}

/// The contents of an OCTET STRING given as tag and value, reassembling the chunks of a
/// constructed (BER) encoding, definite or indefinite.
pub(crate) fn octet_string_contents(tag: u8, value: &[u8]) -> Result<Vec<u8>> {
    fn walk(tag: u8, value: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(bad("nesting too deep"));
        }
        if tag & 0x20 == 0 {
            out.extend_from_slice(value);
            return Ok(());
        }
        for c in children(value)? {
            if c.tag & 0x1f != 0x04 {
                return Err(bad(
                    "constructed OCTET STRING with a non-OCTET STRING chunk",
                ));
            }
            walk(c.tag, c.value, out, depth + 1)?;
        }
        Ok(())
    }
    let mut out = Vec::with_capacity(value.len());
    walk(tag, value, &mut out, 0)?;
    Ok(out)
}

/// DER tag-length-value with a definite length.
pub(crate) fn encode_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_and_definite() {
        let input = [0x30, 0x80, 0x04, 0x01, 0xaa, 0x00, 0x00, 0x05, 0x00];
        let (t, rest) = read(&input).unwrap();
        assert_eq!(t.tag, 0x30);
        assert_eq!(t.value, &[0x04, 0x01, 0xaa]);
        assert_eq!(rest, &[0x05, 0x00]);
    }

    #[test]
    fn garbage_does_not_panic() {
        for input in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x80, 0x04],
            &[0x1f],
        ] {
            assert!(read(input).is_err());
        }
    }
}
