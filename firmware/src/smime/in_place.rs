//! Decrypting a large message without a second copy of it (issue 15: a 25 MB message in less
//! than four times its size of memory).
//!
//! The usual EnvelopedData (Segl's, OpenSSL's without `-stream`, Outlook's) carries its
//! ciphertext as one primitive OCTET STRING. [`locate`] finds it inside the decoded DER and
//! decodes only the small parts (recipient infos, algorithm); the caller then cuts the buffer
//! down to the ciphertext and decrypts it in place, and [`into_message`] turns the plaintext
//! into the delivered message in the same buffer. Anything else (chunked BER from `-stream`,
//! gpgsm, NSS; AuthEnvelopedData) takes the general path, which copies.

use std::ops::Range;

use cms::enveloped_data::RecipientInfos;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;

use super::ber;
use super::error::Result;
use super::mime::{self, Entity};
use super::oids;

/// The recipient infos, the content-encryption algorithm and where the ciphertext lies in
/// `der`, when `der` is a ContentInfo with EnvelopedData whose encrypted content is one
/// primitive OCTET STRING; `None` otherwise (the caller takes the general path).
pub(crate) fn locate(
    der: &[u8],
) -> Option<(RecipientInfos, AlgorithmIdentifierOwned, Range<usize>)> {
    let (ci, _) = ber::read(der).ok()?;
    let fields = ber::children(ci.value).ok()?;
    let [oid, explicit] = fields.as_slice() else {
        return None;
    };
    if oid.raw != oids::ID_ENVELOPED_DATA.to_der().ok()?.as_slice() || explicit.tag != 0xa0 {
        return None;
    }
    let (ed, _) = ber::read(explicit.value).ok()?;
    let ed_fields = ber::children(ed.value).ok()?;
    // version INTEGER, [0] originatorInfo, recipientInfos SET, encryptedContentInfo SEQUENCE,
    // [1] unprotectedAttrs: the only SET and the only SEQUENCE.
    let set = ed_fields.iter().find(|t| t.tag == 0x31)?;
    let eci = ed_fields.iter().find(|t| t.tag == 0x30)?;
    let eci_fields = ber::children(eci.value).ok()?;
    let [_content_type, alg, ct] = eci_fields.as_slice() else {
        return None;
    };
    if ct.tag != 0x80 {
        return None;
    }
    let ris = RecipientInfos::from_ber(set.raw).ok()?;
    let alg = AlgorithmIdentifierOwned::from_ber(alg.raw).ok()?;
    let start = (ct.value.as_ptr() as usize).checked_sub(der.as_ptr() as usize)?;
    Some((ris, alg, start..start + ct.value.len()))
}

/// Cuts `buf` down to `range` without a new allocation (the bytes move to the front).
pub(crate) fn keep_only(buf: &mut Vec<u8>, range: Range<usize>) {
    buf.truncate(range.end);
    buf.drain(..range.start);
}

/// The delivered message made from the decrypted entity `plain` (CRLF) in its own buffer: its
/// MIME-Version fields removed, the outer headers and one MIME-Version put in front. Returns the
/// message and where the entity starts in it; `Err(plain)` when the entity's header block does
/// not end in a plain empty line (the caller then joins by copying).
pub(crate) fn into_message(
    outer: &[u8],
    mut plain: Vec<u8>,
) -> std::result::Result<Result<(Vec<u8>, usize)>, Vec<u8>> {
    let drop_ranges: Vec<Range<usize>> = {
        let e = match Entity::parse(&plain) {
            Ok(e) => e,
            Err(err) => return Ok(Err(err)),
        };
        let base = plain.as_ptr() as usize;
        let offset = |s: &[u8]| s.as_ptr() as usize - base;
        let header_len = plain.len() - e.body.len();
        let headers_end = e.headers.last().map_or(0, |h| offset(h.raw) + h.raw.len());
        if header_len != headers_end + 2 || &plain[headers_end..header_len] != b"\r\n" {
            return Err(plain);
        }
        e.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("mime-version"))
            .map(|h| offset(h.raw)..offset(h.raw) + h.raw.len())
            .collect()
    };
    for r in drop_ranges.into_iter().rev() {
        plain.drain(r);
    }
    let mut head = mime::to_crlf(outer);
    mime::write_header(&mut head, "MIME-Version", "1.0");
    let (n, old) = (head.len(), plain.len());
    // The DER around the ciphertext and the padding left room: normally no reallocation.
    plain.resize(old + n, 0);
    plain.copy_within(0..old, n);
    plain[..n].copy_from_slice(&head);
    Ok(Ok((plain, n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_made_in_the_plaintext_buffer() {
        let plain = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\n".to_vec();
        let (msg, start) = into_message(b"From: a@b\r\nSubject: s\r\n", plain)
            .unwrap()
            .unwrap();
        assert_eq!(
            msg,
            b"From: a@b\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        );
        assert_eq!(&msg[start..], b"Content-Type: text/plain\r\n\r\nbody\r\n");
        // No empty line: left to the copying join.
        assert!(into_message(b"From: a@b\r\n", b"Content-Type: text/plain\r\n".to_vec()).is_err());
    }

    #[test]
    fn only_simple_enveloped_data_is_located() {
        assert!(locate(b"\x30\x03\x02\x01\x00").is_none());
        assert!(locate(b"").is_none());
    }
}
