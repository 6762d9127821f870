//! Certificate parsing, path building to trust anchors, usage checks and address matching.
//!
//! Path building is deliberately simple (issuer/subject name match plus signature check, depth
//! limited): S/MIME chains are short and the candidates are few (the message's certificates,
//! the key store's intermediates, the anchors). Revocation is the key store's job (CRLs).

use std::time::SystemTime;

use der::{Decode, DecodePem, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::Certificate;

use super::error::{Result, SmimeError};
use super::oids;
use super::pubkey;

const MAX_CHAIN: usize = 8;

/// Parses one PEM certificate.
pub fn parse_pem(pem: &[u8]) -> Result<Certificate> {
    Certificate::from_pem(pem).map_err(|e| SmimeError::CertificateUnusable(format!("PEM: {e}")))
}

/// Parses one DER certificate.
pub fn parse_der(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| SmimeError::CertificateUnusable(format!("DER: {e}")))
}

/// Parses all certificates of a PEM bundle.
pub fn parse_pem_chain(pem: &[u8]) -> Result<Vec<Certificate>> {
    Certificate::load_pem_chain(pem)
        .map_err(|e| SmimeError::CertificateUnusable(format!("PEM: {e}")))
}

/// The subjectKeyIdentifier extension value, if present.
pub fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    match cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
    {
        Ok(Some((_, ski))) => Some(ski.0.as_bytes().to_vec()),
        _ => None,
    }
}

/// Mail addresses a certificate is issued for: rfc822Name SANs, then subject emailAddress.
pub fn email_addresses(cert: &Certificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some((_, san))) = cert.tbs_certificate().get_extension::<SubjectAltName>() {
        for gn in san.0 {
            if let GeneralName::Rfc822Name(n) = gn {
                out.push(n.to_string());
            }
        }
    }
    for atv in cert.tbs_certificate().subject().iter() {
        if atv.oid == oids::EMAIL_ADDRESS {
            if let Ok(s) = atv.value.decode_as::<der::asn1::Ia5String>() {
                out.push(s.to_string());
            }
        }
    }
    out
}

fn dns_names(cert: &Certificate) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(Some((_, san))) = cert.tbs_certificate().get_extension::<SubjectAltName>() {
        for gn in san.0 {
            if let GeneralName::DnsName(n) = gn {
                out.push(n.to_string());
            }
        }
    }
    out
}

/// How the From address relates to the signer certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressMatch {
    /// The certificate names exactly this address.
    Exact,
    /// A domain certificate covering the address's domain.
    Domain,
    /// The certificate does not cover the address (or there was no From address).
    NoMatch,
}

/// Whether `cert` covers `address` (case-insensitive), exactly or as a domain certificate
/// (an rfc822Name/emailAddress that is just the domain, `@domain` or `*@domain`, or a dNSName).
pub fn match_address(cert: &Certificate, address: &str) -> AddressMatch {
    let address = address.trim().to_ascii_lowercase();
    let Some((_, domain)) = address.rsplit_once('@') else {
        return AddressMatch::NoMatch;
    };
    let emails = email_addresses(cert);
    if emails.iter().any(|e| e.to_ascii_lowercase() == address) {
        return AddressMatch::Exact;
    }
    let domain_forms = [
        domain.to_string(),
        format!("@{domain}"),
        format!("*@{domain}"),
    ];
    if emails
        .iter()
        .map(|e| e.to_ascii_lowercase())
        .any(|e| domain_forms.contains(&e))
        || dns_names(cert)
            .iter()
            .any(|d| d.to_ascii_lowercase() == domain)
    {
        return AddressMatch::Domain;
    }
    AddressMatch::NoMatch
}

fn key_usage(cert: &Certificate) -> Option<KeyUsage> {
    match cert.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, ku))) => Some(ku),
        _ => None,
    }
}

fn eku_allows_email(cert: &Certificate) -> bool {
    match cert.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Ok(Some((_, eku))) => eku
            .0
            .iter()
            .any(|o| *o == oids::EKU_EMAIL_PROTECTION || *o == oids::EKU_ANY),
        Ok(None) => true,
        Err(_) => false,
    }
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, bc))) if bc.ca
    )
}

/// Checks that `cert` may receive encrypted mail: an RSA key and, when keyUsage is present,
/// keyEncipherment; extendedKeyUsage (if present) must allow emailProtection.
pub fn check_encryption_cert(cert: &Certificate) -> Result<()> {
    let alg = cert
        .tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .oid;
    if alg != oids::RSA_ENCRYPTION && alg != oids::RSAES_OAEP {
        return Err(SmimeError::CertificateUnusable(format!(
            "{}: only RSA key transport is supported (key algorithm {alg})",
            cert.tbs_certificate().subject()
        )));
    }
    if let Some(ku) = key_usage(cert) {
        if !ku.key_encipherment() {
            return Err(SmimeError::CertificateUnusable(format!(
                "{}: keyUsage does not allow keyEncipherment (signing-only certificate)",
                cert.tbs_certificate().subject()
            )));
        }
    }
    if !eku_allows_email(cert) {
        return Err(SmimeError::CertificateUnusable(format!(
            "{}: extendedKeyUsage does not include emailProtection",
            cert.tbs_certificate().subject()
        )));
    }
    Ok(())
}

