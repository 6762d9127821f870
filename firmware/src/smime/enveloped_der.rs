//! The DER of a ContentInfo holding EnvelopedData (RFC 5652 §6.1), written before its
//! ciphertext exists.
//!
//! DER needs every length before the content, and all of them are known in advance: the
//! recipient infos and the algorithm are small and encoded first, and the CBC ciphertext length
//! follows from the plaintext length. So [`header`] gives every byte up to the encrypted
//! content, the ciphertext is streamed after it, and nothing follows it (no unprotected
//! attributes). The bytes are the same as `cms`'s encoding of the whole structure.

use cms::content_info::CmsVersion;
use cms::enveloped_data::RecipientInfos;
use der::Encode;
use spki::AlgorithmIdentifierOwned;

use super::error::Result;
use super::oids;
use super::sign::enc;

/// Appends a DER tag and definite length.
fn tag_len(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tl_len(len: usize) -> usize {
    let mut v = Vec::with_capacity(10);
    tag_len(&mut v, 0, len);
    v.len()
}

/// Every byte of `ContentInfo { envelopedData, EnvelopedData { v0, recip_infos,
/// EncryptedContentInfo { data, alg, [0] IMPLICIT OCTET STRING (ct_len bytes) } } }` before the
/// ciphertext itself.
pub(crate) fn header(
    recip_infos: &RecipientInfos,
    alg: &AlgorithmIdentifierOwned,
    ct_len: usize,
) -> Result<Vec<u8>> {
    let version = CmsVersion::V0.to_der().map_err(enc)?;
    let ris = recip_infos.to_der().map_err(enc)?;
    let mut eci_head = oids::ID_DATA.to_der().map_err(enc)?;
    eci_head.extend_from_slice(&alg.to_der().map_err(enc)?);
    tag_len(&mut eci_head, 0x80, ct_len);
    let eci_len = eci_head.len() + ct_len;
    let ed_len = version.len() + ris.len() + tl_len(eci_len) + eci_len;
    let explicit_len = tl_len(ed_len) + ed_len;
    let oid = oids::ID_ENVELOPED_DATA.to_der().map_err(enc)?;
    let ci_len = oid.len() + tl_len(explicit_len) + explicit_len;

    let mut out = Vec::with_capacity(64 + ris.len() + eci_head.len());
    tag_len(&mut out, 0x30, ci_len);
    out.extend_from_slice(&oid);
    tag_len(&mut out, 0xa0, explicit_len);
    tag_len(&mut out, 0x30, ed_len);
    out.extend_from_slice(&version);
    out.extend_from_slice(&ris);
    tag_len(&mut out, 0x30, eci_len);
    out.extend_from_slice(&eci_head);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cms::cert::IssuerAndSerialNumber;
    use cms::content_info::ContentInfo;
    use cms::enveloped_data::{
        EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier,
        RecipientInfo,
    };
    use der::asn1::{OctetString, SetOfVec};
    use der::{Any, Decode};
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;

    fn ris(wrapped: usize) -> RecipientInfos {
        let ri = RecipientInfo::Ktri(KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: Name::default(),
                serial_number: SerialNumber::new(&[1, 2, 3]).unwrap(),
            }),
            key_enc_alg: AlgorithmIdentifierOwned {
                oid: oids::RSA_ENCRYPTION,
                parameters: None,
            },
            enc_key: OctetString::new(vec![5u8; wrapped]).unwrap(),
        });
        RecipientInfos(SetOfVec::try_from(vec![ri]).unwrap())
    }

    /// The header plus the ciphertext is byte for byte `cms`'s DER, for short and long forms
    /// of every length.
    #[test]
    fn header_and_ciphertext_equal_the_cms_encoding() {
        for (wrapped, ct_len) in [
            (16, 16),
            (256, 112),
            (256, 4096),
            (512, 70_000),
            (256, 1 << 24),
        ] {
            let ris = ris(wrapped);
            let alg = AlgorithmIdentifierOwned {
                oid: oids::AES256_CBC,
                parameters: Some(
                    Any::from_der(&[4, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
                        .unwrap(),
                ),
            };
            let ct = vec![0xa5u8; ct_len];
            let mut got = header(&ris, &alg, ct_len).unwrap();
            got.extend_from_slice(&ct);
            let ed = EnvelopedData {
                version: CmsVersion::V0,
                originator_info: None,
                recip_infos: ris,
                encrypted_content: EncryptedContentInfo {
                    content_type: oids::ID_DATA,
                    content_enc_alg: alg,
                    encrypted_content: Some(OctetString::new(ct).unwrap()),
                },
                unprotected_attrs: None,
            };
            let want = ContentInfo {
                content_type: oids::ID_ENVELOPED_DATA,
                content: Any::encode_from(&ed).unwrap(),
            }
            .to_der()
            .unwrap();
            assert!(got == want, "wrapped {wrapped}, ct {ct_len}");
        }
    }
}
