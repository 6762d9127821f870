//! Decryption of EnvelopedData and AuthEnvelopedData, from DER or BER (OpenSSL `-stream`,
//! gpgsm and NSS write indefinite lengths and chunked OCTET STRINGs).
//!
//! The RecipientInfo is matched to a key *before* any private-key operation (a wrong-key RSA
//! unwrap may "succeed" with garbage). Unwrap failures yield a random key (RFC 3218), and a
//! bad padding or GCM tag is the same [`SmimeError::DecryptionFailed`].

use cms::authenveloped_data::AuthEnvelopedData;
use cms::content_info::ContentInfo;
use cms::enveloped_data::{EncryptedContentInfo, EnvelopedData, RecipientInfo, RecipientInfos};
use der::{Decode, Encode, EncodingRules};
use spki::AlgorithmIdentifierOwned;

use super::content_cipher::{self, CipherParams, ContentCipher};
use super::error::{Result, SmimeError};
use super::in_place;
use super::keyops::{random_key, KeyLookup, KeyTransport, OaepHash};
use super::mime::{self, Entity};
use super::oids;
use super::pubkey::DigestAlgorithm;

/// What decryption found out, for the report and the log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DecryptInfo {
    /// The content cipher of the message.
    pub cipher: ContentCipher,
    /// The key transport used for our RecipientInfo.
    pub key_transport: KeyTransport,
    /// Subject of the certificate whose key decrypted the message.
    pub recipient: String,
    /// The certificate whose key decrypted the message (e.g. to tell the company key).
    pub recipient_cert: Box<x509_cert::Certificate>,
    /// Number of RecipientInfos in the message.
    pub recipient_count: usize,
}

/// A decrypted message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Decrypted {
    /// The outer headers of the encrypted message followed by the decrypted entity (CRLF).
    pub message: Vec<u8>,
    /// Where in `message` the decrypted entity starts (see [`Decrypted::entity`]): one buffer
    /// for both, so a large message is not held twice.
    entity_start: usize,
    /// Details of the decryption.
    pub info: DecryptInfo,
}

impl Decrypted {
    /// The decrypted entity alone (CRLF): what was inside the encryption, without the outer
    /// (unprotected) header fields.
    pub fn entity(&self) -> &[u8] {
        self.message.get(self.entity_start..).unwrap_or_default()
    }

    /// The header block of the decrypted entity (up to and with its empty line).
    pub fn entity_headers(&self) -> &[u8] {
        let entity = self.entity();
        match Entity::parse(entity) {
            Ok(e) => &entity[..entity.len() - e.body.len()],
            Err(_) => &[],
        }
    }
}

fn transport(alg: &AlgorithmIdentifierOwned) -> Result<KeyTransport> {
    match alg.oid {
        oids::RSA_ENCRYPTION => Ok(KeyTransport::RsaPkcs1v15),
        oids::RSAES_OAEP => {
            let Some(p) = &alg.parameters else {
                return Ok(KeyTransport::RsaOaep(OaepHash::Sha1));
            };
            let params = pkcs1::RsaOaepParamsOwned::from_der(&p.to_der()?)
                .map_err(|e| SmimeError::MalformedCms(format!("RSAES-OAEP parameters: {e}")))?;
            let hash = DigestAlgorithm::from_oid(&params.hash.oid)?;
            let mgf_hash = params
                .mask_gen
                .parameters
                .as_ref()
                .map(|h| DigestAlgorithm::from_oid(&h.oid))
                .transpose()?
                .unwrap_or(DigestAlgorithm::Sha1);
            if params.mask_gen.oid != oids::MGF1 || mgf_hash != hash {
                return Err(SmimeError::UnsupportedAlgorithm(
                    "RSA-OAEP with a mask generation hash different from the hash".into(),
                ));
            }
            let label_empty = params
                .p_source
                .parameters
                .as_ref()
                .map(|l| l.value().is_empty())
                .unwrap_or(true);
            if !label_empty {
                return Err(SmimeError::UnsupportedAlgorithm(
                    "RSA-OAEP with a label".into(),
                ));
            }
            Ok(KeyTransport::RsaOaep(match hash {
                DigestAlgorithm::Sha1 => OaepHash::Sha1,
                DigestAlgorithm::Sha256 => OaepHash::Sha256,
                DigestAlgorithm::Sha384 => OaepHash::Sha384,
                DigestAlgorithm::Sha512 => OaepHash::Sha512,
            }))
        }
        other => Err(SmimeError::UnsupportedAlgorithm(format!(
            "key transport {other}"
        ))),
    }
}

