//! Content-encryption algorithms: AES-CBC and 3DES-CBC (EnvelopedData), AES-GCM
//! (AuthEnvelopedData, RFC 5084).
//!
//! `cms` has builders but no decryption, so this is ours. Padding and tag failures all map to
//! the one vague [`SmimeError::DecryptionFailed`]: together with the random key substituted on
//! unwrap failure (RFC 3218) an attacker learns nothing from *how* decryption failed. The
//! gateway also never reports a failed decryption back to the sender (DESIGN.md §4).

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::AesGcm;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, KeyIvInit};
#[cfg(test)]
use cbc::cipher::{BlockCipherEncrypt, BlockModeEncrypt};
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;

use super::error::{Result, SmimeError};
use super::oids;

/// Content-encryption algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentCipher {
    /// AES-128 in CBC mode.
    Aes128Cbc,
    /// AES-192 in CBC mode.
    Aes192Cbc,
    /// AES-256 in CBC mode: our default (readable by every client).
    Aes256Cbc,
    /// Triple DES (EDE3) in CBC mode: OpenSSL's default, decrypt only in practice.
    DesEde3Cbc,
    /// AES-128-GCM (AuthEnvelopedData).
    Aes128Gcm,
    /// AES-192-GCM (AuthEnvelopedData).
    Aes192Gcm,
    /// AES-256-GCM (AuthEnvelopedData): used when every recipient advertised it.
    Aes256Gcm,
}

/// GCMParameters (RFC 5084 §3.2).
#[derive(Debug, Clone, Sequence)]
struct GcmParameters {
    nonce: OctetString,
    #[asn1(default = "default_icv_len")]
    icv_len: u8,
}

fn default_icv_len() -> u8 {
    12
}

/// The parameters that travel in the AlgorithmIdentifier.
pub(crate) enum CipherParams {
    Iv(Vec<u8>),
    Gcm { nonce: Vec<u8>, icv_len: usize },
}

impl ContentCipher {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128Cbc | Self::Aes128Gcm => 16,
            Self::Aes192Cbc | Self::Aes192Gcm | Self::DesEde3Cbc => 24,
            Self::Aes256Cbc | Self::Aes256Gcm => 32,
        }
    }

    /// Whether this is an AEAD cipher (AuthEnvelopedData).
    pub fn is_aead(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes192Gcm | Self::Aes256Gcm)
    }

    /// A short name for reports and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128Cbc => "AES-128-CBC",
            Self::Aes192Cbc => "AES-192-CBC",
            Self::Aes256Cbc => "AES-256-CBC",
            Self::DesEde3Cbc => "3DES-CBC",
            Self::Aes128Gcm => "AES-128-GCM",
            Self::Aes192Gcm => "AES-192-GCM",
            Self::Aes256Gcm => "AES-256-GCM",
        }
    }

    pub(crate) fn oid(self) -> der::oid::ObjectIdentifier {
        match self {
            Self::Aes128Cbc => oids::AES128_CBC,
            Self::Aes192Cbc => oids::AES192_CBC,
            Self::Aes256Cbc => oids::AES256_CBC,
            Self::DesEde3Cbc => oids::DES_EDE3_CBC,
            Self::Aes128Gcm => oids::AES128_GCM,
            Self::Aes192Gcm => oids::AES192_GCM,
            Self::Aes256Gcm => oids::AES256_GCM,
        }
    }

    /// Reads the algorithm and its parameters.
    pub(crate) fn from_alg(alg: &AlgorithmIdentifierOwned) -> Result<(Self, CipherParams)> {
        let cipher = match alg.oid {
            oids::AES128_CBC => Self::Aes128Cbc,
            oids::AES192_CBC => Self::Aes192Cbc,
            oids::AES256_CBC => Self::Aes256Cbc,
            oids::DES_EDE3_CBC => Self::DesEde3Cbc,
            oids::AES128_GCM => Self::Aes128Gcm,
            oids::AES192_GCM => Self::Aes192Gcm,
            oids::AES256_GCM => Self::Aes256Gcm,
            other => {
                return Err(SmimeError::UnsupportedAlgorithm(format!(
                    "content encryption {other}"
                )))
            }
        };
        let params = alg
            .parameters
            .as_ref()
            .ok_or_else(|| SmimeError::MalformedCms("cipher parameters missing".into()))?;
        let params = if cipher.is_aead() {
            let p: GcmParameters = params.decode_as()?;
            CipherParams::Gcm {
                nonce: p.nonce.as_bytes().to_vec(),
                icv_len: usize::from(p.icv_len),
            }
        } else {
            let iv: OctetString = params.decode_as()?;
            let block = if cipher == Self::DesEde3Cbc { 8 } else { 16 };
            if iv.as_bytes().len() != block {
                return Err(SmimeError::MalformedCms("wrong IV length".into()));
            }
            CipherParams::Iv(iv.as_bytes().to_vec())
        };
        Ok((cipher, params))
    }

    /// The AlgorithmIdentifier for encryption with `iv_or_nonce`.
    pub(crate) fn algorithm_identifier(
        self,
        iv_or_nonce: &[u8],
    ) -> Result<AlgorithmIdentifierOwned> {
        let enc = |e: der::Error| SmimeError::Encoding(e.to_string());
        let nonce = OctetString::new(iv_or_nonce.to_vec()).map_err(enc)?;
        let params = if self.is_aead() {
            let p = GcmParameters { nonce, icv_len: 16 };
            Any::from_der(&p.to_der().map_err(enc)?).map_err(enc)?
        } else {
            Any::from_der(&nonce.to_der().map_err(enc)?).map_err(enc)?
        };
        Ok(AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(params),
        })
    }

    /// IV (CBC) or nonce (GCM) length we generate.
    pub(crate) fn iv_len(self) -> usize {
        match self {
            Self::DesEde3Cbc => 8,
            Self::Aes128Gcm | Self::Aes192Gcm | Self::Aes256Gcm => 12,
            _ => 16,
        }
    }
}