/// Whether the certificate's key is declared for RSA-OAEP only (SPKI id-RSAES-OAEP).
pub fn wants_oaep(cert: &Certificate) -> bool {
    cert.tbs_certificate()
        .subject_public_key_info()
        .algorithm
        .oid
        == oids::RSAES_OAEP
}

fn valid_at(cert: &Certificate, t: SystemTime) -> bool {
    let v = cert.tbs_certificate().validity();
    v.not_before.to_system_time() <= t && t <= v.not_after.to_system_time()
}

/// Whether `issuer` signed `cert`.
pub fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Some(sig) = cert.signature().as_bytes() else {
        return false;
    };
    let Ok(digest) = pubkey::digest_of_signature_alg(cert.signature_algorithm()) else {
        return false;
    };
    pubkey::verify(
        issuer.tbs_certificate().subject_public_key_info(),
        cert.signature_algorithm(),
        digest,
        &tbs,
        sig,
    )
    .is_ok()
}

/// The outcome of path building and certificate checks for a signer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChainReport {
    /// Signer certificate first, then intermediates, then the anchor (if one was reached).
    pub path: Vec<Certificate>,
    /// A trust anchor was reached and every check passed.
    pub trusted: bool,
    /// Every certificate of the path is valid now.
    pub valid_now: bool,
    /// Every certificate of the path was valid at the signing time (`None`: no signing time).
    pub valid_at_signing_time: Option<bool>,
    /// Human-readable reasons why the chain is not trusted (empty when `trusted`).
    pub problems: Vec<String>,
}

/// Builds a path from `leaf` through `pool` to one of `anchors`; checks basicConstraints and
/// keyUsage of the issuers on it. Returns the path, whether it ends at an anchor, and problems.
fn build_path(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
) -> (Vec<Certificate>, Vec<String>) {
    let mut problems = Vec::new();
    let mut path = vec![leaf.clone()];
    let mut anchored = false;
    while path.len() <= MAX_CHAIN {
        let Some(current) = path.last().cloned() else {
            break;
        };
        if anchors.iter().any(|a| a == &current) {
            anchored = true;
            break;
        }
        if let Some(a) = anchors.iter().find(|a| issued_by(&current, a)) {
            path.push(a.clone());
            anchored = true;
            break;
        }
        let next = pool
            .iter()
            .find(|c| !path.contains(c) && issued_by(&current, c))
            .cloned();
        match next {
            Some(n) => {
                if !is_ca(&n) {
                    problems.push(format!(
                        "issuer {} is not a CA (basicConstraints)",
                        n.tbs_certificate().subject()
                    ));
                }
                path.push(n);
            }
            None => break,
        }
    }
    if !anchored {
        problems.push("no path to a trusted root certificate".into());
    }
    for issuer in path.iter().skip(1) {
        if let Some(ku) = key_usage(issuer) {
            if !ku.key_cert_sign() {
                problems.push(format!(
                    "issuer {} may not sign certificates (keyUsage)",
                    issuer.tbs_certificate().subject()
                ));
            }
        }
    }
    (path, problems)
}

/// Checks a certificate found for encryption (e.g. in an LDAP directory): a path to one of
/// `anchors` through `pool`, every certificate on it valid `now`, and the leaf usable for
/// encryption ([`check_encryption_cert`]). Returns the problems (empty: usable).
pub fn check_encryption_chain(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    now: SystemTime,
) -> Vec<String> {
    let (path, mut problems) = build_path(leaf, pool, anchors);
    if !path.iter().all(|c| valid_at(c, now)) {
        problems.push("a certificate of the chain is expired or not yet valid".into());
    }
    if let Err(e) = check_encryption_cert(leaf) {
        problems.push(e.to_string());
    }
    problems
}

/// Builds a path from `leaf` through `pool` to one of `anchors` and checks it for S/MIME
/// signing: validity (now and at the signing time), basicConstraints on issuers, keyUsage
/// (digitalSignature or nonRepudiation) and extendedKeyUsage (emailProtection) on the leaf.
pub fn check_signer_chain(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    signing_time: Option<SystemTime>,
    now: SystemTime,
) -> ChainReport {
    let (path, mut problems) = build_path(leaf, pool, anchors);
    if let Some(ku) = key_usage(leaf) {
        if !ku.digital_signature() && !ku.non_repudiation() {
            problems.push("signer certificate keyUsage does not allow signatures".into());
        }
    }
    if !eku_allows_email(leaf) {
        problems.push("signer certificate extendedKeyUsage lacks emailProtection".into());
    }
    let valid_now = path.iter().all(|c| valid_at(c, now));
    if !valid_now {
        problems.push("a certificate of the chain is expired or not yet valid".into());
    }
    let valid_at_signing_time = signing_time.map(|t| path.iter().all(|c| valid_at(c, t)));
    if valid_at_signing_time == Some(false) {
        problems.push("a certificate of the chain was not valid at the signing time".into());
    }
    ChainReport {
        trusted: problems.is_empty(),
        path,
        valid_now,
        valid_at_signing_time,
        problems,
    }
}
