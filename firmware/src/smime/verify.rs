//! Signature verification: clear-signed (`multipart/signed`) and opaque (`signed-data`).
//!
//! The signature over signed attributes is checked over the attribute bytes as received
//! (RFC 5652 §5.4, re-tagged as SET OF), not over a re-encoding; clear-signed content is
//! canonicalised to CRLF first because OpenSSL writes LF line endings.

use std::time::SystemTime;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{OctetString, UtcTime};
use der::{Decode, Encode, EncodingRules};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier};
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::ber;
use super::certs::{self, AddressMatch, ChainReport};
use super::error::{Result, SmimeError};
use super::mime::{self, Entity};
use super::oids;
use super::pubkey::{self, DigestAlgorithm};

/// What a signer advertised in SMIMECapabilities (RFC 8551 §2.5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Algorithm identifiers in the signer's order of preference.
    pub algorithms: Vec<ObjectIdentifier>,
}

impl Capabilities {
    /// The signer can read AES-256-GCM AuthEnvelopedData.
    pub fn aes256_gcm(&self) -> bool {
        self.algorithms.contains(&oids::AES256_GCM)
    }
    /// The signer can read RSA-OAEP key transport.
    pub fn rsa_oaep(&self) -> bool {
        self.algorithms.contains(&oids::RSAES_OAEP)
    }
}

/// The result for one SignerInfo.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignerReport {
    /// The signer certificate, if found.
    pub certificate: Option<Certificate>,
    /// `Ok` when the signature and message digest verify.
    pub signature: core::result::Result<(), SmimeError>,
    /// The digest algorithm the signer used.
    pub digest: Option<DigestAlgorithm>,
    /// The signingTime attribute.
    pub signing_time: Option<SystemTime>,
    /// Path building and certificate checks (None when the certificate is missing).
    pub chain: Option<ChainReport>,
    /// Whether the From address matches the certificate.
    pub address_match: AddressMatch,
    /// The signer's SMIMECapabilities.
    pub capabilities: Capabilities,
    /// Warnings that do not invalidate the signature (weak digest ...).
    pub warnings: Vec<String>,
}

impl SignerReport {
    /// Signature valid and chain trusted.
    pub fn is_valid(&self) -> bool {
        self.signature.is_ok() && self.chain.as_ref().is_some_and(|c| c.trusted)
    }
}

/// The result of verifying one signature layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyReport {
    /// One report per SignerInfo.
    pub signers: Vec<SignerReport>,
    /// All certificates found in the message (for harvesting).
    pub certificates: Vec<Certificate>,
    /// The message without this signature layer: outer headers plus the signed entity.
    pub content: Vec<u8>,
    /// Clear-signed (`multipart/signed`) rather than opaque.
    pub detached: bool,
}

impl VerifyReport {
    /// At least one signer, and every signer valid with a trusted chain.
    pub fn is_valid(&self) -> bool {
        !self.signers.is_empty() && self.signers.iter().all(SignerReport::is_valid)
    }

    /// The first reason why the layer is not valid, as a typed error.
    pub fn ensure_valid(&self) -> Result<()> {
        if self.signers.is_empty() {
            return Err(SmimeError::BadSignature("no signer".into()));
        }
        for s in &self.signers {
            s.signature.clone()?;
            match &s.chain {
                None => return Err(SmimeError::SignerCertificateMissing),
                Some(c) if !c.trusted => {
                    return Err(SmimeError::UntrustedChain(c.problems.join("; ")))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

fn attr(si: &SignerInfo, oid: ObjectIdentifier) -> Option<&der::Any> {
    si.signed_attrs
        .as_ref()?
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.iter().next())
}

fn find_cert<'a>(sid: &SignerIdentifier, pool: &'a [Certificate]) -> Option<&'a Certificate> {
    pool.iter().find(|c| match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            &ias.issuer == c.tbs_certificate().issuer()
                && &ias.serial_number == c.tbs_certificate().serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            certs::subject_key_id(c).is_some_and(|k| k.as_slice() == ski.0.as_bytes())
        }
    })
}

