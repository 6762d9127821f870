//! Encryption: EnvelopedData (AES-256-CBC by default) or AuthEnvelopedData (AES-256-GCM,
//! RFC 5083/5084, only when every recipient advertised it), RSA key transport PKCS#1 v1.5 by
//! default and RSA-OAEP (SHA-256) when a certificate asks for it.
//!
//! Public-key encryption uses aws-lc-rs too, so one library does all RSA padding work; the
//! content key and IV come from its system RNG.

use aws_lc_rs::rsa::{
    OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256,
};
use cms::authenveloped_data::AuthEnvelopedData;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedContentInfo, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos,
};
use der::asn1::{Null, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::ber;
use super::certs;
use super::content_cipher::{self, ContentCipher};
use super::enveloped_der;
use super::error::{Result, SmimeError};
use super::keyops::random_key;
use super::mime::{self, Entity};
use super::oids;
use super::sign::enc;
use super::stream::{
    base64_lines_len, cbc_ciphertext_len, cbc_encrypt_pieces, Base64Lines, Pieces,
};

/// A recipient: the certificate plus what the recipient advertised (SMIMECapabilities of
/// its last signed mail, which [`VerifyReport`](super::VerifyReport) reports).
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The recipient's encryption certificate.
    pub cert: Certificate,
    /// The recipient advertised AES-256-GCM (AuthEnvelopedData).
    pub supports_aes256_gcm: bool,
    /// The recipient advertised RSA-OAEP.
    pub supports_oaep: bool,
}

impl From<Certificate> for Recipient {
    fn from(cert: Certificate) -> Self {
        Self {
            cert,
            supports_aes256_gcm: false,
            supports_oaep: false,
        }
    }
}

/// Which content cipher to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CipherChoice {
    /// AES-256-GCM if every recipient advertised it, else AES-256-CBC.
    #[default]
    Auto,
    /// Always this cipher (tests, administrators who know their partners).
    Fixed(ContentCipher),
}

/// Options for [`encrypt`](super::encrypt).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EncryptOptions {
    /// Content cipher selection.
    pub cipher: CipherChoice,
    /// The sender's certificate, added as a recipient when `include_sender` is set, so the
    /// sender (and the gateway's archive) can read its own mail.
    pub sender_cert: Option<Certificate>,
    /// Add `sender_cert` as a recipient (default on).
    pub include_sender: bool,
    /// Use RSA-OAEP for every recipient that advertised it (not only for id-RSAES-OAEP keys).
    pub prefer_oaep: bool,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            cipher: CipherChoice::Auto,
            sender_cert: None,
            include_sender: true,
            prefer_oaep: false,
        }
    }
}

fn oaep_sha256_params() -> Result<Any> {
    let hash = AlgorithmIdentifierOwned {
        oid: oids::SHA256,
        parameters: None,
    };
    let hash_der = hash.to_der().map_err(enc)?;
    let mgf = AlgorithmIdentifierOwned {
        oid: oids::MGF1,
        parameters: Some(Any::from_der(&hash_der).map_err(enc)?),
    }
    .to_der()
    .map_err(enc)?;
    let mut seq = ber::encode_tlv(0xa0, &hash_der);
    seq.extend_from_slice(&ber::encode_tlv(0xa1, &mgf));
    Any::from_der(&ber::encode_tlv(0x30, &seq)).map_err(enc)
}

fn recipient_info(r: &Recipient, cek: &[u8], prefer_oaep: bool) -> Result<RecipientInfo> {
    certs::check_encryption_cert(&r.cert)?;
    let tbs = r.cert.tbs_certificate();
    // aws-lc-rs reads rsaEncryption SPKIs; an id-RSAES-OAEP key has the same RSAPublicKey.
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: oids::RSA_ENCRYPTION,
            parameters: Some(Any::encode_from(&Null).map_err(enc)?),
        },
        subject_public_key: tbs.subject_public_key_info().subject_public_key.clone(),
    };
    let key = PublicEncryptingKey::from_der(&spki.to_der().map_err(enc)?).map_err(|e| {
        SmimeError::CertificateUnusable(format!("{}: RSA key rejected: {e}", tbs.subject()))
    })?;
    let oaep = certs::wants_oaep(&r.cert) || (prefer_oaep && r.supports_oaep);
    let mut out = vec![0u8; key.key_size_bytes()];
    let fail = |_| SmimeError::Encoding("RSA key transport failed".into());
    let (alg, wrapped) = if oaep {
        let k = OaepPublicEncryptingKey::new(key).map_err(fail)?;
        let w = k
            .encrypt(&OAEP_SHA256_MGF1SHA256, cek, &mut out, None)
            .map_err(fail)?
            .to_vec();
        (
            AlgorithmIdentifierOwned {
                oid: oids::RSAES_OAEP,
                parameters: Some(oaep_sha256_params()?),
            },
            w,
        )
    } else {
        let k = Pkcs1PublicEncryptingKey::new(key).map_err(fail)?;
        let w = k.encrypt(cek, &mut out).map_err(fail)?.to_vec();
        (
            AlgorithmIdentifierOwned {
                oid: oids::RSA_ENCRYPTION,
                parameters: Some(Any::encode_from(&Null).map_err(enc)?),
            },
            w,
        )
    };
    Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
        version: CmsVersion::V0,
        rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        key_enc_alg: alg,
        enc_key: OctetString::new(wrapped).map_err(enc)?,
    }))
}

