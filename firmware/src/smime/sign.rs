//! Clear-signing (RFC 8551 §3.5.3): `multipart/signed` with a detached CMS SignedData.
//!
//! The visible headers (From, To, Subject, Date, Message-ID ...) stay outside; the content
//! headers and the body become the signed entity, in canonical form (CRLF, 7-bit-safe) so the
//! signature survives relays. The signer is identified by issuer and serial number, because
//! gpgsm 2.2 cannot find a signer by subjectKeyIdentifier.

use std::time::SystemTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Null, OctetString, SetOfVec, UtcTime};
use der::{Any, Encode};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

use super::error::{Result, SmimeError};
use super::keyops::{PrivateKeyOps, SignatureScheme};
use super::mime::{self, Entity};
use super::oids;
use super::pubkey::DigestAlgorithm;
use super::stream::Pieces;

/// Options for [`sign`](super::sign).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignOptions {
    /// The signingTime attribute; `None` means now.
    pub signing_time: Option<SystemTime>,
    /// Include the chain certificates (besides the signer's own).
    pub include_chain: bool,
    /// Maximum MIME nesting when making the entity 7-bit safe.
    pub max_depth: usize,
}

impl Default for SignOptions {
    fn default() -> Self {
        Self {
            signing_time: None,
            include_chain: true,
            max_depth: 16,
        }
    }
}

pub(crate) fn enc(e: der::Error) -> SmimeError {
    SmimeError::Encoding(e.to_string())
}

fn attribute(oid: der::oid::ObjectIdentifier, value: Any) -> Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(enc)?,
    })
}

/// SMIMECapabilities in order of preference (RFC 8551 §2.5.2): what we can decrypt.
fn capabilities() -> Result<Any> {
    let caps: Vec<AlgorithmIdentifierOwned> = [
        oids::AES256_GCM,
        oids::AES256_CBC,
        oids::AES128_CBC,
        oids::RSAES_OAEP,
    ]
    .into_iter()
    .map(|oid| AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    })
    .collect();
    Any::encode_from(&caps).map_err(enc)
}

/// The canonical signed entity (content headers and body) and the outer headers of `msg`.
/// A message that is canonical already (CRLF, 7-bit-safe: what a large attachment in base64
/// is) keeps its body borrowed; anything else is rewritten into one owned piece.
pub(crate) fn split_for_signing(msg: &[u8], max_depth: usize) -> Result<(Vec<u8>, Pieces<'_>)> {
    if mime::is_crlf(msg) {
        let e = Entity::parse(msg)?;
        let head = entity_head(&e);
        if mime::is_7bit_safe(&head) && mime::is_7bit_safe(e.body) {
            let mut entity = Pieces::default();
            entity.owned(head);
            entity.borrowed(e.body);
            return Ok((e.outer_headers(), entity));
        }
    }
    let msg = mime::to_crlf(msg);
    let e = Entity::parse(&msg)?;
    let mut entity = entity_head(&e);
    entity.extend_from_slice(e.body);
    let mut pieces = Pieces::default();
    pieces.owned(mime::make_7bit(&entity, 0, max_depth)?);
    Ok((e.outer_headers(), pieces))
}

