//! A minimal BER tag-length-value walker and a BER → DER-shaped normaliser.
//!
//! Two jobs that the typed `der` decoder cannot do for us:
//! - The signature over signed attributes must be checked over the bytes *as received*
//!   (RFC 5652 §5.4), not over a re-encoding. The walker finds those bytes.
//! - NSS (Thunderbird), gpgsm and Bouncy Castle write CMS in BER: indefinite lengths at every
//!   level and the signed content as a *constructed* OCTET STRING of one or many chunks (even
//!   empty or nested ones). `der`'s BER mode mis-reads some of these shapes (it handed back the
//!   chunk headers as content, so every such signature failed its digest check), so
//!   [`to_der`] rewrites the whole structure first: definite minimal lengths everywhere and
//!   every constructed string joined into one primitive string. The typed decoder then only
//!   ever sees DER.
//!
//! Every length is bounded by the input and nesting is limited, so hostile input cannot make
//! either of them panic or recurse without end.

use super::error::{Result, SmimeError};

const MAX_DEPTH: usize = 64;

/// One element as found in the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// First identifier octet (class, constructed bit and low tag number).
    pub tag: u8,
    /// All identifier octets (more than one for high tag numbers).
    pub ident: &'a [u8],
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
    let ident_len = pos;
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
                        ident: &input[..ident_len],
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
            ident: &input[..ident_len],
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

/// The raw `[0] IMPLICIT SignedAttributes` of every SignerInfo of a CMS ContentInfo holding
/// SignedData, in order, re-tagged as `SET OF` (0x31) as RFC 5652 §5.4 prescribes for the
/// signature input. `None` for a signer without signed attributes, or whose attributes were
/// sent with an indefinite length (not DER: the caller uses the normalised encoding).
pub(crate) fn raw_signed_attrs(content_info: &[u8]) -> Result<Vec<Option<Vec<u8>>>> {
    let (ci, _) = read(content_info)?;
    let ci_fields = children(ci.value)?;
    let explicit = ci_fields
        .get(1)
        .filter(|t| t.tag == 0xa0)
        .ok_or_else(|| bad("ContentInfo without content"))?;
    let (signed_data, _) = read(explicit.value)?;
    let fields = children(signed_data.value)?;
    let signer_infos = fields.last().ok_or_else(|| bad("empty SignedData"))?;
    let mut out = Vec::new();
    for si in children(signer_infos.value)? {
        let parts = children(si.value)?;
        // version, sid, digestAlgorithm, then optionally [0] signedAttrs.
        match parts.get(3) {
            Some(t) if t.tag == 0xa0 && t.raw.get(1) != Some(&0x80) => {
                let mut v = t.raw.to_vec();
                v[0] = 0x31;
                out.push(Some(v));
            }
            _ => out.push(None),
        }
    }
    Ok(out)
}

/// The contents of an OCTET STRING given as tag and value, reassembling the chunks of a
/// constructed (BER) encoding, definite or indefinite, nested to any depth.
pub(crate) fn octet_string_contents(tag: u8, value: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    join_octet_chunks(tag, value, &mut out, 0)?;
    Ok(out)
}

/// Appends the contents of a (possibly constructed) OCTET STRING. X.690 §8.7.3 (and §8.23.6
/// for the character string types, which are encoded as if they were OCTET STRINGs): the
/// chunks of a constructed string are OCTET STRINGs, primitive or constructed themselves.
fn join_octet_chunks(tag: u8, value: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad("nesting too deep"));
    }
    if tag & 0x20 == 0 {
        out.extend_from_slice(value);
        return Ok(());
    }
    for c in children(value)? {
        if c.tag & !0x20 != 0x04 {
            return Err(bad(
                "constructed string with a chunk that is not an OCTET STRING",
            ));
        }
        join_octet_chunks(c.tag, c.value, out, depth + 1)?;
    }
    Ok(())
}