/// What one encryption needs besides the content: cipher, content key, IV and the
/// RecipientInfos that carry the key to every recipient (and the sender).
struct Plan {
    cipher: ContentCipher,
    cek: Zeroizing<Vec<u8>>,
    iv: Zeroizing<Vec<u8>>,
    recip_infos: RecipientInfos,
    alg: AlgorithmIdentifierOwned,
}

fn plan(recipients: &[Recipient], opts: &EncryptOptions) -> Result<Plan> {
    let mut all: Vec<Recipient> = recipients.to_vec();
    if all.is_empty() {
        return Err(SmimeError::CertificateUnusable("no recipients".into()));
    }
    let cipher = match opts.cipher {
        CipherChoice::Fixed(c) => c,
        CipherChoice::Auto if all.iter().all(|r| r.supports_aes256_gcm) => ContentCipher::Aes256Gcm,
        CipherChoice::Auto => ContentCipher::Aes256Cbc,
    };
    if opts.include_sender {
        if let Some(s) = &opts.sender_cert {
            if !all.iter().any(|r| &r.cert == s) {
                all.push(Recipient {
                    cert: s.clone(),
                    supports_aes256_gcm: true,
                    supports_oaep: true,
                });
            }
        }
    }
    let cek = random_key(cipher.key_len())?;
    let iv = random_key(cipher.iv_len())?;
    let ris = all
        .iter()
        .map(|r| recipient_info(r, &cek, opts.prefer_oaep))
        .collect::<Result<Vec<_>>>()?;
    let recip_infos = RecipientInfos(SetOfVec::try_from(ris).map_err(enc)?);
    let alg = cipher.algorithm_identifier(&iv)?;
    tracing::debug!(
        cipher = cipher.name(),
        recipients = all.len(),
        "encrypting message"
    );
    Ok(Plan {
        cipher,
        cek,
        iv,
        recip_infos,
        alg,
    })
}

/// AuthEnvelopedData (AES-GCM) as DER: the tag covers the whole content, so this one is built
/// in memory (it is chosen only when every recipient advertised GCM).
fn auth_enveloped_der(plan: Plan, content: &[u8]) -> Result<Vec<u8>> {
    let (ct, tag) = content_cipher::gcm_encrypt(plan.cipher, &plan.cek, &plan.iv, &[], content)?;
    let aed = AuthEnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: plan.recip_infos,
        auth_encrypted_content_info: EncryptedContentInfo {
            content_type: oids::ID_DATA,
            content_enc_alg: plan.alg,
            encrypted_content: Some(OctetString::new(ct).map_err(enc)?),
        },
        auth_attrs: None,
        mac: OctetString::new(tag).map_err(enc)?,
        unauth_attrs: None,
    };
    ContentInfo {
        content_type: oids::ID_AUTH_ENVELOPED_DATA,
        content: Any::encode_from(&aed).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// The whole `application/pkcs7-mime` message: `outer` headers, and `entity` (content headers
/// and body, in pieces) encrypted. With CBC (the default) the EnvelopedData is streamed: its DER
/// header first (all lengths are known), then the ciphertext in 64 KiB steps, both base64-coded
/// straight into the output, which is reserved at its final size. So a large message costs its
/// input plus its output in memory, not five copies.
pub(crate) fn encrypt_entity(
    outer: &[u8],
    entity: &Pieces<'_>,
    recipients: &[Recipient],
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let plan = plan(recipients, opts)?;
    if plan.cipher.is_aead() {
        let der = auth_enveloped_der(plan, &entity.to_vec())?;
        return Ok(mime::pkcs7_mime_message(outer, "authEnveloped-data", &der));
    }
    let ct_len = cbc_ciphertext_len(plan.cipher, entity.len());
    let head = enveloped_der::header(&plan.recip_infos, &plan.alg, ct_len)?;
    let b64_len = base64_lines_len(head.len() + ct_len);
    let mut out = mime::pkcs7_mime_head(outer, "enveloped-data", b64_len);
    let mut b64 = Base64Lines::new(&mut out);
    b64.write(&head);
    cbc_encrypt_pieces(plan.cipher, &plan.cek, &plan.iv, entity, &mut |c| {
        b64.write(c)
    })?;
    b64.finish();
    Ok(out)
}

/// The entity to encrypt for message `e`: its content headers (a plain-text Content-Type when
/// it has none) and its body, borrowed.
fn entity_pieces<'a>(e: &Entity<'a>) -> Pieces<'a> {
    let mut head = e.content_headers();
    if e.header("Content-Type").is_none() {
        head.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let mut p = Pieces::default();
    p.owned(head);
    p.borrowed(e.body);
    p
}

/// Encrypts `msg`; see [`super::encrypt`].
pub(crate) fn encrypt(
    msg: &[u8],
    recipients: &[Recipient],
    opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    let msg = mime::crlf(msg);
    let e = Entity::parse(&msg)?;
    encrypt_entity(&e.outer_headers(), &entity_pieces(&e), recipients, opts)
}