#[cfg(test)]
fn cbc_enc<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipherEncrypt + cbc::cipher::KeyInit,
    cbc::Encryptor<C>: KeyIvInit,
{
    let e = cbc::Encryptor::<C>::new_from_slices(key, iv)
        .map_err(|_| SmimeError::Encoding("bad key or IV length".into()))?;
    Ok(e.encrypt_padded_vec::<Pkcs7>(data))
}

fn cbc_dec<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipherDecrypt + cbc::cipher::KeyInit,
    cbc::Decryptor<C>: KeyIvInit,
{
    let d =
        cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| SmimeError::DecryptionFailed)?;
    d.decrypt_padded_vec::<Pkcs7>(data)
        .map_err(|_| SmimeError::DecryptionFailed)
}

/// CBC encryption with PKCS#7 padding, in one piece (the engine streams: see
/// [`super::stream::cbc_encrypt_pieces`]; this one is the reference in tests).
#[cfg(test)]
pub(crate) fn cbc_encrypt(c: ContentCipher, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    match c {
        ContentCipher::Aes128Cbc => cbc_enc::<Aes128>(key, iv, data),
        ContentCipher::Aes192Cbc => cbc_enc::<Aes192>(key, iv, data),
        ContentCipher::Aes256Cbc => cbc_enc::<Aes256>(key, iv, data),
        ContentCipher::DesEde3Cbc => cbc_enc::<des::TdesEde3>(key, iv, data),
        _ => Err(SmimeError::UnsupportedAlgorithm(format!(
            "{} is not CBC",
            c.name()
        ))),
    }
}

fn cbc_dec_owned<C>(key: &[u8], iv: &[u8], mut data: Vec<u8>) -> Result<Vec<u8>>
where
    C: BlockCipherDecrypt + cbc::cipher::KeyInit,
    cbc::Decryptor<C>: KeyIvInit,
{
    let d =
        cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| SmimeError::DecryptionFailed)?;
    let len = d
        .decrypt_padded::<Pkcs7>(&mut data)
        .map_err(|_| SmimeError::DecryptionFailed)?
        .len();
    data.truncate(len);
    Ok(data)
}

/// [`cbc_decrypt`] in place: the ciphertext buffer becomes the plaintext (no second copy of a
/// large message).
pub(crate) fn cbc_decrypt_owned(
    c: ContentCipher,
    key: &[u8],
    iv: &[u8],
    data: Vec<u8>,
) -> Result<Vec<u8>> {
    match c {
        ContentCipher::Aes128Cbc => cbc_dec_owned::<Aes128>(key, iv, data),
        ContentCipher::Aes192Cbc => cbc_dec_owned::<Aes192>(key, iv, data),
        ContentCipher::Aes256Cbc => cbc_dec_owned::<Aes256>(key, iv, data),
        ContentCipher::DesEde3Cbc => cbc_dec_owned::<des::TdesEde3>(key, iv, data),
        _ => Err(SmimeError::UnsupportedAlgorithm(format!(
            "{} is not CBC",
            c.name()
        ))),
    }
}