/// The content decrypted with `cek`: CBC in place in `ciphertext` when `owned` (the last
/// key to try), so a large message is not held twice; GCM and earlier tries copy.
fn decrypt_content(
    cipher: ContentCipher,
    params: &CipherParams,
    cek: &[u8],
    mac: Option<&[u8]>,
    aad: &[u8],
    ciphertext: &mut Vec<u8>,
    owned: bool,
) -> Result<Vec<u8>> {
    match (params, mac) {
        (CipherParams::Iv(iv), None) if owned => {
            content_cipher::cbc_decrypt_owned(cipher, cek, iv, std::mem::take(ciphertext))
        }
        (CipherParams::Iv(iv), None) => content_cipher::cbc_decrypt(cipher, cek, iv, ciphertext),
        (CipherParams::Gcm { nonce, icv_len }, Some(tag)) => {
            if tag.len() != *icv_len {
                Err(SmimeError::MalformedCms(
                    "MAC length differs from ICV length".into(),
                ))
            } else {
                content_cipher::gcm_decrypt(cipher, cek, nonce, aad, ciphertext, tag)
            }
        }
        _ => Err(SmimeError::MalformedCms("cipher parameters".into())),
    }
}

/// Finds our RecipientInfos, unwraps the content key and decrypts `ciphertext` (given up by
/// the caller: the last try decrypts it in place).
fn open(
    ris: &RecipientInfos,
    content_enc_alg: &AlgorithmIdentifierOwned,
    mut ciphertext: Vec<u8>,
    mac: Option<&[u8]>,
    aad: &[u8],
    keys: &dyn KeyLookup,
) -> Result<(Vec<u8>, DecryptInfo)> {
    let (cipher, params) = ContentCipher::from_alg(content_enc_alg)?;
    if cipher.is_aead() != mac.is_some() {
        return Err(SmimeError::MalformedCms(
            "cipher does not fit the content type (CBC in AuthEnvelopedData or GCM in EnvelopedData)".into(),
        ));
    }
    let candidates: Vec<_> = ris
        .0
        .iter()
        .filter_map(|ri| match ri {
            RecipientInfo::Ktri(ktri) => keys.find(&ktri.rid).map(|key| (ktri, key)),
            _ => None,
        })
        .collect();
    if candidates.is_empty() {
        return Err(SmimeError::NoMatchingRecipient);
    }
    let last = candidates.len() - 1;
    let mut last_err = SmimeError::NoMatchingRecipient;
    for (i, (ktri, key)) in candidates.into_iter().enumerate() {
        let kt = match transport(&ktri.key_enc_alg) {
            Ok(kt) => kt,
            Err(e) => {
                last_err = e;
                continue;
            }
        };
        // RFC 3218: a failed unwrap goes on with a random key, so it fails like bad padding.
        let mut cek = key.unwrap_key(kt, ktri.enc_key.as_bytes(), cipher.key_len())?;
        if cek.len() != cipher.key_len() {
            cek = random_key(cipher.key_len())?;
        }
        match decrypt_content(cipher, &params, &cek, mac, aad, &mut ciphertext, i == last) {
            Ok(p) => {
                let info = DecryptInfo {
                    cipher,
                    key_transport: kt,
                    recipient: key.certificate().tbs_certificate().subject().to_string(),
                    recipient_cert: Box::new(key.certificate().clone()),
                    recipient_count: ris.0.len(),
                };
                return Ok((p, info));
            }
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Decrypts a DER/BER ContentInfo holding EnvelopedData or AuthEnvelopedData; returns the
/// plaintext (the MIME entity, as encrypted) and what was used.
pub fn decrypt_cms(cms_bytes: &[u8], keys: &dyn KeyLookup) -> Result<(Vec<u8>, DecryptInfo)> {
    decrypt_content_info(ContentInfo::from_ber(cms_bytes)?, keys)
}

/// [`decrypt_cms`] of a buffer the caller gives up: it is dropped once parsed, and the
/// ciphertext taken out of the parsed structure is decrypted in place.
fn decrypt_cms_owned(
    mut cms_bytes: Vec<u8>,
    keys: &dyn KeyLookup,
) -> Result<(Vec<u8>, DecryptInfo)> {
    if let Some((ris, alg, ct)) = in_place::locate(&cms_bytes) {
        // The buffer becomes the ciphertext, then the plaintext: no second copy.
        in_place::keep_only(&mut cms_bytes, ct);
        return open(&ris, &alg, cms_bytes, None, &[], keys);
    }
    let ci = ContentInfo::from_ber(&cms_bytes)?;
    drop(cms_bytes);
    decrypt_content_info(ci, keys)
}

fn take_ciphertext(eci: &mut EncryptedContentInfo) -> Result<Vec<u8>> {
    eci.encrypted_content
        .take()
        .map(|o| o.into_bytes().into_vec())
        .ok_or_else(|| SmimeError::MalformedCms("detached encrypted content".into()))
}

fn decrypt_content_info(ci: ContentInfo, keys: &dyn KeyLookup) -> Result<(Vec<u8>, DecryptInfo)> {
    let ContentInfo {
        content_type,
        content,
    } = ci;
    match content_type {
        oids::ID_ENVELOPED_DATA => {
            let mut ed: EnvelopedData = content.decode_as_encoding(EncodingRules::Ber)?;
            drop(content);
            let ct = take_ciphertext(&mut ed.encrypted_content)?;
            let alg = &ed.encrypted_content.content_enc_alg;
            open(&ed.recip_infos, alg, ct, None, &[], keys)
        }
        oids::ID_AUTH_ENVELOPED_DATA => {
            let mut aed: AuthEnvelopedData = content.decode_as_encoding(EncodingRules::Ber)?;
            drop(content);
            let aad = match &aed.auth_attrs {
                Some(a) => a.to_der()?,
                None => Vec::new(),
            };
            let ct = take_ciphertext(&mut aed.auth_encrypted_content_info)?;
            let alg = &aed.auth_encrypted_content_info.content_enc_alg;
            open(
                &aed.recip_infos,
                alg,
                ct,
                Some(aed.mac.as_bytes()),
                &aad,
                keys,
            )
        }
        other => Err(SmimeError::NotSmime(format!(
            "CMS content type {other} is not (auth)enveloped data"
        ))),
    }
}

/// Whether an entity is an S/MIME encrypted entity (by its Content-Type).
pub(crate) fn is_enveloped(e: &Entity<'_>) -> bool {
    let ct = e.content_type();
    let smime_type = ct.param("smime-type").unwrap_or("").to_ascii_lowercase();
    let is_p7m = ct.mime == "application/pkcs7-mime" || ct.mime == "application/x-pkcs7-mime";
    is_p7m && (smime_type == "enveloped-data" || smime_type == "authenveloped-data")
        || is_p7m && smime_type.is_empty() && {
            // Old clients omit smime-type; peek at the CMS content type.
            e.decoded_body()
                .ok()
                .and_then(|b| ContentInfo::from_ber(&b).ok())
                .is_some_and(|ci| {
                    ci.content_type == oids::ID_ENVELOPED_DATA
                        || ci.content_type == oids::ID_AUTH_ENVELOPED_DATA
                })
        }
}

/// Decrypts a whole message; see [`super::decrypt`].
pub(crate) fn decrypt(msg: &[u8], keys: &dyn KeyLookup) -> Result<Decrypted> {
    let e = Entity::parse(msg)?;
    if !is_enveloped(&e) {
        if e.content_type().mime.starts_with("multipart/") {
            return Err(SmimeError::Refused(
                "the message body is not encrypted as a whole; encrypted parts beside other parts are not decrypted (EFAIL)".into(),
            ));
        }
        return Err(SmimeError::NotSmime(
            "not an S/MIME encrypted message".into(),
        ));
    }
    let der = e.decoded_body()?;
    let (plain, info) = decrypt_cms_owned(der, keys)?;
    let plain = mime::into_crlf(plain);
    let outer = e.outer_headers();
    let (message, entity_start) = match in_place::into_message(&outer, plain) {
        Ok(done) => done?,
        Err(plain) => join_inner(&outer, &plain)?,
    };
    tracing::debug!(cipher = info.cipher.name(), "decrypted message");
    Ok(Decrypted {
        message,
        entity_start,
        info,
    })
}

/// The outer headers, MIME-Version and the decrypted `entity` without its own MIME-Version
/// (the outer one stands for it), in one buffer; and where the entity starts in it.
fn join_inner(outer: &[u8], entity: &[u8]) -> Result<(Vec<u8>, usize)> {
    let e = Entity::parse(entity)?;
    let mut out = Vec::with_capacity(outer.len() + entity.len() + 40);
    out.extend_from_slice(&mime::to_crlf(outer));
    mime::write_header(&mut out, "MIME-Version", "1.0");
    let start = out.len();
    for h in &e.headers {
        if !h.name.eq_ignore_ascii_case("mime-version") {
            out.extend_from_slice(h.raw);
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(e.body);
    Ok((out, start))
}