/// The content headers of `e` and the empty line that ends them (a plain-text Content-Type
/// when it has none and its body is ASCII).
fn entity_head(e: &Entity<'_>) -> Vec<u8> {
    let mut head = e.content_headers();
    if e.header("Content-Type").is_none() && e.body.iter().all(|b| *b < 0x80) {
        head.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Builds a detached SignedData (DER) over `content`.
pub(crate) fn signed_data(
    content: &Pieces<'_>,
    signer: &dyn PrivateKeyOps,
    chain: &[Certificate],
    opts: &SignOptions,
) -> Result<Vec<u8>> {
    let digest = DigestAlgorithm::Sha256;
    let cert = signer.certificate();
    let time = UtcTime::from_system_time(opts.signing_time.unwrap_or_else(SystemTime::now))
        .map_err(enc)?;
    let mut hasher = sha2::Sha256::new();
    for piece in content.iter() {
        hasher.update(piece);
    }
    let md = OctetString::new(hasher.finalize().to_vec()).map_err(enc)?;
    let attrs = vec![
        attribute(
            oids::ATTR_CONTENT_TYPE,
            Any::encode_from(&oids::ID_DATA).map_err(enc)?,
        )?,
        attribute(
            oids::ATTR_SIGNING_TIME,
            Any::encode_from(&time).map_err(enc)?,
        )?,
        attribute(
            oids::ATTR_MESSAGE_DIGEST,
            Any::encode_from(&md).map_err(enc)?,
        )?,
        attribute(oids::ATTR_SMIME_CAPABILITIES, capabilities()?)?,
    ];
    let signed_attrs = SetOfVec::try_from(attrs).map_err(enc)?;
    // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF.
    let tbs = signed_attrs.to_der().map_err(enc)?;
    let signature = signer.sign(SignatureScheme::RsaPkcs1Sha256, &tbs)?;

    let null = Some(Any::encode_from(&Null).map_err(enc)?);
    let digest_alg = AlgorithmIdentifierOwned {
        oid: digest.oid(),
        parameters: None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: digest_alg.clone(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: oids::RSA_ENCRYPTION,
            parameters: null,
        },
        signature: OctetString::new(signature).map_err(enc)?,
        unsigned_attrs: None,
    };
    let mut certs = vec![CertificateChoices::Certificate(cert.clone())];
    if opts.include_chain {
        for c in chain.iter().filter(|c| *c != cert) {
            certs.push(CertificateChoices::Certificate(c.clone()));
        }
    }
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![digest_alg]).map_err(enc)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oids::ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certs).map_err(enc)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(enc)?),
    };
    let ci = ContentInfo {
        content_type: oids::ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(enc)?,
    };
    ci.to_der().map_err(enc)
}

/// Clear-signs `msg`; see [`super::sign`].
pub(crate) fn sign(
    msg: &[u8],
    signer: &dyn PrivateKeyOps,
    chain: &[Certificate],
    opts: &SignOptions,
) -> Result<Vec<u8>> {
    let (outer, body) = sign_parts(msg, signer, chain, opts)?;
    Ok(super::stream::join_outer_pieces(&outer, &body))
}

/// The outer headers of `msg` and its clear-signed `multipart/signed` entity (headers and
/// body) in pieces, the signed content borrowed from `msg` where possible: sign-and-encrypt
/// encrypts these pieces without joining them first.
pub(crate) fn sign_parts<'a>(
    msg: &'a [u8],
    signer: &dyn PrivateKeyOps,
    chain: &[Certificate],
    opts: &SignOptions,
) -> Result<(Vec<u8>, Pieces<'a>)> {
    let (outer, entity) = split_for_signing(msg, opts.max_depth)?;
    let der = signed_data(&entity, signer, chain, opts)?;
    let boundary = mime::new_boundary()?;
    let mut head = Vec::with_capacity(300);
    mime::write_header(
        &mut head,
        "Content-Type",
        &format!(
            "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg={}; boundary=\"{boundary}\"",
            DigestAlgorithm::Sha256.micalg()
        ),
    );
    head.extend_from_slice(
        b"\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n",
    );
    head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    let mut tail = Vec::with_capacity(der.len() * 4 / 3 + 400);
    tail.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    mime::write_header(
        &mut tail,
        "Content-Type",
        "application/pkcs7-signature; name=\"smime.p7s\"",
    );
    mime::write_header(&mut tail, "Content-Transfer-Encoding", "base64");
    mime::write_header(
        &mut tail,
        "Content-Disposition",
        "attachment; filename=\"smime.p7s\"",
    );
    mime::write_header(
        &mut tail,
        "Content-Description",
        "S/MIME Cryptographic Signature",
    );
    tail.extend_from_slice(b"\r\n");
    mime::append_base64_lines(&mut tail, &der);
    tail.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    tracing::debug!(bytes = entity.len(), "signed message");
    let mut body = Pieces::default();
    body.owned(head);
    body.append(entity);
    body.owned(tail);
    Ok((outer, body))
}