/// Appends the data bits of a (possibly constructed) BIT STRING and returns the unused-bit
/// count of its last chunk. Only the last chunk may leave bits unused (X.690 §8.6.4).
fn join_bit_chunks(tag: u8, value: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<u8> {
    if depth > MAX_DEPTH {
        return Err(bad("nesting too deep"));
    }
    if tag & 0x20 == 0 {
        let (&unused, data) = value
            .split_first()
            .ok_or_else(|| bad("BIT STRING without its unused-bits octet"))?;
        if unused > 7 || (data.is_empty() && unused != 0) {
            return Err(bad("BIT STRING with a wrong unused-bits count"));
        }
        out.extend_from_slice(data);
        return Ok(unused);
    }
    let mut unused = 0;
    for c in children(value)? {
        if unused != 0 {
            return Err(bad(
                "BIT STRING chunk with unused bits before the last chunk",
            ));
        }
        if c.tag & !0x20 != 0x03 {
            return Err(bad(
                "constructed BIT STRING with a chunk that is not a BIT STRING",
            ));
        }
        unused = join_bit_chunks(c.tag, c.value, out, depth + 1)?;
    }
    Ok(unused)
}

/// Universal tag numbers whose BER encoding may be constructed from chunks (X.690 §8.6,
/// §8.7, §8.23): OCTET STRING and the string-like types built on it.
fn is_string_type(number: u8) -> bool {
    matches!(number, 4 | 12 | 18..=28 | 30)
}

/// Rewrites a BER encoding (one or more elements) so that it is shaped like DER: every length
/// definite and minimal, every constructed string of a universal string type joined into one
/// primitive string. Element order, tags and primitive contents stay as they are, so a DER
/// input comes out byte for byte unchanged. (Context-specific IMPLICIT strings such as
/// EnvelopedData's `encryptedContent [0]` cannot be told apart from other constructed
/// elements without the schema; they keep their chunks, only with definite lengths.)
pub(crate) fn to_der(input: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        normalise(&t, &mut out, 0)?;
        rest = r;
    }
    Ok(out)
}

fn normalise(t: &Tlv<'_>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad("nesting too deep"));
    }
    if t.ident == [0] {
        return Err(bad("end-of-contents where an element was expected"));
    }
    let constructed = t.tag & 0x20 != 0;
    let universal_low = t.tag & 0xc0 == 0 && t.tag & 0x1f != 0x1f;
    let number = t.tag & 0x1f;
    if !constructed {
        write_tlv(out, t.ident, t.value);
    } else if universal_low && number == 0x03 {
        let mut bits = vec![0];
        let unused = join_bit_chunks(t.tag, t.value, &mut bits, depth)?;
        bits[0] = unused;
        write_tlv(out, &[0x03], &bits);
    } else if universal_low && is_string_type(number) {
        let mut content = Vec::with_capacity(t.value.len());
        join_octet_chunks(t.tag, t.value, &mut content, depth)?;
        write_tlv(out, &[number], &content);
    } else {
        let mut inner = Vec::with_capacity(t.value.len());
        for c in children(t.value)? {
            normalise(&c, &mut inner, depth + 1)?;
        }
        write_tlv(out, t.ident, &inner);
    }
    Ok(())
}

fn write_tlv(out: &mut Vec<u8>, ident: &[u8], content: &[u8]) {
    out.extend_from_slice(ident);
    write_length(out, content.len());
    out.extend_from_slice(content);
}

fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// DER tag-length-value with a definite length.
pub(crate) fn encode_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write_tlv(&mut out, &[tag], content);
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

    /// `[0] { OCTET STRING }` around `content`, as eContent is wrapped, in DER.
    fn der_econtent(content: &[u8]) -> Vec<u8> {
        encode_tlv(0xa0, &encode_tlv(0x04, content))
    }

    #[test]
    fn der_passes_through_unchanged() {
        let long = vec![0x5a; 300];
        let input = encode_tlv(
            0x30,
            &[der_econtent(b"abc"), encode_tlv(0x04, &long)].concat(),
        );
        assert_eq!(to_der(&input).unwrap(), input);
    }

    #[test]
    fn indefinite_lengths_at_every_level() {
        // SEQUENCE(indef) { [0](indef) { OCTET STRING(indef) { "ab" } } }
        let input = [
            0x30, 0x80, 0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0, 0, 0, 0, 0, 0,
        ];
        let want = encode_tlv(0x30, &der_econtent(b"ab"));
        assert_eq!(to_der(&input).unwrap(), want);
    }

    #[test]
    fn constructed_octet_string_chunks() {
        // Several chunks, an empty one, and a nested constructed chunk (definite and indefinite).
        let nested = [0x24, 0x80, 0x04, 0x01, b'c', 0x04, 0x00, 0, 0];
        let mut chunks = Vec::new();
        chunks.extend(encode_tlv(0x04, b"a"));
        chunks.extend(encode_tlv(0x04, b""));
        chunks.extend(encode_tlv(0x04, b"b"));
        chunks.extend(nested);
        chunks.extend(encode_tlv(0x24, &encode_tlv(0x04, b"de")));
        let definite = encode_tlv(0xa0, &encode_tlv(0x24, &chunks));
        assert_eq!(to_der(&definite).unwrap(), der_econtent(b"abcde"));
        let mut indefinite = vec![0xa0, 0x80, 0x24, 0x80];
        indefinite.extend(&chunks);
        indefinite.extend([0, 0, 0, 0]);
        assert_eq!(to_der(&indefinite).unwrap(), der_econtent(b"abcde"));
        assert_eq!(
            octet_string_contents(0x24, &encode_tlv(0x24, &chunks)[2..]).unwrap(),
            b"abcde"
        );
    }

    #[test]
    fn long_form_lengths_become_minimal() {
        // OCTET STRING with a non-minimal long-form length (0x82 0x00 0x02).
        let input = [0x04, 0x82, 0x00, 0x02, b'h', b'i'];
        assert_eq!(to_der(&input).unwrap(), [0x04, 0x02, b'h', b'i']);
        // A chunked string longer than 127 octets gets a long-form length.
        let chunk = vec![7u8; 100];
        let mut c = encode_tlv(0x04, &chunk);
        c.extend(encode_tlv(0x04, &chunk));
        let out = to_der(&encode_tlv(0x24, &c)).unwrap();
        assert_eq!(&out[..3], &[0x04, 0x81, 200]);
    }

    #[test]
    fn constructed_bit_string_and_char_strings() {
        // BIT STRING chunks: only the last may have unused bits.
        let mut c = encode_tlv(0x03, &[0, 0xff]);
        c.extend(encode_tlv(0x03, &[4, 0xf0]));
        assert_eq!(
            to_der(&encode_tlv(0x23, &c)).unwrap(),
            encode_tlv(0x03, &[4, 0xff, 0xf0])
        );
        let mut bad_order = encode_tlv(0x03, &[4, 0xf0]);
        bad_order.extend(encode_tlv(0x03, &[0, 0xff]));
        assert!(to_der(&encode_tlv(0x23, &bad_order)).is_err());
        // IA5String (22) from OCTET STRING chunks.
        let mut s = encode_tlv(0x04, b"a@");
        s.extend(encode_tlv(0x04, b"b.c"));
        assert_eq!(
            to_der(&encode_tlv(0x36, &s)).unwrap(),
            encode_tlv(0x16, b"a@b.c")
        );
    }

    #[test]
    fn hostile_shapes_are_errors_not_panics() {
        // A SEQUENCE as a string chunk; end-of-contents inside a definite value; a missing
        // end-of-contents.
        assert!(to_der(&[0x24, 0x80, 0x30, 0x00, 0x00, 0x00]).is_err());
        assert!(to_der(&[0x30, 0x02, 0x00, 0x00]).is_err());
        assert!(to_der(&[0x24, 0x80, 0x04, 0x01, b'a']).is_err());
        // Deep nesting is refused, not a stack overflow.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend([0x30, 0x80]);
        }
        assert!(to_der(&deep).is_err());
    }
}