/// CBC decryption; a padding error is [`SmimeError::DecryptionFailed`].
pub(crate) fn cbc_decrypt(c: ContentCipher, key: &[u8], iv: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    match c {
        ContentCipher::Aes128Cbc => cbc_dec::<Aes128>(key, iv, data),
        ContentCipher::Aes192Cbc => cbc_dec::<Aes192>(key, iv, data),
        ContentCipher::Aes256Cbc => cbc_dec::<Aes256>(key, iv, data),
        ContentCipher::DesEde3Cbc => cbc_dec::<des::TdesEde3>(key, iv, data),
        _ => Err(SmimeError::UnsupportedAlgorithm(format!(
            "{} is not CBC",
            c.name()
        ))),
    }
}

macro_rules! gcm_with {
    ($c:expr, $tag:ty, $f:ident, $($args:expr),*) => {
        match $c {
            ContentCipher::Aes128Gcm => $f::<AesGcm<Aes128, U12, $tag>>($($args),*),
            ContentCipher::Aes192Gcm => $f::<AesGcm<Aes192, U12, $tag>>($($args),*),
            ContentCipher::Aes256Gcm => $f::<AesGcm<Aes256, U12, $tag>>($($args),*),
            _ => Err(SmimeError::UnsupportedAlgorithm("not GCM".into())),
        }
    };
}

fn gcm_enc<A: AeadInOut + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let a = A::new_from_slice(key).map_err(|_| SmimeError::Encoding("bad key length".into()))?;
    let nonce = aes_gcm::aead::Nonce::<A>::try_from(nonce)
        .map_err(|_| SmimeError::Encoding("bad nonce length".into()))?;
    let mut buf = data.to_vec();
    let tag = a
        .encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into())
        .map_err(|_| SmimeError::Encoding("AES-GCM encryption failed".into()))?;
    Ok((buf, tag.to_vec()))
}

fn gcm_dec<A: AeadInOut + KeyInit>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>> {
    let a = A::new_from_slice(key).map_err(|_| SmimeError::DecryptionFailed)?;
    let nonce = aes_gcm::aead::Nonce::<A>::try_from(nonce)
        .map_err(|_| SmimeError::UnsupportedAlgorithm("AES-GCM nonce must be 12 bytes".into()))?;
    let tag = aes_gcm::aead::Tag::<A>::try_from(tag).map_err(|_| SmimeError::DecryptionFailed)?;
    let mut buf = data.to_vec();
    a.decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| SmimeError::DecryptionFailed)?;
    Ok(buf)
}

/// AES-GCM encryption with a 16-byte tag; returns ciphertext and tag.
pub(crate) fn gcm_encrypt(
    c: ContentCipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    gcm_with!(c, U16, gcm_enc, key, nonce, aad, data)
}

/// AES-GCM decryption; the tag length comes from the parameters (12 or 16 bytes).
pub(crate) fn gcm_decrypt(
    c: ContentCipher,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>> {
    match tag.len() {
        16 => gcm_with!(c, U16, gcm_dec, key, nonce, aad, data, tag),
        12 => gcm_with!(c, U12, gcm_dec, key, nonce, aad, data, tag),
        n => Err(SmimeError::UnsupportedAlgorithm(format!(
            "AES-GCM tag length {n}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_round_trip_and_bad_padding() {
        for c in [
            ContentCipher::Aes128Cbc,
            ContentCipher::Aes192Cbc,
            ContentCipher::Aes256Cbc,
            ContentCipher::DesEde3Cbc,
        ] {
            let key = vec![7u8; c.key_len()];
            let iv = vec![9u8; c.iv_len()];
            let ct = cbc_encrypt(c, &key, &iv, b"hello world").unwrap();
            assert_eq!(cbc_decrypt(c, &key, &iv, &ct).unwrap(), b"hello world");
            let wrong = vec![8u8; c.key_len()];
            // Wrong key: almost always bad padding; never a panic.
            let _ = cbc_decrypt(c, &wrong, &iv, &ct);
            assert!(cbc_decrypt(c, &key, &iv, &ct[..ct.len() - 1]).is_err());
        }
    }

    #[test]
    fn gcm_round_trip_and_tamper() {
        let c = ContentCipher::Aes256Gcm;
        let key = [1u8; 32];
        let nonce = [2u8; 12];
        let (mut ct, tag) = gcm_encrypt(c, &key, &nonce, b"", b"secret").unwrap();
        assert_eq!(
            gcm_decrypt(c, &key, &nonce, b"", &ct, &tag).unwrap(),
            b"secret"
        );
        ct[0] ^= 1;
        assert_eq!(
            gcm_decrypt(c, &key, &nonce, b"", &ct, &tag),
            Err(SmimeError::DecryptionFailed)
        );
    }
}