struct Context<'a> {
    anchors: &'a [Certificate],
    extra: &'a [Certificate],
    now: SystemTime,
    from: Option<String>,
}

fn check_signer(
    si: &SignerInfo,
    attr_encodings: &[Vec<u8>],
    content: &[u8],
    econtent_type: ObjectIdentifier,
    pool: &[Certificate],
    ctx: &Context<'_>,
) -> SignerReport {
    let mut report = SignerReport {
        certificate: None,
        signature: Ok(()),
        digest: None,
        signing_time: None,
        chain: None,
        address_match: AddressMatch::NoMatch,
        capabilities: Capabilities::default(),
        warnings: Vec::new(),
    };
    read_attributes(si, &mut report);
    report.signature = check_signature(
        si,
        attr_encodings,
        content,
        econtent_type,
        pool,
        &mut report,
    );
    if let Some(cert) = &report.certificate {
        let mut chain_pool: Vec<Certificate> = pool.to_vec();
        chain_pool.extend(ctx.extra.iter().cloned());
        report.chain = Some(certs::check_signer_chain(
            cert,
            &chain_pool,
            ctx.anchors,
            report.signing_time,
            ctx.now,
        ));
        if let Some(from) = &ctx.from {
            report.address_match = certs::match_address(cert, from);
        }
    }
    report
}

/// The signing time and the S/MIME capabilities from the signed attributes.
fn read_attributes(si: &SignerInfo, report: &mut SignerReport) {
    if let Some(t) = attr(si, oids::ATTR_SIGNING_TIME).and_then(|a| a.decode_as::<Time>().ok()) {
        report.signing_time = Some(t.to_system_time());
    } else if let Some(t) =
        attr(si, oids::ATTR_SIGNING_TIME).and_then(|a| a.decode_as::<UtcTime>().ok())
    {
        report.signing_time = Some(t.to_system_time());
    }
    if let Some(caps) = attr(si, oids::ATTR_SMIME_CAPABILITIES)
        .and_then(|a| a.decode_as::<Vec<AlgorithmIdentifierOwned>>().ok())
    {
        report.capabilities.algorithms = caps.into_iter().map(|c| c.oid).collect();
    }
}

/// The signature itself (RFC 5652 §5.4, §5.6): digest algorithm, signer certificate from the
/// pool, then the signed attributes (message digest, content type) or the content. Records the
/// digest algorithm, a weak-digest warning and the certificate in `report` on the way.
fn check_signature(
    si: &SignerInfo,
    attr_encodings: &[Vec<u8>],
    content: &[u8],
    econtent_type: ObjectIdentifier,
    pool: &[Certificate],
    report: &mut SignerReport,
) -> Result<()> {
    let digest = DigestAlgorithm::from_oid(&si.digest_alg.oid)?;
    report.digest = Some(digest);
    if digest.is_weak() {
        report
            .warnings
            .push("the signature uses SHA-1, which is weak (collisions are practical)".into());
    }
    let cert = find_cert(&si.sid, pool).ok_or(SmimeError::SignerCertificateMissing)?;
    report.certificate = Some(cert.clone());
    let spki = cert.tbs_certificate().subject_public_key_info();
    if si.signed_attrs.is_none() {
        return pubkey::verify(
            spki,
            &si.signature_algorithm,
            digest,
            content,
            si.signature.as_bytes(),
        );
    }
    let content_digest = digest.hash(content);
    let md = attr(si, oids::ATTR_MESSAGE_DIGEST)
        .ok_or_else(|| SmimeError::MalformedCms("messageDigest attribute missing".into()))?
        .decode_as::<OctetString>()?;
    if md.as_bytes() != content_digest.as_slice() {
        return Err(SmimeError::DigestMismatch);
    }
    let ct = attr(si, oids::ATTR_CONTENT_TYPE)
        .ok_or_else(|| SmimeError::MalformedCms("contentType attribute missing".into()))?
        .decode_as::<ObjectIdentifier>()?;
    if ct != econtent_type {
        return Err(SmimeError::BadSignature(
            "contentType attribute differs from the content type".into(),
        ));
    }
    // The attributes as received first (RFC 5652 §5.4: the signer signed their DER
    // encoding; a signer that sent them unsorted or in BER signed what it sent, or
    // the DER form). Every candidate encodes the same decoded attributes, so trying
    // them cannot make different attribute values acceptable.
    let mut candidates: Vec<Vec<u8>> = attr_encodings.to_vec();
    if let Some(a) = &si.signed_attrs {
        candidates.push(a.to_der()?);
    }
    candidates.dedup();
    let mut last = SmimeError::BadSignature("no signed attributes".into());
    for bytes in &candidates {
        match pubkey::verify(
            spki,
            &si.signature_algorithm,
            digest,
            bytes,
            si.signature.as_bytes(),
        ) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Verifies a CMS SignedData (DER or BER). `detached` is the signed content of a
/// clear-signed message; for opaque signatures the content is taken from the SignedData.
/// Returns the report (with an empty `content`) and the signed content.
fn verify_cms<'d>(
    cms_bytes: &[u8],
    detached: Option<&'d [u8]>,
    ctx: &Context<'_>,
) -> Result<(VerifyReport, std::borrow::Cow<'d, [u8]>)> {
    let (normalised, sd) = decode_signed_data(cms_bytes)?;
    let received = ber::raw_signed_attrs(cms_bytes).unwrap_or_default();
    let reencoded = ber::raw_signed_attrs(&normalised).unwrap_or_default();
    let content = match detached {
        Some(d) => std::borrow::Cow::Borrowed(d),
        None => std::borrow::Cow::Owned(encapsulated_content(&sd)?),
    };
    let pool: Vec<Certificate> = sd
        .certificates
        .as_ref()
        .map(|cs| {
            cs.0.iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut lookup = pool.clone();
    lookup.extend(ctx.extra.iter().cloned());
    let signers = sd
        .signer_infos
        .0
        .iter()
        .enumerate()
        .map(|(i, si)| {
            let encodings: Vec<Vec<u8>> = [received.get(i), reencoded.get(i)]
                .into_iter()
                .flatten()
                .flatten()
                .cloned()
                .collect();
            check_signer(
                si,
                &encodings,
                &content,
                sd.encap_content_info.econtent_type,
                &lookup,
                ctx,
            )
        })
        .collect();
    Ok((
        VerifyReport {
            signers,
            certificates: pool,
            content: Vec::new(),
            detached: detached.is_some(),
        },
        content,
    ))
}

/// The kind of signature layer an entity is.
pub(crate) enum SignedKind {
    Detached,
    Opaque,
}

pub(crate) fn signed_kind(e: &Entity<'_>) -> Option<SignedKind> {
    let ct = e.content_type();
    if ct.mime == "multipart/signed" {
        return Some(SignedKind::Detached);
    }
    let is_p7m = ct.mime == "application/pkcs7-mime" || ct.mime == "application/x-pkcs7-mime";
    let st = ct.param("smime-type").unwrap_or("").to_ascii_lowercase();
    if is_p7m && st == "signed-data" {
        return Some(SignedKind::Opaque);
    }
    if is_p7m && st.is_empty() {
        let is_signed = e
            .decoded_body()
            .ok()
            .and_then(|b| ber::to_der(&b).ok())
            .and_then(|b| ContentInfo::from_ber(&b).ok())
            .is_some_and(|ci| ci.content_type == oids::ID_SIGNED_DATA);
        if is_signed {
            return Some(SignedKind::Opaque);
        }
    }
    None
}

/// The two parts of a `multipart/signed` entity: the signed part as it stands (raw) and
/// the decoded signature.
fn detached_parts<'a>(e: &Entity<'a>, max_parts: usize) -> Result<(&'a [u8], Vec<u8>)> {
    let ct = e.content_type();
    let boundary = ct
        .param("boundary")
        .ok_or_else(|| SmimeError::MalformedMime("multipart/signed without boundary".into()))?;
    let (parts, _, _) = mime::split_multipart(e.body, boundary, max_parts)?;
    let [signed, sig] = parts.as_slice() else {
        return Err(SmimeError::MalformedMime(format!(
            "multipart/signed with {} parts instead of 2",
            parts.len()
        )));
    };
    let sig_entity = Entity::parse(sig.raw)?;
    let sig_ct = sig_entity.content_type().mime;
    if sig_ct != "application/pkcs7-signature" && sig_ct != "application/x-pkcs7-signature" {
        return Err(SmimeError::NotSmime(format!(
            "signature part is {sig_ct}, not application/pkcs7-signature"
        )));
    }
    Ok((signed.raw, sig_entity.decoded_body()?))
}

/// Decodes a ContentInfo holding SignedData, DER or BER. It is made DER-shaped first (see
/// `ber`: joined content chunks, definite lengths) and decoded with BER rules all the same,
/// because DER rules re-sort SET OF elements and the SignerInfos must keep the order in which
/// their raw attributes are found. Returns the normalised bytes too.
fn decode_signed_data(cms_bytes: &[u8]) -> Result<(Vec<u8>, SignedData)> {
    let normalised = ber::to_der(cms_bytes)?;
    let ci = ContentInfo::from_ber(&normalised)?;
    if ci.content_type != oids::ID_SIGNED_DATA {
        return Err(SmimeError::NotSmime(format!(
            "CMS content type {} is not signed data",
            ci.content_type
        )));
    }
    let sd: SignedData = ci.content.decode_as_encoding(EncodingRules::Ber)?;
    Ok((normalised, sd))
}

/// The content inside an opaque signature.
fn encapsulated_content(sd: &SignedData) -> Result<Vec<u8>> {
    match &sd.encap_content_info.econtent {
        Some(e) if der::Tagged::tag(e) == der::Tag::OctetString => Ok(e.value().to_vec()),
        Some(e) => Err(SmimeError::MalformedCms(format!(
            "signed content is {} instead of an OCTET STRING",
            der::Tagged::tag(e)
        ))),
        None => Err(SmimeError::MalformedCms(
            "detached signature without the signed content".into(),
        )),
    }
}

/// The message inside a signature layer (outer headers plus the signed entity) *without*
/// checking the signature: for looking inside (is there an encrypted entity?) before the
/// layers are verified one by one.
pub(crate) fn signed_content(msg: &[u8], max_parts: usize) -> Result<Vec<u8>> {
    let e = Entity::parse(msg)?;
    let inner = match signed_kind(&e) {
        Some(SignedKind::Detached) => mime::to_crlf(detached_parts(&e, max_parts)?.0),
        Some(SignedKind::Opaque) => mime::to_crlf(&encapsulated_content(
            &decode_signed_data(&e.decoded_body()?)?.1,
        )?),
        None => return Err(SmimeError::NotSmime("not an S/MIME signed message".into())),
    };
    Ok(mime::join_outer(&e.outer_headers(), &inner))
}

/// Verifies the signature layer that `msg` (a message or entity) is.
pub(crate) fn verify(
    msg: &[u8],
    anchors: &[Certificate],
    extra_certs: &[Certificate],
    now: SystemTime,
    max_parts: usize,
) -> Result<VerifyReport> {
    let e = Entity::parse(msg)?;
    let ctx = Context {
        anchors,
        extra: extra_certs,
        now,
        from: mime::from_address(msg),
    };
    match signed_kind(&e) {
        Some(SignedKind::Detached) => {
            let (signed, der) = detached_parts(&e, max_parts)?;
            let canonical = mime::crlf(signed);
            let (mut report, content) = verify_cms(&der, Some(&canonical), &ctx)?;
            report.content = mime::join_outer(&e.outer_headers(), &content);
            Ok(report)
        }
        Some(SignedKind::Opaque) => {
            let der = e.decoded_body()?;
            let (mut report, content) = verify_cms(&der, None, &ctx)?;
            let inner = mime::crlf(&content);
            report.content = mime::join_outer(&e.outer_headers(), &inner);
            Ok(report)
        }
        None => Err(SmimeError::NotSmime("not an S/MIME signed message".into())),
    }
}
